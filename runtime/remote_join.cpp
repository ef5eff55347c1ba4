// join() across runtimes (semantics.md §3, the join row: join waits for a fiber of any
// runtime). A local join links a waiter into the target's record, which only the target's thread
// touches; a join from another runtime registers in one process-wide list instead, which the
// target's end looks through when its slot counts registrations.
//
// Lifetimes:
//   1. A registration (RemoteJoin) lives on the joiner's stack, inside its outstanding call
//      (a join, or a wait_any's on_join), and is linked under the list's lock.
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
#include "waiters.hpp"

#include <mutex>

namespace weft::detail {
namespace {

struct RemoteJoins {
  std::mutex mu;
  IntrusiveList<RemoteJoin> waiting;
};

// Never destroyed: a runtime thread may end a fiber while the process exits.
RemoteJoins& remote_joins() {
  static auto* joins = new RemoteJoins;
  return *joins;
}

}  // namespace

RemoteJoin::RemoteJoin(FiberSlot* s, FiberId target, Fiber* joiner) noexcept
    : slot_(s), target_(target), joiner_(joiner->id) {
  RemoteJoins& joins = remote_joins();
  {
    std::lock_guard lock(joins.mu);
    joins.waiting.push_back(hook_);
    s->remote_joiners.fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (gen_of_word(s->word.load(std::memory_order_relaxed)) != gen_of_id(target)) {
    // Ended meanwhile: complete the call here (the end may have too; one of them wins).
    (void)joiner->slot->word.complete(joiner->gen(), CallState::completed);
  }
}

RemoteJoin::~RemoteJoin() {
  std::lock_guard lock(remote_joins().mu);
  if (hook_.linked()) {
    hook_.unlink();
    slot_->remote_joiners.fetch_sub(1, std::memory_order_relaxed);
  }
}

Status join_remote(const BlockingEntry& entry, FiberSlot* s, FiberId id) {
  BlockingCall call(entry);
  RemoteJoin registration(s, id, entry.fiber());
  return outcome_error(call.wait());
}

void remote_joiners_notify(FiberSlot* s, FiberId id) noexcept {
  RemoteJoins& joins = remote_joins();
  std::lock_guard lock(joins.mu);
  joins.waiting.for_each([&](RemoteJoin& r) {
    if (r.target_ != id) return;
    r.hook_.unlink();
    s->remote_joiners.fetch_sub(1, std::memory_order_relaxed);
    // The joiner's call is outstanding (its registration is unlinked only under this lock),
    // so its runtime is alive to take the wake. Completion only: a joiner's call that
    // something else fixed first (a cancel, or another of a wait_any's operations) is left
    // as it is.
    FiberSlot* js = fiber_table_slot(r.joiner_);
    if (js->word.complete(gen_of_id(r.joiner_), CallState::completed)) {
      Wakes::wake_fiber(r.joiner_);
    }
  });
}

}  // namespace weft::detail
