// Cancelling a fiber's outstanding blocking call, from any thread (semantics.md §2).
#include "blocking.hpp"

namespace weft::detail {
namespace {

using Fix = OutcomeWord::Fix;

Status reply_of(Fix fix) noexcept {
  switch (fix) {
    case Fix::no_call: return wsa::einval;
    case Fix::stopped: return wsa::enetdown;
    default: return {};
  }
}

}  // namespace

Status cancel_local(Fiber* f, CallState how) noexcept {
  RuntimeImpl* rt = f->rt;
  if (rt->stopping()) return wsa::enetdown;
  Fix fix = f->slot->word.fix(f->gen(), how);
  if (fix != Fix::won) return reply_of(fix);
  // From the fiber's own hook or message the fiber is running: it sees the outcome when
  // the hook returns, without being queued.
  if (f != rt->current()) rt->make_ready(f);
  return {};
}

Status cancel_call(FiberId id, CallState how) noexcept {
  FiberSlot* s = fiber_table_slot(id);
  if (!s) return wsa::einval;
  std::uint64_t gen = gen_of_id(id);
  if (s->word.gen() != gen) return wsa::einval;
  // Constant for the fiber's life; a compare-and-swap below that succeeds proves the fiber
  // (and so this index) is the one read here.
  std::uint32_t ri = s->runtime_index.load(std::memory_order_relaxed);

  RuntimeImpl* here = tls_runtime;
  // The fiber's record may be read on its own runtime's thread, where it cannot end
  // meanwhile; its generation was checked above.
  if (here && here->index() == ri) return cancel_local(s->fiber, how);

  RuntimeMailbox* rs = registry_acquire(ri);
  if (!rs) return wsa::einval;  // the runtime is gone, and its fibers with it
  Status result;
  if (rs->stopping.load(std::memory_order_acquire)) {
    result = wsa::enetdown;
  } else {
    Fix fix = s->word.fix(gen, how);
    if (fix == Fix::won) {
      // The fiber cannot move on until this wake (or another) reaches its loop, so its
      // runtime is alive and the push is accepted.
      rs->push_wake(id);
    } else {
      result = reply_of(fix);
    }
  }
  rs->release();
  return result;
}

}  // namespace weft::detail
