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

// The fiber's id travels in the callback's context pointer.
static_assert(sizeof(void*) >= sizeof(FiberId));

void ScopeRegistrations::add(const CancelToken& t, FiberId id) {
  // Runs on whichever thread cancels the token (inline here if it already is): a cancel of
  // the fiber's outstanding call, with the token's reason.
  CancelCallback::PlainFn fn = [](void* ctx, bool timed_out) noexcept {
    auto fiber = static_cast<FiberId>(reinterpret_cast<std::uintptr_t>(ctx));
    (void)cancel_call(fiber, timed_out ? CallState::timed_out : CallState::cancelled);
  };
  void* ctx = reinterpret_cast<void*>(static_cast<std::uintptr_t>(to_integer(id)));
  if (count_ < kInline) {
    new (inline_[count_]) CancelCallback(t, fn, ctx);
    ++count_;
  } else {
    more_.push_back(std::make_unique<CancelCallback>(t, fn, ctx));
  }
}

void ScopeRegistrations::clear_all() noexcept {
  while (!more_.empty()) more_.pop_back();
  while (count_ > 0) at(--count_)->~CancelCallback();
}

void scope_register(Fiber* f, ScopeRegistrations& out) {
  FiberId id = f->id;
  auto add = [&](const CancelToken& t) {
    if (t.can_be_cancelled()) out.add(t, id);
  };
  if (f->call_token) add(*f->call_token);
  for_each_scope_token(f, add);
}

}  // namespace weft::detail
