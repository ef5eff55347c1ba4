// join() across runtimes (semantics.md §3, the join row: join waits for a fiber of any
// runtime). A local join links a waiter into the target's record, which only the target's thread
// touches; a join from another runtime registers in one process-wide list instead, which the
// target's end looks through when its slot counts registrations.
//
// Lifetimes:
//   1. A registration lives on the joiner's stack, inside its outstanding call, and is linked
//      under the list's lock.
//   2. The target's end (fiber_table_release, any runtime's thread) bumps the slot's
//      generation, then takes the lock, unlinks the registrations for its id and completes
//      each joiner's call — under the lock, so a completion never reaches a later call.
//   3. The joiner, once its call's outcome is fixed (completion, cancel, stop), unlinks its
//      registration under the lock if the target's end has not, before its call ends.
//   4. A target that ended between the joiner's check and its registration: the joiner sees
//      the new generation after registering, and completes its own call (seq_cst fences on
//      both sides: each sees the other's write, or one of them sees both).
#include "blocking.hpp"
#include "intrusive_list.hpp"

#include <mutex>

namespace weft::detail {
namespace {

struct RemoteJoiner {
  RemoteJoiner(FiberId t, FiberId j) noexcept : target(t), joiner(j) {}
  FiberId target;
  FiberId joiner;
  ListHook<RemoteJoiner> hook{this};
};

struct RemoteJoins {
  std::mutex mu;
  IntrusiveList<RemoteJoiner> waiting;
};

// Never destroyed: a runtime thread may end a fiber while the process exits.
RemoteJoins& remote_joins() {
  static auto* joins = new RemoteJoins;
  return *joins;
}

}  // namespace

Status join_remote(const BlockingEntry& entry, FiberSlot* s, FiberId id) {
  Fiber* self = entry.fiber();
  RemoteJoins& joins = remote_joins();
  BlockingCall call(entry);
  RemoteJoiner registration(id, self->id);
  {
    std::lock_guard lock(joins.mu);
    joins.waiting.push_back(registration.hook);
    s->remote_joiners.fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (gen_of_word(s->word.load(std::memory_order_relaxed)) != gen_of_id(id)) {
    // Ended meanwhile: complete this call here (the end may have too; one of them wins).
    (void)cancel_local(self, CallState::completed);
  }
  CallState how = call.wait();
  {
    std::lock_guard lock(joins.mu);
    if (registration.hook.linked()) {
      registration.hook.unlink();
      s->remote_joiners.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  return outcome_error(how);
}

void remote_joiners_notify(FiberSlot* s, FiberId id) noexcept {
  RemoteJoins& joins = remote_joins();
  std::lock_guard lock(joins.mu);
  joins.waiting.for_each([&](RemoteJoiner& r) {
    if (r.target != id) return;
    r.hook.unlink();
    s->remote_joiners.fetch_sub(1, std::memory_order_relaxed);
    // The joiner's call is outstanding (its registration is unlinked only under this lock),
    // so its runtime is alive to take the wake.
    (void)cancel_call(r.joiner, CallState::completed);
  });
}

}  // namespace weft::detail
