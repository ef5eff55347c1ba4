// weft::detail — the runtime's logging. Never called on a hot path.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <utility>

namespace weft::detail {

struct Fiber;

// How every line that concerns a fiber names it: "fiber 42 (acceptor)" — its id and its name
// (the spawning function's when none was given). Lines that concern a runtime begin
// "runtime N: " (the index dumps and metrics use).
std::string fiber_label(const Fiber& f);

// The logger named "weft": the application's (set_logger) or a stderr logger whose level
// comes from WEFT_LOG (trace, debug, info, warn, error, critical, off; default warn).
std::shared_ptr<spdlog::logger> logger();

template <class... A>
void log_debug(spdlog::format_string_t<A...> f, A&&... a) {
  logger()->debug(f, std::forward<A>(a)...);
}
template <class... A>
void log_info(spdlog::format_string_t<A...> f, A&&... a) {
  logger()->info(f, std::forward<A>(a)...);
}
template <class... A>
void log_warn(spdlog::format_string_t<A...> f, A&&... a) {
  logger()->warn(f, std::forward<A>(a)...);
}
template <class... A>
void log_error(spdlog::format_string_t<A...> f, A&&... a) {
  logger()->error(f, std::forward<A>(a)...);
}
template <class... A>
void log_critical(spdlog::format_string_t<A...> f, A&&... a) {
  auto l = logger();
  l->critical(f, std::forward<A>(a)...);
  l->flush();
}

}  // namespace weft::detail
