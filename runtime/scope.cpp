#include "scope.hpp"

#include "blocking.hpp"

#include <cstdint>

namespace weft::detail {
namespace {

// What a token's cancel fixes a registered call's outcome to.
CallState outcome_of(bool timed_out) noexcept {
  return timed_out ? CallState::timed_out : CallState::cancelled;
}

// The affinity a runtime's registrations carry (CancelCallback::affinity_): 0 is none.
std::uint32_t affinity_of(const RuntimeImpl* rt) noexcept { return rt ? rt->index() + 1 : 0; }

}  // namespace

std::error_code scope_check(Fiber* f) noexcept {
  std::error_code found;
  for_each_scope_token(f, [&](const CancelToken& t) {
    if (!found && t.cancel_requested()) found = t.reason();
  });
  return found;
}

void CallRegistrations::add(const CancelToken& t, Fiber* f) {
  // Runs on whichever thread cancels the token (inline here if it already is): a cancel of
  // the fiber's outstanding call, with the token's reason. The fiber outlives the call (a
  // callback running elsewhere is waited for when the registration goes, before the call
  // ends), so its record may be read from any thread; on the fiber's own thread — a token
  // cancelled by a fiber of its runtime, a fan-out — the outcome is fixed without looking
  // the fiber up by id.
  CancelCallback::PlainFn fn = [](void* ctx, bool timed_out) noexcept {
    auto* fiber = static_cast<Fiber*>(ctx);
    const CallState how = outcome_of(timed_out);
    if (tls_runtime == fiber->rt) {
      (void)cancel_local(fiber, how);
    } else {
      (void)cancel_call(fiber->id, how);
    }
  };
  // Borrowed: t's state outlives the registration (the call's token parameter, or a scope
  // of this fiber, which ends only after the calls inside it).
  const std::uint32_t affinity = affinity_of(f->rt);
  if (count_ < kInline) {
    new (inline_[count_]) CancelCallback(CancelCallback::Borrowed{}, t, fn, f, affinity);
    ++count_;
  } else {
    more_.push_back(std::unique_ptr<CancelCallback>(
        new CancelCallback(CancelCallback::Borrowed{}, t, fn, f, affinity)));
  }
}

std::uint32_t CallRegistrations::thread_affinity() noexcept { return affinity_of(tls_runtime); }

std::uint32_t CallRegistrations::cancel_here(CancelCallback** run, std::uint32_t avail,
                                              std::uint32_t max, std::uint32_t affinity,
                                              bool timed_out) noexcept {
  const CallState how = outcome_of(timed_out);
  // Three stages ahead, each needing the line the one before loaded: the callback (in its
  // fiber's record) 12 places ahead, the record's first line 8 ahead (found in the callback),
  // the outcome word 4 ahead (found in the record). Only the runtime's own registrations of
  // this thread are followed into a record: another callback's context is not a fiber. All
  // are registered (the lock is held), so each pointer read is alive.
  constexpr std::uint32_t kCallback = 12, kRecord = 8, kWord = 4;
  auto ours = [affinity](const CancelCallback* cb) { return cb && cb->affinity_ == affinity; };
  auto look_ahead = [&](std::uint32_t k) {
    if (k + kCallback < avail) __builtin_prefetch(run[k + kCallback]);
    if (k + kRecord < avail && ours(run[k + kRecord])) __builtin_prefetch(run[k + kRecord]->ctx_);
    if (k + kWord < avail && ours(run[k + kWord])) {
      __builtin_prefetch(&static_cast<Fiber*>(run[k + kWord]->ctx_)->slot->word, 1);
    }
  };
  const std::uint32_t n = avail < max ? avail : max;
  std::uint32_t k = 0;
  for (; k < n; ++k) {
    look_ahead(k);
    CancelCallback* cb = run[k];
    if (!cb) continue;
    if (cb->affinity_ != affinity) break;
    run[k] = nullptr;
    cb->index_ = CancelCallback::kUnlinked;
    (void)cancel_local(static_cast<Fiber*>(cb->ctx_), how);
    cb->done_.store(true, std::memory_order_release);
  }
  return k;
}

void CallRegistrations::clear_all() noexcept {
  while (!more_.empty()) more_.pop_back();
  while (count_ > 0) at(--count_)->~CancelCallback();
}

void scope_register(Fiber* f, CallRegistrations& out) {
  auto add = [&](const CancelToken& t) {
    if (t.can_be_cancelled()) out.add(t, f);
  };
  if (f->call_token) add(*f->call_token);
  for_each_scope_token(f, add);
}

}  // namespace weft::detail
