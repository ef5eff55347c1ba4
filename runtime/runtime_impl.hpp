// weft::detail — the engine behind weft::Runtime: the libuv loop, the run queue, fibers'
// creation and end, the timer heap, the mailbox drain and runtime stop.
//
// The scheduler keeps a FIFO run queue. When it is empty it runs the loop once
// (uv_run(UV_RUN_ONCE)); libuv callbacks only mark fibers ready, so no fiber code ever runs
// inside a libuv callback. At most 61 fibers run between two polls of the loop, so fibers
// that keep yielding cannot starve I/O and timers.
#pragma once

#include "counters.hpp"
#include "fiber.hpp"
#include "fiber_table.hpp"
#include "intrusive_list.hpp"
#include "mailbox.hpp"
#include "run_queue.hpp"
#include "stack_pool.hpp"
#include "timer_heap.hpp"

#include <weft/runtime.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <uv.h>

namespace weft::detail {

class RuntimeImpl;

// A libuv handle of this runtime's loop that a public object owns and that may outlive the
// runtime's run() (a child process's watcher, api/process.cpp): linked in the runtime's list
// while open, and told when the runtime is destroyed, so that it closes its handle before the
// loop closes.
struct RuntimeHandle {
  virtual void runtime_ending() noexcept = 0;
  ListHook<RuntimeHandle> hook{this};

 protected:
  ~RuntimeHandle() = default;
};
class SocketTable;

// The runtime running on this thread (nullptr when none). Read by nearly every call, so it
// uses the initial-exec model: a fixed offset from the thread pointer, not a __tls_get_addr
// call per read as the default model costs code in a shared library. (The price: libweft.so
// takes 8 bytes of the static TLS block, which glibc keeps room for even when the library is
// loaded by dlopen.)
#define WEFT_TLS_FAST __attribute__((tls_model("initial-exec")))
extern constinit thread_local RuntimeImpl* tls_runtime WEFT_TLS_FAST;

class RuntimeImpl {
 public:
  RuntimeImpl(Runtime* owner, const RuntimeOptions& options);
  ~RuntimeImpl();
  RuntimeImpl(const RuntimeImpl&) = delete;
  RuntimeImpl& operator=(const RuntimeImpl&) = delete;

  // --- any thread ---
  Status run();
  void stop() noexcept;
  void hold() noexcept;
  void release() noexcept;
  Result<FiberId> spawn(TaskPtr task, SpawnOptions options);
  Status post(TaskPtr task);
  RuntimeStats stats() const noexcept;
  RuntimeMailbox& mailbox() noexcept { return *mailbox_; }
  std::uint32_t index() const noexcept { return mailbox_->index(); }
  bool stopping() const noexcept { return mailbox_->stopping.load(std::memory_order_acquire); }
  Runtime* owner() const noexcept { return owner_; }
  const RuntimeOptions& options() const noexcept { return options_; }
  RuntimeOptions& options() noexcept { return options_; }

  // --- the runtime's thread only ---
  Fiber* current() const noexcept { return current_; }
  uv_loop_t* loop() noexcept { return &loop_; }
  TimerHeap& timers() noexcept { return timers_; }
  SocketTable& sockets() noexcept { return *sockets_; }
  IntrusiveList<RuntimeHandle>& handles() noexcept { return handles_; }
  // Every fiber with a stack, started or not (a fiber dump walks them).
  IntrusiveList<Fiber>& fibers() noexcept { return all_; }
  // Steady-clock nanoseconds.
  static std::int64_t now_ns() noexcept;

  // Puts f at the back of the run queue unless it is already queued.
  void make_ready(Fiber* f) noexcept;
  // The runtime may spin before it sleeps or parks (RuntimeOptions::spin_before_sleep > 0).
  bool spins() const noexcept { return spin_max_ns_ > 0; }
  // A fiber of this runtime handed something to a fiber of another runtime or to a plain
  // thread, and woke it (Wakes): the loop may soon be woken by an answer (spin_before_sleep).
  void note_woke_elsewhere() noexcept { woke_elsewhere_ = true; }
  // Fixes the outcome of f's outstanding call to `how` if it is still pending, and makes f
  // ready. False when something else fixed it first (the loser does nothing).
  bool complete(Fiber* f, CallState how = CallState::completed) noexcept;
  // The current fiber gives the thread back to the scheduler until made ready again.
  void suspend() noexcept;
  void yield() noexcept;

  // A fiber spawned on this thread: created and queued at once.
  Result<FiberId> spawn_local(TaskPtr task, SpawnOptions options);

  // The runtime's counters (counters.hpp): written on this thread, read from any.
  RuntimeCounters& counters() noexcept { return *counters_; }

 private:
  static void fiber_entry(bctx::transfer_t t);
  Fiber* new_fiber(TaskPtr task, SpawnOptions options, Status& err);
  bool attach_stack(Fiber* f) noexcept;
  void switch_to(Fiber* f) noexcept;
  // Counts a switch into fiber `to` and records it as the one the thread runs
  // (RuntimeCounters::running): the counters' address read once, as the switch counter's store
  // may alias it.
  void count_switch_into(const Fiber* to) noexcept {
    RuntimeCounters& counted = *counters_;
    bump(counted.switches);
    counted.running.store(to_integer(to->id), std::memory_order_relaxed);
  }
  Fiber* pop_ready() noexcept;
  // Loads the records and stacks of fibers a few places back in the run queue
  // (prefetch_queued): inline, for the commonest case, a queue too short to hold any.
  void prefetch_ahead() noexcept {
    if (ready_.size() > kStackAhead) prefetch_queued();
  }
  void prefetch_queued() noexcept;
  static constexpr std::size_t kRecordAhead = 8, kStackAhead = 4;
  void finish(Fiber* f) noexcept;
  void discard_unstarted(Fiber* f) noexcept;
  void run_ready() noexcept;
  void drain_mailbox() noexcept;
  void sweep_for_stop() noexcept;
  bool spin_before_sleep() noexcept;
  void learn_spin(std::int64_t after_ns) noexcept;
  void arm_loop_timer() noexcept;
  void fire_timers() noexcept;
  void update_stack_stats() noexcept;
  void count_spawn() noexcept {
    bump(counters_->fibers_spawned);
    raise_to(counters_->fibers_high_water, counters_->alive.load(std::memory_order_relaxed));
  }
  static void run_task_outside_fiber(Task& task) noexcept;

  Runtime* owner_;
  RuntimeOptions options_;
  RuntimeMailbox* mailbox_;
  RuntimeCounters* counters_ = nullptr;  // in the mailbox block
  uv_loop_t loop_;
  uv_poll_t wake_poll_;
  uv_async_t wake_async_;
  uv_timer_t loop_timer_;
  std::int64_t loop_timer_due_ = -1;

  ExecContext sched_;
  Fiber* current_ = nullptr;
  // Switches left before the loop is polled again (run_ready and the fibers' hand-offs).
  int budget_ = 0;
  RunQueue ready_;
  std::size_t fibers_ = 0;  // fibers with a stack: the run queue has room for each
  IntrusiveList<Fiber> all_;
  TimerHeap timers_;
  StackPool stacks_;
  std::unique_ptr<SocketTable> sockets_;
  IntrusiveList<RuntimeHandle> handles_;
  RuntimeMailbox::Batch inbox_;

  bool running_ = false;
  bool in_uv_run_ = false;
  bool wake_unread_ = false;      // the eventfd delivered a wake-up not yet read back
  bool woke_by_mailbox_ = false;  // the loop's last poll ran the mailbox's wake-up
  bool woke_elsewhere_ = false;   // a fiber woke another thread since the loop last slept
  // The longest watch (RuntimeOptions::spin_before_sleep, at most a second), in ns; 0 or
  // less: never watch. Fixed with the options.
  std::int64_t spin_max_ns_ = 0;
  // How long the next watch of the mailbox before a sleep may last (spin_before_sleep), in
  // ns: 0 until a short sleep ends in a wake-up from another thread.
  std::int64_t spin_ns_ = 0;
  // After watches ran out down to nothing: short sleeps to go before one may teach the
  // watch again, and what the next such time sets it to (doubling, reset by a watch that
  // catches a wake-up).
  std::uint32_t spin_cooldown_ = 0;
  std::uint32_t spin_backoff_ = 0;
  bool stop_swept_ = false;
  std::atomic<bool> stopped_{false};  // a run() ended after stop(): final; read by post()
};

// Inline: every cancel, completion and yield makes a fiber ready.
inline void RuntimeImpl::make_ready(Fiber* f) noexcept {
  if (f->queued) return;
  f->queued = true;
  ready_.push_back(f);
  // Inside a libuv callback: the uv_run under way must not block in its poll any more.
  if (in_uv_run_) uv_stop(&loop_);
}

inline Fiber* RuntimeImpl::pop_ready() noexcept {
  Fiber* f = ready_.pop_front();
  if (f) f->queued = false;
  return f;
}

// Inline: it is the last frame a parked fiber leaves and the first it comes back to.
inline void RuntimeImpl::suspend() noexcept {
  Fiber* f = current_;
  // The hand-off: the next ready fiber runs straight from here, without a round trip through
  // the scheduler (one context switch instead of two). The scheduler's budget bounds a chain
  // of hand-offs as it bounds its own loop, so the loop is still polled; a stop to sweep, or
  // nothing ready, returns to the scheduler.
  if (budget_ > 0 && (stop_swept_ || !stopping())) {
    if (Fiber* next = pop_ready()) {
      --budget_;
      if (next == f) return;  // a yield with nobody else ready
      prefetch_ahead();
      current_ = next;
      count_switch_into(next);
      switch_context(f->ctx, next->ctx, next);
      return;
    }
  }
  switch_context(f->ctx, sched_, nullptr);
}

}  // namespace weft::detail
