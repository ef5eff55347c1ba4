#include "scope.hpp"

#include "blocking.hpp"

#include <cstdint>

namespace weft::detail {

std::error_code scope_check(Fiber* f) noexcept {
  std::error_code found;
  for_each_scope_token(f, [&](const CancelToken& t) {
    if (!found && t.cancel_requested()) found = t.reason();
  });
  return found;
}

void ScopeRegistrations::add(const CancelToken& t, Fiber* f) {
  // Runs on whichever thread cancels the token (inline here if it already is): a cancel of
  // the fiber's outstanding call, with the token's reason. The fiber outlives the call (a
  // callback running elsewhere is waited for when the registration goes, before the call
  // ends), so its record may be read from any thread; on the fiber's own thread — a token
  // cancelled by a fiber of its runtime, a fan-out — the outcome is fixed without looking
  // the fiber up by id.
  CancelCallback::PlainFn fn = [](void* ctx, bool timed_out) noexcept {
    auto* fiber = static_cast<Fiber*>(ctx);
    CallState how = timed_out ? CallState::timed_out : CallState::cancelled;
    if (tls_runtime == fiber->rt) {
      (void)cancel_local(fiber, how);
    } else {
      (void)cancel_call(fiber->id, how);
    }
  };
  // Borrowed: t's state outlives the registration (the call's token parameter, or a scope
  // of this fiber, which ends only after the calls inside it).
  if (count_ < kInline) {
    new (inline_[count_]) CancelCallback(CancelCallback::Borrowed{}, t, fn, f);
    ++count_;
  } else {
    more_.push_back(std::unique_ptr<CancelCallback>(
        new CancelCallback(CancelCallback::Borrowed{}, t, fn, f)));
  }
}

void ScopeRegistrations::clear_all() noexcept {
  while (!more_.empty()) more_.pop_back();
  while (count_ > 0) at(--count_)->~CancelCallback();
}

void scope_register(Fiber* f, ScopeRegistrations& out) {
  auto add = [&](const CancelToken& t) {
    if (t.can_be_cancelled()) out.add(t, f);
  };
  if (f->call_token) add(*f->call_token);
  for_each_scope_token(f, add);
}

}  // namespace weft::detail
