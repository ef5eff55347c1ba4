#include "log.hpp"

#include "fiber.hpp"

#include <weft/log.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <mutex>
#include <string_view>

namespace weft {
namespace {

std::mutex g_mu;
std::shared_ptr<spdlog::logger>* g_logger = nullptr;  // guarded by g_mu; never freed

std::shared_ptr<spdlog::logger> make_default() {
  auto l = std::make_shared<spdlog::logger>(
      "weft", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  l->set_level(spdlog::level::warn);
  if (const char* env = std::getenv("WEFT_LOG")) {
    std::string_view v(env);
    for (int i = spdlog::level::trace; i <= spdlog::level::off; ++i) {
      auto lvl = static_cast<spdlog::level::level_enum>(i);
      auto name = spdlog::level::to_string_view(lvl);
      if (v == std::string_view(name.data(), name.size()) ||
          (v == "warn" && i == spdlog::level::warn)) {
        l->set_level(lvl);
      }
    }
  }
  return l;
}

}  // namespace

void set_logger(std::shared_ptr<spdlog::logger> logger) {
  std::lock_guard lock(g_mu);
  if (!g_logger) g_logger = new std::shared_ptr<spdlog::logger>;
  *g_logger = logger ? std::move(logger) : make_default();
}

std::shared_ptr<spdlog::logger> get_logger() { return detail::logger(); }

namespace detail {

std::string fiber_label(const Fiber& f) {
  return "fiber " + std::to_string(to_integer(f.id)) + " (" + f.display_name() + ")";
}

std::shared_ptr<spdlog::logger> logger() {
  std::lock_guard lock(g_mu);
  if (!g_logger) g_logger = new std::shared_ptr<spdlog::logger>(make_default());
  return *g_logger;
}

}  // namespace detail
}  // namespace weft
