// weft::detail — the state of each coordination primitive (weft/sync.hpp, weft/channel.hpp),
// what each of their operations does under the primitive's lock, and the one wait every
// blocking form and wait_any are written on (semantics.md §8).
//
// An operation (WaitOp) is what one waiter wants from one primitive: the mutex, a permit, the
// event's signal, a latch at zero, to put a value into a channel or take one out. For each:
//   can_start  under the lock: the operation may be performed now (for a channel, perhaps not:
//              its counterpart may turn out cancelled);
//   perform    under the lock: performs it, or says it would block;
//   queue      where a waiter for it waits.
// A signal (unlock, release, set, count_down, a send or receive that finds a waiter, close)
// performs the operation for the head waiter it claims (waiters.hpp).
#pragma once

#include "waiters.hpp"

#include <weft/channel.hpp>
#include <weft/sync.hpp>
#include <weft/wait_any.hpp>

#include <memory>
#include <mutex>
#include <new>
#include <optional>

namespace weft::detail {

// Mutex, ConditionVariable, Semaphore, Event and Latch: a lock, a value, flags and the queue.
struct SyncState {
  SpinLock lock;
  // Event: kSet, kAutomatic.
  std::atomic<std::uint8_t> flags{0};
  // Mutex: the owner (this_owner(), 0 for none). Semaphore: the permits. Latch: the count.
  std::atomic<std::uint64_t> value{0};
  WaitQueue waiters;

  static constexpr std::uint8_t kSet = 1;
  static constexpr std::uint8_t kAutomatic = 2;
};
static_assert(sizeof(SyncState) <= kSyncStateSize && alignof(SyncState) <= alignof(void*),
              "the room a primitive keeps for its state (weft/sync.hpp) must hold it");

// A channel: its buffer is the template's (weft/channel.hpp), reached through ops.
struct ChannelCore {
  SpinLock lock;
  std::atomic<bool> closed{false};
  // The watch of a full or empty buffer (api/channel.cpp, watch_buffer), under the lock:
  // watches to skip before the next one, and what the last watch that ran out set that to
  // (doubling).
  std::uint16_t watch_skip = 0;
  std::uint16_t watch_backoff = 0;
  std::size_t capacity = 0;
  std::atomic<std::size_t> count{0};  // values in the buffer
  const ChannelOps* ops = nullptr;
  void* buffer = nullptr;
  WaitQueue senders;    // each node's data: the T a sender offers
  WaitQueue receivers;  // each node's data: the std::optional<T> a receiver fills
  // Where the last receive that found a sender waiting on a full buffer ran, and the last send
  // that found a receiver waiting on an empty one: the runtime's index (Wakes::side), 0 for
  // a plain thread, kNoSide before the first. Under the lock.
  static constexpr std::uint32_t kNoSide = ~std::uint32_t{0};
  std::uint32_t filled_on = kNoSide;
  std::uint32_t drained_on = kNoSide;
};
static_assert(sizeof(ChannelCore) <= kChannelCoreSize && alignof(ChannelCore) <= alignof(void*),
              "the room a channel keeps for its core (weft/channel.hpp) must hold it");

// How the library reaches the private parts of the public types: a primitive's state, a
// Waitable's operation.
struct SyncAccess {
  template <class P>
  static SyncState& state(P& p) noexcept {
    return *std::launder(reinterpret_cast<SyncState*>(p.state_));
  }
  template <class P>
  static const SyncState& state(const P& p) noexcept {
    return *std::launder(reinterpret_cast<const SyncState*>(p.state_));
  }
  static Waitable make(Waitable::Kind k, void* target, void* data, std::uint64_t handle) noexcept {
    return Waitable(k, target, data, handle);
  }
  static Waitable::Kind kind(const Waitable& w) noexcept { return w.kind_; }
  static void* target(const Waitable& w) noexcept { return w.target_; }
  static void* data(const Waitable& w) noexcept { return w.data_; }
  static std::uint64_t handle(const Waitable& w) noexcept { return w.handle_; }
};

inline ChannelCore& core_of(void* room) noexcept {
  return *std::launder(reinterpret_cast<ChannelCore*>(room));
}

// Room for N objects in place, or for more on the heap (wait_any's operations).
template <class T, std::size_t N>
class SmallArray {
 public:
  explicit SmallArray(std::size_t n)
      : p_(n <= N ? inline_ : (heap_ = std::make_unique<T[]>(n)).get()) {}
  T& operator[](std::size_t i) noexcept { return p_[i]; }
  T* data() noexcept { return p_; }

 private:
  T inline_[N];
  std::unique_ptr<T[]> heap_;
  T* p_;
};

// The result of perform: performed (0), a wsa code the operation ended with, or would block.
inline constexpr int kPerformed = 0;
inline constexpr int kWouldBlock = -1;

enum class WaitKind : std::uint8_t {
  lock,     // Mutex
  acquire,  // Semaphore
  event,    // Event
  latch,    // Latch
  notify,   // ConditionVariable: only a notify completes it
  send,     // Channel: data is the T offered
  recv,     // Channel: data is the std::optional<T> to fill
  observe,  // wait_any's socket readiness and end of a fiber: `observer`, on `data`
};

// An operation that only observes (wait_any's on_readable, on_writable, on_join): nothing is
// performed, and what completes the wait is the runtime's own completion of the fiber's call
// (readiness, a fiber's end), which then finds the operation ready when it looks again.
struct ObserverOps {
  bool (*ready)(void* ctx) noexcept;
  std::error_code (*link)(void* ctx, Fiber* f) noexcept;
  void (*unlink)(void* ctx) noexcept;
};

struct WaitOp {
  WaitKind kind;
  void* target;  // SyncState* or ChannelCore*
  void* data = nullptr;
  const ObserverOps* observer = nullptr;  // WaitKind::observe

  SyncState& sync() const noexcept { return *static_cast<SyncState*>(target); }
  ChannelCore& channel() const noexcept { return *static_cast<ChannelCore*>(target); }
  // The primitive's lock; nullptr for an observer.
  SpinLock* lock() const noexcept {
    switch (kind) {
      case WaitKind::send:
      case WaitKind::recv: return &channel().lock;
      case WaitKind::observe: return nullptr;
      default: return &sync().lock;
    }
  }
  // Where a waiter for it waits (not for an observer).
  WaitQueue& queue() const noexcept {
    switch (kind) {
      case WaitKind::send: return channel().senders;
      case WaitKind::recv: return channel().receivers;
      default: return sync().waiters;
    }
  }
};

// Holds an operation's lock (none for an observer) for a scope.
class WaitOpLock {
 public:
  explicit WaitOpLock(const WaitOp& op) noexcept : lock_(op.lock()) {
    if (lock_) lock_->lock();
  }
  ~WaitOpLock() {
    if (lock_) lock_->unlock();
  }
  WaitOpLock(const WaitOpLock&) = delete;
  WaitOpLock& operator=(const WaitOpLock&) = delete;

 private:
  SpinLock* lock_;
};

// --- channels, under the channel's lock ---

// A blocking send or receive that finds a buffered channel full or empty, while the other side
// last used the buffer from another thread, watches the buffer for a while before it parks
// (api/channel.cpp, watch_then_send and watch_then_recv; semantics.md §8). Only a channel
// call's own blocking form watches: a try_ form and wait_any never do.
enum class Watch : bool { no, yes };
// (They take the caller's runtime, not its Wakes, which a call would make the caller keep in
// memory: whom their second look wakes, they wake before they return, under the lock, on
// this rare path.)
int watch_then_send(ChannelCore& c, void* value, RuntimeImpl* here) noexcept;
int watch_then_recv(ChannelCore& c, void* out, RuntimeImpl* here) noexcept;

// Gives `value` to the head receiver whose claim wins, else puts it in the buffer.
template <Watch watch = Watch::no>
[[gnu::always_inline]] inline int channel_send_locked(ChannelCore& c, void* value,
                                                      Wakes& wakes) noexcept {
  if (c.closed.load(std::memory_order_relaxed)) return static_cast<int>(wsa::eshutdown);
  if (WaitNode* n = Wakes::claim_front(c.receivers)) {
    c.ops->give(value, n->data);
    wakes.fire(n, kPerformed);
    // A sender that hands a value to a waiting receiver is who a receive that finds the
    // buffer empty would wait for.
    c.filled_on = wakes.side();
    return kPerformed;
  }
  const std::size_t count = c.count.load(std::memory_order_relaxed);
  if (count >= c.capacity) {
    if (watch == Watch::yes && c.capacity > 0) return watch_then_send(c, value, wakes.here());
    return kWouldBlock;
  }
  if (!c.ops->push(c.buffer, value)) return static_cast<int>(wsa::enobufs);
  c.count.store(count + 1, std::memory_order_relaxed);
  return kPerformed;
}

// Takes the buffer's front (refilling the buffer from the head waiting sender), else a
// waiting sender's value (a rendezvous).
template <Watch watch = Watch::no>
[[gnu::always_inline]] inline int channel_recv_locked(ChannelCore& c, void* out,
                                                      Wakes& wakes) noexcept {
  std::size_t count = c.count.load(std::memory_order_relaxed);
  if (count > 0) {
    c.ops->pop(c.buffer, out);
    --count;
    if (WaitNode* n = Wakes::claim_front(c.senders)) {
      // A receive that refills the buffer from a waiting sender is who a send that finds it
      // full would wait for.
      c.drained_on = wakes.side();
      if (c.ops->push(c.buffer, n->data)) {
        ++count;
        wakes.fire(n, kPerformed);
      } else {
        wakes.fire(n, static_cast<int>(wsa::enobufs));  // its value stays with the sender
      }
    }
    c.count.store(count, std::memory_order_relaxed);
    return kPerformed;
  }
  if (WaitNode* n = Wakes::claim_front(c.senders)) {
    c.ops->give(n->data, out);
    wakes.fire(n, kPerformed);
    return kPerformed;
  }
  if (c.closed.load(std::memory_order_relaxed)) return static_cast<int>(wsa::eshutdown);
  if (watch == Watch::yes && c.capacity > 0) return watch_then_recv(c, out, wakes.here());
  return kWouldBlock;
}

// --- every operation ---

// Under op.lock(): the operation may be performed now.
inline bool can_start(const WaitOp& op) noexcept {
  switch (op.kind) {
    case WaitKind::lock: return op.sync().value.load(std::memory_order_relaxed) == 0;
    case WaitKind::acquire: return op.sync().value.load(std::memory_order_relaxed) > 0;
    case WaitKind::event: return op.sync().flags.load(std::memory_order_relaxed) & SyncState::kSet;
    case WaitKind::latch: return op.sync().value.load(std::memory_order_relaxed) == 0;
    case WaitKind::notify: return false;
    case WaitKind::send: {
      ChannelCore& c = op.channel();
      return c.closed.load(std::memory_order_relaxed) || !c.receivers.empty() ||
             c.count.load(std::memory_order_relaxed) < c.capacity;
    }
    case WaitKind::recv: {
      ChannelCore& c = op.channel();
      return c.closed.load(std::memory_order_relaxed) || !c.senders.empty() ||
             c.count.load(std::memory_order_relaxed) > 0;
    }
    case WaitKind::observe: return op.observer->ready(op.data);
  }
  return false;
}

// Under op.lock(): performs the operation for `self` (who owns the outcome: it has claimed
// itself, or has no outstanding call yet).
inline int perform(const WaitOp& op, const Waiter& self, Wakes& wakes) noexcept {
  switch (op.kind) {
    case WaitKind::lock: {
      SyncState& s = op.sync();
      if (s.value.load(std::memory_order_relaxed) != 0) return kWouldBlock;
      s.value.store(self.owner, std::memory_order_relaxed);
      return kPerformed;
    }
    case WaitKind::acquire: {
      SyncState& s = op.sync();
      std::uint64_t n = s.value.load(std::memory_order_relaxed);
      if (n == 0) return kWouldBlock;
      s.value.store(n - 1, std::memory_order_relaxed);
      return kPerformed;
    }
    case WaitKind::event: {
      SyncState& s = op.sync();
      std::uint8_t f = s.flags.load(std::memory_order_relaxed);
      if (!(f & SyncState::kSet)) return kWouldBlock;
      if (f & SyncState::kAutomatic) s.flags.store(f & ~SyncState::kSet, std::memory_order_relaxed);
      return kPerformed;
    }
    case WaitKind::latch:
      return op.sync().value.load(std::memory_order_relaxed) == 0 ? kPerformed : kWouldBlock;
    case WaitKind::notify: return kWouldBlock;
    case WaitKind::send: return channel_send_locked(op.channel(), op.data, wakes);
    case WaitKind::recv: return channel_recv_locked(op.channel(), op.data, wakes);
    case WaitKind::observe: return op.observer->ready(op.data) ? kPerformed : kWouldBlock;
  }
  return kWouldBlock;
}

// What a wait ended with: the index of the operation performed and its result (kPerformed or
// a wsa code), or the error of an outcome other than completion.
struct WaitResult {
  Err error;                // WSAEINTR, WSAETIMEDOUT, WSAENETDOWN; or {}
  std::size_t index = 0;    // the operation performed
  int result = kPerformed;  // its own result
};

// Tries each operation in order, performing the first that can be, without waiting: for a
// caller with no outstanding call (nothing can claim it). kWouldBlock in `result` if none.
inline WaitResult try_ops(const WaitOp* ops, std::size_t n, const Waiter& self) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    Wakes wakes;
    WaitOpLock g(ops[i]);
    int r = perform(ops[i], self, wakes);
    if (r != kWouldBlock) return {Err(), i, r};
  }
  return {Err(), 0, kWouldBlock};
}

// The one wait (semantics.md §8): the call is outstanding (`call`); links a node per operation
// unless one can be performed at once, parks, and returns what was performed — by a signaller
// that claimed this waiter, or by the waiter itself — or the outcome that ended the call. A
// node's operation is performed only by whoever wins the claim on the waiter's outcome, so
// exactly one is, or none.
WaitResult wait_ops(WaitCall& call, const WaitOp* ops, WaitNode* nodes, std::size_t n) noexcept;

// What a fiber dump says a one-operation wait waits on (WaitObj::primitive): the call's name
// and the primitive's address, recorded only once the call waits (the entry is made
// BlockingEntry::DescribedAtWait, so that an operation that need not wait stores nothing).
struct WaitDescription {
  const char* call;
  std::uintptr_t primitive;
};

// wait_locked for a plain thread.
[[gnu::cold]] WaitResult wait_locked_thread(const BlockingEntry& entry, const CancelToken& token,
                                            const WaitOp& op, SpinLock& lock, WaitQueue& queue);
// wait_locked's end for a fiber whose wait completed with nothing performed (not a
// signaller's doing): on through wait_ops, with a WaitCall around its call.
[[gnu::cold]] WaitResult fiber_unfired(BlockingCall& call, const Waiter& self, const WaitOp& op,
                                       WaitNode& node) noexcept;

// wait_one's waiting half, entered holding `lock` (which it releases): makes the call
// outstanding, links its node in `queue`, and waits. Inline for a fiber, without WaitCall:
// each frame between a parked fiber's switch and its caller is a return the processor
// mispredicts when the fiber resumes (the switch left it another stack's return addresses),
// and in a ping-pong every other channel call comes this way.
// The operation comes as its parts, made a WaitOp only on the paths that need one (a
// thread's, a completion that performed nothing): on the common path it is never stored.
[[gnu::always_inline]] inline WaitResult wait_locked(const BlockingEntry& entry,
                                                     const CancelToken& token, WaitKind kind,
                                                     void* target, void* data, SpinLock& lock,
                                                     WaitQueue& queue, WaitDescription what) {
  Fiber* f = entry.fiber();
  if (!f) return wait_locked_thread(entry, token, WaitOp{kind, target, data}, lock, queue);
  std::unique_lock g(lock, std::adopt_lock);  // released if the call's registration throws
  // Outstanding from here, under the lock.
  BlockingCall call(entry, what.call, WaitObj::primitive, what.primitive);
  Waiter self;
  self.id = f->id;
  self.slot = f->slot;
  self.owner = to_integer(f->id);  // this_owner(), without looking the fiber up again
  WaitNode node;
  node.waiter = &self;
  node.data = data;
  queue.push_back(&node);
  g.unlock();
  const CallState how = call.wait();
  // Fired: its signaller took it off its queue and is done with it (Wakes::fire).
  if (node.fired.load(std::memory_order_acquire)) return {Err(), 0, node.result};
  if (how == CallState::completed)
    return fiber_unfired(call, self, WaitOp{kind, target, data}, node);
  // Cancelled, timed out or stopped: off the queue, unless a signaller fired it first.
  g.lock();
  queue.unlink(&node);
  const bool fired = node.fired.load(std::memory_order_relaxed);
  g.unlock();
  if (fired) return {Err(), 0, node.result};
  return {outcome_error(how)};
}

// The blocking form of one operation `op` on a primitive or a channel (not an observer, not a
// notify), admitted by `entry` (WaitCall::admit). One hold of `lock` looks — `look(wakes)`
// performs the operation for a caller with no outstanding call, or says kWouldBlock — and, if
// it must wait, makes the call outstanding and links its node in `queue`: nothing can be
// handed to the call before it is linked, and once linked only a claim on its outcome (which a
// cancel may win first) hands it anything. Inline up to the look: an operation that need not
// wait builds no call and no node.
template <class Look>
WaitResult wait_one(const BlockingEntry& entry, const CancelToken& token, WaitKind kind,
                    void* target, void* data, SpinLock& lock, WaitQueue& queue,
                    WaitDescription what, Look look) {
  {
    Wakes wakes(entry.runtime());  // a look that would block has woken nobody
    lock.lock();
    int r = look(wakes);
    if (r != kWouldBlock) {
      lock.unlock();
      return {Err(), 0, r};
    }
  }
  return wait_locked(entry, token, kind, target, data, lock, queue, what);
}

// The Status of an operation's result.
inline Status status_of(int result) noexcept {
  if (result == kPerformed) return {};
  return make_error_code(static_cast<wsa>(result));
}

}  // namespace weft::detail
