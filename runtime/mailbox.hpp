// weft::detail — the part of a runtime that other OS threads touch: its mailbox, its wake-up
// and its stopping flags.
//
// Lifetimes:
//   1. The Runtime holds one reference from construction to destruction; a foreign thread
//      holds one for the duration of a call (registry_acquire ... release).
//   2. The registry maps a small index to the block while the Runtime exists; a fiber's slot
//      records that index (FiberSlot::runtime_index).
//   3. The eventfd is closed only when the last reference goes, so a foreign wake-up never
//      writes to a descriptor the process has reused. A uv_async_t belongs to the loop, so
//      that wake-up is done under a lock that the Runtime's destructor takes to detach it.
#pragma once

#include "counters.hpp"
#include "spin_lock.hpp"

#include <weft/fiber_id.hpp>
#include <weft/runtime.hpp>
#include <weft/task.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include <uv.h>

namespace weft::detail {

struct Fiber;

struct Message {
  enum class Kind : std::uint8_t {
    wake,        // the fiber `id`'s call was cancelled from another thread: make it ready
    spawn,       // start `fiber`, spawned from another thread
    post,        // run `task` on the loop thread, outside any fiber
    fiber_post,  // run `task` on fiber `id`'s stack (a fiber message)
  };
  Kind kind;
  FiberId id = FiberId::none;
  Fiber* fiber = nullptr;
  TaskPtr task;
};

class RuntimeMailbox {
 public:
  // Creates the block with one reference and registers it. nullptr on failure (errno set).
  static RuntimeMailbox* create(WakeMethod wake);

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;
  // Called once by the Runtime's destructor: unregisters, detaches any uv_async, refuses
  // further pushes and hands back the messages still queued for the caller to dispose of.
  void close(std::vector<Message>& leftover) noexcept;

  std::uint32_t index() const noexcept { return index_; }
  WakeMethod wake_method() const noexcept { return wake_method_; }
  int event_fd() const noexcept { return efd_; }

  // Queues a message and wakes the loop. False once the runtime is closed (the message is
  // dropped).
  bool push(Message&& m);
  // Queues a wake message for fiber `id` (a foreign cancel's) and wakes the loop; the same
  // as push(Message{wake, id}), but while no other message is queued it is kept in the
  // mailbox's own cache line, so that the cancelling thread and the loop share one line
  // transfer for it instead of two. False once the runtime is closed.
  bool push_wake(FiberId id) noexcept;

  // What take() hands the loop: the wakes kept inline, then the other messages, together
  // in the order they were pushed (inline wakes are only kept while `messages` is empty).
  static constexpr unsigned kInlineWakes = 4;
  struct Batch {
    FiberId wakes[kInlineWakes];
    unsigned wake_count = 0;
    std::vector<Message> messages;
  };
  // Moves every queued message to `out` (whose `messages` must be empty). Loop thread.
  void take(Batch& out);
  // Wakes the loop if no wake-up is already on its way. Any thread.
  void wake() noexcept;
  // Loop thread, before it takes the queue: the next push wakes the loop again. A wake-up
  // already delivered by the eventfd stays readable until reset_wake().
  void begin_drain() noexcept { signalled_.store(0, std::memory_order_seq_cst); }
  // Loop thread: reads the eventfd back to zero, so that the loop's next poll sleeps. Done
  // after the fibers a drain made ready have run, not before: the read is a syscall on the
  // path from a foreign cancel to its fiber. A push whose write this read swallowed has
  // set wake_pending() again; the caller drains once more before it polls.
  void reset_wake() noexcept;
  bool wake_pending() const noexcept {
    return signalled_.load(std::memory_order_seq_cst) & kSignalled;
  }

  // Loop thread, with no fiber to run, instead of sleeping: watches for a push until
  // `deadline_ns` (the loop's clock, RuntimeImpl::now_ns). Pushes made meanwhile make no wake-up
  // syscall; the loop sees them within a cache-line transfer.
  enum class Spin {
    pushed,     // a push came while watching: take it (begin_drain); nothing to read back
    pending,    // a wake-up was already on its way (perhaps an eventfd write): as usual
    timed_out,  // none came: the next push wakes the loop as before the watch
  };
  Spin spin_until(std::int64_t deadline_ns) noexcept;
  // When the last push that made a wake-up syscall made it (RuntimeImpl::now_ns). Loop
  // thread, once that wake-up has arrived.
  std::int64_t woken_at() const noexcept { return woken_at_.load(std::memory_order_relaxed); }

  void attach_async(uv_async_t* a) noexcept;

  // Read by every thread, written rarely: a line of their own, apart from the reference
  // count that foreign threads write on every call, and from the queue.
  alignas(64) std::atomic<bool> stopping{false};  // stop() was called: final
  std::atomic<bool> closed{false};                // the Runtime is being destroyed
  std::atomic<std::int64_t> holds{0};  // Runtime::hold() minus release(): run() waits while > 0

 private:
  RuntimeMailbox() = default;
  ~RuntimeMailbox();

  std::uint32_t index_ = 0;
  WakeMethod wake_method_ = WakeMethod::eventfd;
  int efd_ = -1;

  // Written by each foreign call (acquire and release): never on a line the loop reads on
  // every call (the line above holds `stopping`, which every blocking call reads).
  alignas(64) std::atomic<int> refs_{1};
  // When the last wake-up syscall was made (RuntimeImpl::now_ns): a loop woken by it learns how
  // long after it went to sleep the push came (spin_until). Read once per such wake-up.
  std::atomic<std::int64_t> woken_at_{0};

  // What a push touches, on one cache line of its own: the loop thread writes it on every
  // drain, so a foreign push that finds it all on one line waits for one transfer between
  // cores instead of several. The lock is held only to append, or to copy and swap.
  alignas(64) SpinLock queue_lock_;
  // kSignalled: a wake-up is on its way, or the loop will look before it sleeps; a push
  // that finds it set makes no syscall. kSpinning: the loop is watching (spin_until), and a
  // push that sets kSignalled then makes no syscall either. Both cleared by begin_drain.
  static constexpr std::uint8_t kSignalled = 1;
  static constexpr std::uint8_t kSpinning = 2;
  std::atomic<std::uint8_t> signalled_{0};
  std::uint8_t inline_count_ = 0;
  FiberId inline_wakes_[kInlineWakes] = {};
  std::vector<Message> queue_;

  static_assert(sizeof(SpinLock) + sizeof(std::atomic<std::uint8_t>) + 1 + 5 +
                        sizeof(FiberId) * kInlineWakes + sizeof(std::vector<Message>) <=
                    64,
                "the mailbox no longer fits one cache line");

  alignas(64) std::mutex mu_;  // guards async_
  uv_async_t* async_ = nullptr;

 public:
  // The runtime's counters (counters.hpp): here, so that any thread holding a reference
  // reads them, whatever the runtime's thread is doing.
  RuntimeCounters counters;
};

// A reference to the runtime registered at `index`, or nullptr. The caller releases it.
RuntimeMailbox* registry_acquire(std::uint32_t index) noexcept;
// A reference to every registered runtime, in index order. The caller releases each.
std::vector<RuntimeMailbox*> registry_all();

}  // namespace weft::detail
