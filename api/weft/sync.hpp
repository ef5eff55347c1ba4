// weft — coordination between fibers: Mutex (and LockGuard), ConditionVariable, Semaphore,
// Event and Latch (semantics.md §8).
//
// Every wait is a blocking call like a socket's: cancellable by every source (another fiber or
// thread's cancel_blocking_call, the call's token, its fiber's scopes and their deadlines,
// stop(), the blocking hook, a fiber message), WSAENETDOWN once its runtime stops,
// WSAEINPROGRESS inside a blocking hook or a message. The contract is the same for each:
//
//   * Race rule: if the primitive handed the waiter what it waits for first (the lock, a
//     permit, the event's signal), the call succeeds as if never cancelled; otherwise it
//     fails, and the primitive is exactly as if the call had never been made.
//   * No lost wake-up: a hand-over that finds its waiter cancelled goes to the next waiter.
//   * FIFO: waiters are served in arrival order; a cancelled one leaves its place.
//   * Anywhere: a primitive may be shared by fibers of different runtimes and by plain OS
//     threads. On a thread that runs no fiber, a wait blocks the thread (its token and the
//     token's deadline still apply); on a runtime's own thread outside any fiber (a task
//     given to post()), a wait fails WSAEINVAL: it would stop the whole runtime. Signalling
//     (unlock, release, set, notify, count_down) and the try_ forms never block and are safe
//     from any thread.
//
// A hand-over is direct: unlock (release, set of an automatic event) gives the primitive to the
// head waiter, so the signaller cannot take it back with a try_ form before that waiter runs.
//
// The primitives are neither copyable nor movable; destroying one while a call waits on it is a
// programming error.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>

#include <cstddef>
#include <cstdint>

namespace weft {

namespace detail {
// The room a primitive keeps for its state (a lock, a value and a queue of waiters), defined
// by the library (runtime/primitives.hpp, which checks the size).
inline constexpr std::size_t kSyncStateSize = 32;
// How the library reaches a primitive's state.
struct SyncAccess;
}  // namespace detail

// A mutex for fibers and threads: FIFO hand-over, not recursive.
//
// Cancellation: a cancelled lock() returns WSAEINTR (WSAETIMEDOUT, WSAENETDOWN) and the caller
// does not own the mutex; it leaves its place in the queue, and an unlock that raced the cancel
// goes to the next waiter. A lock() that the unlock reached first succeeds, whoever cancelled.
class WEFT_API Mutex {
 public:
  Mutex() noexcept;
  ~Mutex();
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Waits for the mutex. WSAEINVAL if the caller (fiber or thread) owns it already.
  Status lock(const CancelToken& token = {});
  // Takes the mutex if nobody owns it; never waits.
  bool try_lock() noexcept;
  // WSAEINVAL if the caller does not own the mutex (never undefined behaviour).
  Status unlock() noexcept;

 private:
  friend struct detail::SyncAccess;
  alignas(void*) unsigned char state_[detail::kSyncStateSize];
};

// Owns a locked Mutex; unlocks it on destruction. Movable.
class [[nodiscard]] LockGuard {
 public:
  // Adopts a mutex the caller has locked.
  explicit LockGuard(Mutex& m) noexcept : m_(&m) {}
  LockGuard(LockGuard&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  LockGuard& operator=(LockGuard&& o) noexcept {
    if (this != &o) {
      reset();
      m_ = o.m_;
      o.m_ = nullptr;
    }
    return *this;
  }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;
  ~LockGuard() { reset(); }

  Mutex* mutex() const noexcept { return m_; }
  // Unlocks now (if it still owns a mutex).
  void reset() noexcept {
    if (m_) (void)m_->unlock();
    m_ = nullptr;
  }

 private:
  Mutex* m_;
};

// Locks m (Mutex::lock) and returns a guard that owns it.
WEFT_API Result<LockGuard> lock(Mutex& m, const CancelToken& token = {});

// A condition variable over a Mutex.
//
// Cancellation: a cancelled wait returns WSAEINTR (WSAETIMEDOUT, WSAENETDOWN) with m held again:
// re-acquiring m is shielded from cancellation, as after any wake-up. A notify_one that raced
// the cancel went to another waiter, not to the cancelled one.
class WEFT_API ConditionVariable {
 public:
  ConditionVariable() noexcept;
  ~ConditionVariable();
  ConditionVariable(const ConditionVariable&) = delete;
  ConditionVariable& operator=(const ConditionVariable&) = delete;

  // Releases m, waits for a notify, re-acquires m. m is held on entry (else WSAEINVAL, with
  // nothing released) and on every return. No spurious wake-ups, but a notified waiter may
  // find the condition false again: re-check it in a loop.
  Status wait(Mutex& m, const CancelToken& token = {});
  // Wakes the longest-waiting waiter, if any.
  void notify_one() noexcept;
  // Wakes every waiter.
  void notify_all() noexcept;

 private:
  friend struct detail::SyncAccess;
  alignas(void*) unsigned char state_[detail::kSyncStateSize];
};

// A counting semaphore; permits go to waiters in arrival order.
//
// Cancellation: a cancelled acquire returns WSAEINTR (WSAETIMEDOUT, WSAENETDOWN) and the count
// is unchanged; a release that raced the cancel gives its permit to the next waiter.
class WEFT_API Semaphore {
 public:
  explicit Semaphore(std::size_t initial) noexcept;
  ~Semaphore();
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  Status acquire(const CancelToken& token = {});
  bool try_acquire() noexcept;
  void release(std::size_t n = 1) noexcept;
  // The permits available now (0 while any caller waits).
  std::size_t available() const noexcept;

 private:
  friend struct detail::SyncAccess;
  alignas(void*) unsigned char state_[detail::kSyncStateSize];
};

// An event, as Win32's and Winsock's WSAEVENT: manual reset (set wakes every waiter and stays
// set until reset) or automatic reset (set wakes one waiter, or stays set until one waiter
// takes it).
//
// Cancellation: a cancelled wait returns WSAEINTR (WSAETIMEDOUT, WSAENETDOWN); an automatic
// event stays set if it was set for nobody else: a set that raced the cancel goes to the next
// waiter, or stays.
class WEFT_API Event {
 public:
  enum class Reset { manual, automatic };
  explicit Event(Reset kind = Reset::manual, bool signalled = false) noexcept;
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void set() noexcept;
  void reset() noexcept;
  bool is_set() const noexcept;
  // Waits until the event is set; an automatic event's wait takes the signal.
  Status wait(const CancelToken& token = {});
  // Takes the signal of a set event (an automatic one's) without waiting: true if it was set.
  bool try_wait() noexcept;

 private:
  friend struct detail::SyncAccess;
  alignas(void*) unsigned char state_[detail::kSyncStateSize];
};

// A single-use countdown: wait returns once count_down has brought the count to zero.
//
// Cancellation: a cancelled wait returns WSAEINTR (WSAETIMEDOUT, WSAENETDOWN); the count is
// unchanged.
class WEFT_API Latch {
 public:
  explicit Latch(std::size_t count) noexcept;
  ~Latch();
  Latch(const Latch&) = delete;
  Latch& operator=(const Latch&) = delete;

  // Counts down by n (at most to zero); at zero every waiter returns.
  void count_down(std::size_t n = 1) noexcept;
  Status wait(const CancelToken& token = {});
  bool try_wait() const noexcept;

 private:
  friend struct detail::SyncAccess;
  alignas(void*) unsigned char state_[detail::kSyncStateSize];
};

}  // namespace weft
