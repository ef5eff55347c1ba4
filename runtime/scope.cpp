#include "scope.hpp"

#include "blocking.hpp"

#include <cstdint>

namespace weft::detail {
namespace {

// What a token's cancel fixes a registered call's outcome to.
CallState outcome_of(CancelReason why) noexcept {
  return why == CancelReason::timed_out ? CallState::timed_out : CallState::cancelled;
}

// The affinity a runtime's registrations carry (CancelRegistration::affinity): 0 is none.
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
  CancelRegistration::Fn fn = [](void* ctx, CancelReason why) noexcept {
    auto* fiber = static_cast<Fiber*>(ctx);
    const CallState how = outcome_of(why);
    if (tls_runtime == fiber->rt) {
      (void)cancel_local(fiber, how);
    } else {
      (void)cancel_call(fiber->id, how);
    }
  };
  CancelRegistration* r;
  std::unique_ptr<CancelRegistration> spilled;
  if (count_ < kInline) {
    r = new (inline_[count_]) CancelRegistration;
  } else {
    more_.reserve(more_.size() + 1);  // so that the push below cannot throw
    spilled = std::make_unique<CancelRegistration>();
    r = spilled.get();
  }
  r->fn = fn;
  r->ctx = f;
  r->affinity = affinity_of(f->rt);
  // Borrowed: t's state outlives the registration (the call's token parameter, or a scope
  // of this fiber, which ends only after the calls inside it).
  r->borrowed = true;
  r->attach(CancelState::of(t));
  if (spilled) {
    more_.push_back(std::move(spilled));
  } else {
    ++count_;
  }
}

std::uint32_t CallRegistrations::thread_affinity() noexcept { return affinity_of(tls_runtime); }

std::uint32_t CallRegistrations::cancel_here(CancelRegistration** run, std::uint32_t avail,
                                             std::uint32_t max, std::uint32_t affinity,
                                             CancelReason why) noexcept {
  const CallState how = outcome_of(why);
  // Three stages ahead, each needing the line the one before loaded: the callback (in its
  // fiber's record) 12 places ahead, the record's first line 8 ahead (found in the callback),
  // the outcome word 4 ahead (found in the record). Only the runtime's own registrations of
  // this thread are followed into a record: another callback's context is not a fiber. All
  // are registered (the lock is held), so each pointer read is alive.
  constexpr std::uint32_t kCallback = 12, kRecord = 8, kWord = 4;
  auto ours = [affinity](const CancelRegistration* r) { return r && r->affinity == affinity; };
  auto look_ahead = [&](std::uint32_t k) {
    if (k + kCallback < avail) __builtin_prefetch(run[k + kCallback]);
    if (k + kRecord < avail && ours(run[k + kRecord])) __builtin_prefetch(run[k + kRecord]->ctx);
    if (k + kWord < avail && ours(run[k + kWord])) {
      __builtin_prefetch(&static_cast<Fiber*>(run[k + kWord]->ctx)->slot->word, 1);
    }
  };
  const std::uint32_t n = avail < max ? avail : max;
  std::uint32_t k = 0;
  for (; k < n; ++k) {
    look_ahead(k);
    CancelRegistration* r = run[k];
    if (!r) continue;
    if (r->affinity != affinity) break;
    run[k] = nullptr;
    r->index = CancelRegistration::kUnlinked;
    (void)cancel_local(static_cast<Fiber*>(r->ctx), how);
    r->done.store(true, std::memory_order_release);
  }
  return k;
}

void CallRegistrations::clear_all() noexcept {
  while (!more_.empty()) {
    more_.back()->end();
    more_.pop_back();
  }
  while (count_ > 0) at(--count_)->end();
}

void scope_register(Fiber* f, CallRegistrations& out) {
  auto add = [&](const CancelToken& t) {
    if (t.can_be_cancelled()) out.add(t, f);
  };
  if (f->call_token) add(*f->call_token);
  for_each_scope_token(f, add);
}

}  // namespace weft::detail
