#include "scope.hpp"

#include "blocking.hpp"

namespace weft::detail {

std::error_code scope_check(Fiber* f) noexcept {
  std::error_code found;
  for_each_scope_token(f, [&](const CancelToken& t) {
    if (!found && t.cancel_requested()) found = t.reason();
  });
  return found;
}

void scope_register(Fiber* f, ScopeRegistrations& out) {
  FiberId id = f->id;
  auto add = [&](const CancelToken& t) {
    if (!t.can_be_cancelled()) return;
    // Runs on whichever thread cancels the token (inline here if it already is): a cancel of
    // this fiber's outstanding call, with the token's reason.
    out.push_back(std::make_unique<CancelCallback>(t, [id, t] {
      (void)cancel_call(id, t.reason() == wsa::etimedout ? CallState::timed_out
                                                          : CallState::cancelled);
    }));
  };
  if (f->call_token) add(*f->call_token);
  for_each_scope_token(f, add);
}

}  // namespace weft::detail
