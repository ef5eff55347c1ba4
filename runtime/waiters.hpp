// weft::detail — waiting on a coordination primitive (semantics.md §8): who waits (the
// blocking call of a fiber of any runtime, or a plain thread), the queues the primitives keep
// their waiters in, and how a signal hands something over to a waiter.
//
// The protocol. A primitive guards its state and its queues with one SpinLock. A waiter is
// linked into a queue (a WaitNode, on the waiter's stack) only while its call is outstanding.
// To hand something over (the lock, a value, a permit, the signal of an event) a signaller,
// under the primitive's lock, takes the head node and claims its waiter's outcome — the
// compare-and-swap pending → completed on the same word a cancel, a deadline and stop race
// for (fiber_table.hpp) — and performs the hand-over only if the claim won. A claim that
// loses (the waiter was cancelled first) unlinks the node and tries the next one: no signal is
// ever swallowed by a cancel (§8, "no lost wake-up"), and a cancelled waiter took nothing (the
// race rule). A waiter that can complete by itself (the primitive is free when it looks again
// under the lock) claims its own outcome the same way, so a cancel that came first wins there
// too; wait_any claims once for all of its nodes, so exactly one operation is performed.
//
// Lifetimes: a node is touched only under its primitive's lock, and its waiter, before its call
// ends, either takes that lock or sees the node fired — the signaller's last touch of it — so
// a signaller never touches a node whose frame is gone. A fiber of another runtime is woken by
// id after the lock is released (Wakes): a wake that arrives after the fiber has moved on is a
// stale wake, which the runtime absorbs; one of the signaller's own runtime is made ready at
// once.
#pragma once

#include "blocking.hpp"
#include "cancel_state.hpp"
#include "spin_lock.hpp"

#include <weft/error.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace weft::detail {

// A plain thread's side of a wait: one per thread. `state` holds a CallState (idle, pending,
// completed, cancelled, timed_out) and, as a fiber's outcome word does, kCancelRequested and
// kRequestTimedOut for a cancel that found the wait completed; the thread sleeps on it with a
// futex.
struct ThreadParker {
  std::atomic<std::uint32_t> state{0};
};
ThreadParker& this_thread_parker() noexcept;

// An identity for a mutex's owner: a fiber's id, or a plain thread's (a distinct counter with
// the top bit set, so that the two never meet). 0 is nobody.
std::uint64_t this_owner() noexcept;

// Who waits: a fiber's outstanding blocking call, or a plain thread's wait.
struct Waiter {
  FiberId id = FiberId::none;      // a fiber: its id
  FiberSlot* slot = nullptr;       // and its slot (null for a thread)
  ThreadParker* parker = nullptr;  // a thread: its parker
  std::uint64_t owner = 0;         // this_owner() of the waiting fiber or thread

  // Fixes the waiter's outcome to completion: true if it was still pending (the caller may
  // hand over), false if a cancel, a deadline or stop fixed it first. Under the primitive's
  // lock; any thread.
  bool claim() const noexcept {
    if (slot) return slot->word.complete(gen_of_id(id), CallState::completed);
    std::uint32_t pending = static_cast<std::uint32_t>(CallState::pending);
    return parker->state.compare_exchange_strong(
        pending, static_cast<std::uint32_t>(CallState::completed), std::memory_order_acq_rel);
  }
  // The outcome, once fixed (pending while it is not).
  CallState state() const noexcept {
    if (slot) return slot->word.state();
    return state_of(parker->state.load(std::memory_order_acquire));
  }
};

// One waiter in one queue of one primitive. Its fields past the links are written by the
// waiter before it is linked and by a signaller under the primitive's lock.
struct WaitNode {
  WaitNode* prev = nullptr;
  WaitNode* next = nullptr;
  bool linked = false;
  // Set by the signaller whose claim won (Wakes::fire), its last touch of the node: this
  // node's operation was performed. A waiter that sees it set needs no lock to leave.
  std::atomic<bool> fired{false};
  // A wait that no cancel ends (a condition variable's re-acquisition of its mutex): the
  // signaller grants it without claiming and sets `granted`.
  bool shielded = false;
  std::atomic<bool> granted{false};
  Waiter* waiter = nullptr;
  // What the operation moves: a channel send's value, a channel receive's std::optional<T>.
  void* data = nullptr;
  // Set with `fired`: 0 when the operation was performed, else the wsa code it ended with
  // (a channel closed under a waiting sender: WSAESHUTDOWN).
  int result = 0;
  // The operation's place in wait_any's list.
  std::uint32_t index = 0;
};

// A FIFO of nodes; all-zero is empty. Under the owning primitive's lock.
class WaitQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  WaitNode* front() const noexcept { return head_; }
  void push_back(WaitNode* n) noexcept {
    n->prev = tail_;
    n->next = nullptr;
    (tail_ ? tail_->next : head_) = n;
    tail_ = n;
    n->linked = true;
  }
  void unlink(WaitNode* n) noexcept {
    if (!n->linked) return;
    (n->prev ? n->prev->next : head_) = n->next;
    (n->next ? n->next->prev : tail_) = n->prev;
    n->prev = n->next = nullptr;
    n->linked = false;
  }
  WaitNode* pop_front() noexcept {
    WaitNode* n = head_;
    if (!n) return nullptr;
    head_ = n->next;
    (head_ ? head_->prev : tail_) = nullptr;
    n->linked = false;  // its links are stale: push_back sets them, unlink reads `linked` first
    return n;
  }
  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (WaitNode* p = head_; p; p = p->next) ++n;
    return n;
  }

 private:
  WaitNode* head_ = nullptr;
  WaitNode* tail_ = nullptr;
};

// The waiters a signal handed something to. A fiber of another runtime is woken once the
// primitive's lock is released (declare the Wakes before the lock's guard): its wake goes
// through that runtime's mailbox. A fiber of the signaller's own runtime is made ready at once,
// under the lock: it cannot run before the signaller's thread has released the lock and
// switched, and readying it is a push onto the run queue. A thread is woken at once, under the
// lock: its parker outlives nothing the signaller could otherwise still touch.
class Wakes {
 public:
  Wakes() noexcept : here_(tls_runtime) {}
  // `here`: this thread's runtime (tls_runtime), known to the caller already.
  explicit Wakes(RuntimeImpl* here) noexcept : here_(here) {}
  Wakes(const Wakes&) = delete;
  Wakes& operator=(const Wakes&) = delete;
  ~Wakes() {
    for (unsigned i = 0; i < n_; ++i) wake_remote(inline_[i].id, inline_[i].runtime_index);
    if (more_) {
      for (const Woken& w : *more_) wake_remote(w.id, w.runtime_index);
    }
  }
  void add(const Waiter& w) noexcept {
    if (w.parker) return wake_thread(w.parker);
    // A fiber a signal hands something to is alive: its call is outstanding, its node linked
    // until now. It may be the running fiber itself (a hook or a message run during its own
    // wait), which sees its outcome when that returns.
    const std::uint32_t ri = w.slot->runtime_index.load(std::memory_order_relaxed);
    if (here_ && here_->index() == ri) {
      if (Fiber* f = w.slot->fiber; f != here_->current()) here_->make_ready(f);
      return;
    }
    if (n_ < kInline) {
      inline_[n_++] = {w.id, ri};
      return;
    }
    try {
      if (!more_) more_ = std::make_unique<std::vector<Woken>>();
      more_->push_back({w.id, ri});
    } catch (...) {
      wake_remote(w.id, ri);  // no memory: wake it now, under the lock
    }
  }
  // This thread's runtime (nullptr on a plain thread), and its index (0 on a plain thread).
  RuntimeImpl* here() const noexcept { return here_; }
  std::uint32_t side() const noexcept { return here_ ? here_->index() : 0; }
  // Hands node `n` (claimed, and taken off its queue) its operation's result and wakes its
  // waiter; the node's waiter may leave as soon as this returns.
  void fire(WaitNode* n, int result) noexcept {
    n->result = result;
    add(*n->waiter);
    n->fired.store(true, std::memory_order_release);
  }
  // Grants a shielded node, taken off its queue: its waiter is woken whatever its outcome.
  void grant(WaitNode* n) noexcept {
    n->granted.store(true, std::memory_order_release);
    if (n->waiter->parker) (void)n->waiter->claim();  // the futex word the thread sleeps on
    add(*n->waiter);
  }
  // Takes the head node whose waiter's claim wins (unlinking the losers), or nullptr.
  static WaitNode* claim_front(WaitQueue& q) noexcept {
    while (WaitNode* n = q.pop_front()) {
      if (n->waiter->claim()) return n;
    }
    return nullptr;
  }

  static void wake_fiber(FiberId id) noexcept;
  static void wake_thread(ThreadParker* p) noexcept;

 private:
  // wake_fiber for a fiber whose slot is known (slots are never freed): inline where the
  // fiber is of this thread's runtime, whose thread alone reads its record, where it cannot
  // end meanwhile. From the fiber's own hook or message it is running: it sees its outcome
  // when that returns.
  static void wake(FiberId id, FiberSlot* s) noexcept {
    const std::uint32_t ri = s->runtime_index.load(std::memory_order_relaxed);
    RuntimeImpl* here = tls_runtime;
    if (here && here->index() == ri) return ready_here(here, id, s);
    wake_remote(id, ri);
  }
  // A fiber of this thread's runtime (`here`), unless it has ended or is the one running.
  static void ready_here(RuntimeImpl* here, FiberId id, FiberSlot* s) noexcept {
    if (s->word.gen() == gen_of_id(id) && s->fiber != here->current()) here->make_ready(s->fiber);
  }
  // Another runtime's fiber: through that runtime's mailbox.
  static void wake_remote(FiberId id, std::uint32_t runtime_index) noexcept;

  struct Woken {
    FiberId id;
    std::uint32_t runtime_index;
  };
  static constexpr unsigned kInline = 4;
  RuntimeImpl* here_;
  unsigned n_ = 0;
  Woken inline_[kInline];
  std::unique_ptr<std::vector<Woken>> more_;  // past kInline (a close, notify_all)
};

// The waiting side of one primitive call (or of one wait_any): admitted (semantics.md §7a),
// outstanding from its constructor — cancellable by every source — until finish().
class WaitCall {
 public:
  // §7a for a primitive's blocking form: on a fiber, BlockingEntry::admit(); on a plain
  // thread, the call's token; WSAEINVAL on a runtime's thread outside any fiber (blocking it
  // would stop every fiber of that runtime, the one that would signal perhaps among them).
  static Err admit(const BlockingEntry& entry, const CancelToken& token) noexcept {
    if (entry.fiber()) return entry.admit();
    if (entry.runtime()) return wsa::einval;
    return token.cancel_requested() ? Err(token.reason()) : Err();
  }

  // A fiber's side is inline (a fiber's wait is the common one); a thread's is not.
  WaitCall(const BlockingEntry& entry, const CancelToken& token) {
    if (Fiber* f = entry.fiber()) {
      waiter_.owner = to_integer(f->id);  // this_owner(), without looking the fiber up again
      waiter_.id = f->id;
      waiter_.slot = f->slot;
      call_ = &own_.emplace(entry);
      return;
    }
    begin_thread(token);
  }
  // A fiber's wait whose blocking call its caller made and keeps (wait_locked's, carried on
  // into wait_ops when a completion turns out to have performed nothing).
  WaitCall(BlockingCall& call, const Waiter& self) noexcept : waiter_(self), call_(&call) {}
  ~WaitCall() {
    if (waiter_.parker) end_thread();
  }
  WaitCall(const WaitCall&) = delete;
  WaitCall& operator=(const WaitCall&) = delete;

  Waiter& waiter() noexcept { return waiter_; }
  // The waiting fiber (nullptr for a thread).
  Fiber* fiber() const noexcept { return call_ ? call_->fiber() : nullptr; }
  // Parks until the outcome is fixed; returns it. A fiber runs its messages and its hook
  // meanwhile (BlockingCall::wait).
  CallState wait() noexcept { return call_ ? call_->wait() : wait_thread(); }
  // After a completion that performed nothing (the waiter claimed itself and then found the
  // operation could not be done, or an observer's readiness was spurious): pending again, or
  // the outcome of a cancel that arrived meanwhile.
  CallState rearm() noexcept { return call_ ? call_->rearm() : rearm_thread(); }
  // For a shielded wait after wait() (a condition variable re-acquiring its mutex): from
  // here no cancel source reaches the waiter. Call before linking the shielded node.
  void shield() noexcept;
  // Parks until `n`, a shielded node, is granted (Wakes::grant).
  void wait_granted(const WaitNode& n) noexcept;

 private:
  void begin_thread(const CancelToken& token);
  void end_thread() noexcept;
  CallState wait_thread() noexcept;
  CallState rearm_thread() noexcept;

  Waiter waiter_;
  BlockingCall* call_ = nullptr;  // a fiber's: own_, or its caller's
  std::optional<BlockingCall> own_;
  std::optional<CancelRegistration> registration_;  // a thread's, on the call's token
};

}  // namespace weft::detail
