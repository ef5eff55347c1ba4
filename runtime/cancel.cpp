// Cancelling a fiber's outstanding blocking call, from any thread (semantics.md §2).
#include "blocking.hpp"

namespace weft::detail {
namespace {

enum class Step { done_ok, done_einval, done_enetdown, won };

// One pass of the compare-and-swap on the slot word. `won` means this call moved the outcome
// from pending to `how`: the caller must then get the fiber running.
Step try_fix(FiberSlot* s, std::uint64_t gen, CallState how) noexcept {
  std::uint64_t w = s->word.load(std::memory_order_acquire);
  for (;;) {
    if (gen_of_word(w) != gen) return Step::done_einval;  // the fiber has ended
    switch (state_of(w)) {
      case CallState::idle:
        return Step::done_einval;
      case CallState::pending:
        if (s->word.compare_exchange_weak(w, make_word(gen, how), std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
          return Step::won;
        }
        continue;
      case CallState::completed:
        // Completion won the race; the call returns its result as if never cancelled, unless
        // it finds the completion spurious and would block again (BlockingCall::rearm).
        if (w & kCancelRequested) return Step::done_ok;
        if (s->word.compare_exchange_weak(w, w | kCancelRequested, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
          return Step::done_ok;
        }
        continue;
      case CallState::cancelled:
      case CallState::timed_out:
        return Step::done_ok;  // a repeated cancel: no further effect
      case CallState::netdown:
        return Step::done_enetdown;
    }
    return Step::done_einval;
  }
}

Status step_status(Step s) noexcept {
  switch (s) {
    case Step::done_einval: return wsa::einval;
    case Step::done_enetdown: return wsa::enetdown;
    default: return {};
  }
}

}  // namespace

Status cancel_local(Fiber* f, CallState how) noexcept {
  RuntimeImpl* rt = f->rt;
  if (rt->stopping()) return wsa::enetdown;
  Step st = try_fix(f->slot, f->gen(), how);
  if (st != Step::won) return step_status(st);
  // From the fiber's own hook or message the fiber is running: it sees the outcome when
  // the hook returns, without being queued.
  if (f != rt->current()) rt->make_ready(f);
  return {};
}

Status cancel_call(FiberId id, CallState how) noexcept {
  FiberSlot* s = fiber_table_slot(id);
  if (!s) return wsa::einval;
  std::uint64_t gen = gen_of_id(id);
  std::uint64_t w = s->word.load(std::memory_order_acquire);
  if (gen_of_word(w) != gen) return wsa::einval;
  // Constant for the fiber's life; a compare-and-swap below that succeeds proves the fiber
  // (and so this index) is the one read here.
  std::uint32_t ri = s->runtime_index.load(std::memory_order_relaxed);

  RuntimeImpl* here = tls_runtime;
  // The fiber's record may be read on its own runtime's thread, where it cannot end
  // meanwhile; its generation was checked above.
  if (here && here->index() == ri) return cancel_local(s->fiber, how);

  RuntimeShared* rs = registry_acquire(ri);
  if (!rs) return wsa::einval;  // the runtime is gone, and its fibers with it
  Status result;
  if (rs->stopping.load(std::memory_order_acquire)) {
    result = wsa::enetdown;
  } else {
    Step st = try_fix(s, gen, how);
    if (st == Step::won) {
      // The fiber cannot move on until this wake (or another) reaches its loop, so its
      // runtime is alive and the push is accepted.
      rs->push_wake(id);
    } else {
      result = step_status(st);
    }
  }
  rs->release();
  return result;
}

}  // namespace weft::detail
