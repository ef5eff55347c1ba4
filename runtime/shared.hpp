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
    wake,      // the fiber `id`'s call was cancelled from another thread: make it ready
    spawn,     // start `fiber`, spawned from another thread
    post,      // run `task` on the loop thread, outside any fiber
    fiber_post,  // run `task` on fiber `id`'s stack (a fiber message)
  };
  Kind kind;
  FiberId id = FiberId::none;
  Fiber* fiber = nullptr;
  TaskPtr task;
};

class RuntimeShared {
 public:
  // Creates the block with one reference and registers it. nullptr on failure (errno set).
  static RuntimeShared* create(WakeMethod wake);

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
  // Moves every queued message to `out` (which must be empty). Loop thread.
  void take(std::vector<Message>& out);
  // Wakes the loop if no wake-up is already on its way. Any thread.
  void wake() noexcept;
  // Loop thread, when the wake-up arrives: consumes it so that the next push wakes again.
  void consume_wake() noexcept;
  bool wake_pending() const noexcept { return signalled_.load(std::memory_order_acquire); }

  void attach_async(uv_async_t* a) noexcept;

  std::atomic<bool> stopping{false};  // stop() was called: final
  std::atomic<bool> closed{false};    // the Runtime is being destroyed
  std::atomic<std::int64_t> holds{0}; // Runtime::hold() minus release(): run() waits while > 0
  std::atomic<std::uint64_t> wakeups{0};

 private:
  RuntimeShared() = default;
  ~RuntimeShared();

  std::atomic<int> refs_{1};
  std::uint32_t index_ = 0;
  WakeMethod wake_method_ = WakeMethod::eventfd;
  int efd_ = -1;

  // What a push touches, on one cache line of its own: the loop thread writes all three on
  // every drain, so a foreign push that finds them on one line waits for one transfer
  // between cores instead of three. The lock is held only to append or to swap the vector.
  alignas(64) SpinLock queue_lock_;
  std::atomic<bool> signalled_{false};
  std::vector<Message> queue_;

  alignas(64) std::mutex mu_;  // guards async_
  uv_async_t* async_ = nullptr;
};

// A reference to the runtime registered at `index`, or nullptr. The caller releases it.
RuntimeShared* registry_acquire(std::uint32_t index) noexcept;

}  // namespace weft::detail
