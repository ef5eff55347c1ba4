// weft — the runtime: one libuv loop on one OS thread, running many fibers.
//
// Threading (the whole contract):
//   * run() executes on the thread that calls it; every fiber of this runtime runs there.
//   * spawn(), post() and stop() are thread-safe: any OS thread, any fiber of any runtime.
//   * Everything else about a runtime (its sockets, its fibers' state, stats()) belongs to the
//     thread running it; from elsewhere the calls return WSAEINVAL, never undefined behaviour.
//   * Many runtimes may live in one process, one per thread.
//
// Lifetimes:
//   1. A Runtime may be run any number of times until it is stopped; run() returns when every
//      fiber has ended (at once if there are none), no cancelled connect is still held by
//      the runtime (each ends within RuntimeOptions::connect_reap_timeout) and no hold() is
//      outstanding.
//   2. A fiber spawned while the runtime is not running waits for the next run(). Fibers still
//      waiting when the Runtime is destroyed are destroyed without running.
//   3. stop() is final: outstanding blocking calls return WSAENETDOWN, later blocking calls
//      return WSAENETDOWN at once, fibers unwind normally, and run() returns when they have
//      ended. A stopped runtime accepts no new fibers (WSAENETDOWN).
//   4. The Runtime must outlive its run(); destroying it from one of its own fibers is an error.
#pragma once

#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/fiber_id.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace weft {

namespace detail {
class RuntimeImpl;
}

// How foreign threads wake a sleeping loop. Both coalesce wake-ups; they differ in latency
// (see docs/benchmarks.md for the measured figures that made eventfd the default).
enum class WakeMethod {
  eventfd,   // an eventfd watched by a uv_poll_t: one write(2), one read(2) per wake
  uv_async,  // libuv's uv_async_send
};

struct RuntimeOptions {
  // Usable stack per fiber; rounded up to whole pages, at least 16 KiB (0: this default).
  // Only touched pages cost memory: the stack is reserved address space, and a fiber blocked
  // in recv touches about one page of it. The default holds a 64 KiB buffer on the stack
  // (C code written for Winsock keeps its receive buffer there) and the calls around it,
  // with room to spare.
  std::size_t stack_size = 256 * 1024;
  // Stacks with a guard page cost two kernel memory mappings each, and vm.max_map_count caps
  // mappings per process (65530 by default). Past this many guarded stacks (0: derived from
  // vm.max_map_count, leaving room for the rest of the process), new stacks come from shared
  // slabs without a guard page: an overflow there is not caught. stats() counts both kinds.
  std::size_t guarded_stack_limit = 0;
  // Finished fibers' stacks kept for reuse; beyond this they are returned to the kernel.
  std::size_t stack_pool_size = 1024;
  // While a fiber is blocked with a blocking hook installed, the hook runs this often.
  std::chrono::milliseconds blocking_hook_interval{100};
  // Portable mode: a cancelled call on a socket (other than accept/select) resets it, as the
  // strictest Winsock provider may (semantics.md §3). Default: precise mode.
  bool portable_mode = false;
  WakeMethod wake = WakeMethod::eventfd;
  // A cancelled connect's kernel socket is held until its attempt ends (then reset if it
  // connected); past this time the attempt is abandoned and the socket freed.
  std::chrono::milliseconds connect_reap_timeout{30'000};
  // When another thread's wake-ups reach the loop in quick succession (a fiber of another
  // runtime or a plain thread hands this runtime's fibers values, locks, cancels), the loop,
  // with no fiber to run, watches its mailbox for a while before it sleeps: a wake-up from
  // another thread then costs a cache-line transfer instead of a sleeping thread's wake-up
  // (the kernel's, and the hypervisor's on a virtual machine: tens of microseconds). Only a
  // loop whose fibers have themselves woken another thread since it last slept (a value, a
  // lock handed over: it may be waiting for the answer) watches, and the watch is learnt:
  // it starts after a wake-up that came soon after the loop went to sleep, for twice that
  // interval (at most this long); a watch that runs out halves it, and one that halves to
  // nothing backs off for longer each time. A loop that only waits for sockets and timers,
  // or is only handed work, never watches. While it watches, the loop does
  // not poll its sockets: their readiness waits for the watch to end (a due timer ends it).
  // RuntimeStats::spin_wakeups and spins_timed_out say what watching did. 0 (or less): sleep
  // at once, always (a machine whose cores are all busy anyway, where a watch holds a core
  // another thread wants), and no fiber of this runtime watches a channel's full or empty
  // buffer before it parks either (weft/channel.hpp). Longer than a second counts as a second.
  std::chrono::microseconds spin_before_sleep{30};
};

// Where a fiber was spawned, for a fiber dump: filled in where current() is called (a default
// member initialiser counts as the place the object is made). String literals.
struct SpawnSite {
  const char* function = "";
  const char* file = "";
  unsigned line = 0;
  static constexpr SpawnSite current(const char* function = __builtin_FUNCTION(),
                                     const char* file = __builtin_FILE(),
                                     unsigned line = __builtin_LINE()) noexcept {
    return {function, file, line};
  }
};

struct SpawnOptions {
  // A name for diagnostics (fiber dumps, stack overflow reports, logs). Optional: without
  // one, the fiber is known by the function that spawned it.
  std::string name;
  // Usable stack size for this fiber; 0 takes the runtime's stack_size.
  std::size_t stack_size = 0;
  // Where the fiber was spawned: filled in at the spawn call (the default argument
  // `SpawnOptions options = {}` is made there), shown by a fiber dump.
  SpawnSite where = SpawnSite::current();
};

// A runtime's counters (semantics.md §11). Reading them costs the runtime nothing: its thread
// writes each with a plain store, and any thread may read them, even while that thread is
// stuck. Gauges say what is now; the rest only grow.
struct RuntimeStats {
  std::uint64_t fibers_alive = 0;      // spawned and not yet finished
  std::uint64_t sockets_open = 0;      // socket handles not yet closed
  std::uint64_t pending_connects = 0;  // kernel sockets held by cancelled connects
  std::uint64_t stacks_guarded = 0;    // stacks in use or pooled that have a guard page
  std::uint64_t stacks_unguarded = 0;  // stacks in use or pooled from unguarded slabs
  std::uint64_t stacks_pooled = 0;     // stacks kept for reuse
  std::uint64_t context_switches = 0;  // scheduler-to-fiber switches
  std::uint64_t loop_iterations = 0;   // uv_run calls
  std::uint64_t wakeups = 0;           // cross-thread wake-ups received
  // Watches of the mailbox before a sleep (RuntimeOptions::spin_before_sleep): those a
  // wake-up from another thread ended (counted in wakeups too), and those that ran out.
  std::uint64_t spin_wakeups = 0;
  std::uint64_t spins_timed_out = 0;
  // Watches of a channel's full or empty buffer before a send or a receive parks (see
  // weft/channel.hpp): those that saw room or a value, and those that ran out.
  std::uint64_t channel_watches = 0;
  std::uint64_t channel_watches_timed_out = 0;

  std::uint64_t fibers_spawned = 0;      // fibers started, ever
  std::uint64_t fibers_high_water = 0;   // the most fibers alive at once
  std::uint64_t sockets_high_water = 0;  // the most socket handles open at once
  std::uint64_t stack_fallbacks = 0;     // stacks taken unguarded: the guarded limit was hit

  // Blocking calls that waited (became outstanding), by how they ended; a call that
  // completed without waiting is not counted.
  std::uint64_t calls_completed = 0;  // completion came first
  std::uint64_t calls_cancelled = 0;  // WSAEINTR: a cancel or a token
  std::uint64_t calls_timed_out = 0;  // WSAETIMEDOUT: a deadline
  std::uint64_t calls_stopped = 0;    // WSAENETDOWN: the runtime stopped
  // Cancel requests (weft::cancel, WSPCancelBlockingCall) made from this runtime's thread, by
  // reply. Requests from threads that run no runtime: debug::thread_cancels().
  std::uint64_t cancels_ok = 0;        // 0: the call was cancelled, or had already completed
  std::uint64_t cancels_einval = 0;    // WSAEINVAL: no outstanding call
  std::uint64_t cancels_enetdown = 0;  // WSAENETDOWN: the runtime had stopped
  // Sockets a cancel reset (the one table of semantics.md §3: RST for TCP), and kernel
  // sockets of cancelled connects freed by the reaper.
  std::uint64_t resets_by_cancel = 0;
  std::uint64_t connects_reaped = 0;

  // Adds `o` field by field (a RuntimeGroup's sum: its high-water marks are the sum of each
  // runtime's, an upper bound of the group's).
  RuntimeStats& operator+=(const RuntimeStats& o) noexcept;
};

class WEFT_API Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs the loop on the calling thread until every fiber has ended.
  // Errors: WSAEINVAL if this thread is already running a runtime, or from one of this
  // runtime's fibers; WSAENETDOWN if the runtime was stopped before.
  Status run();

  // Thread-safe, never blocks, idempotent. See lifetime rule 3.
  void stop() noexcept;
  // True once stop() has been called. Thread-safe.
  bool stop_requested() const noexcept;

  // Keeps run() going while the runtime has no fiber, for a runtime that is handed its work
  // from other threads (spawn, post): with a hold outstanding, run() returns only after
  // stop(). Thread-safe; every hold() is ended by one release(). (RuntimeGroup holds its
  // runtimes until its finish().)
  void hold() noexcept;
  void release() noexcept;

  // Starts a fiber running fn. Thread-safe. From the runtime's own thread the fiber is
  // created at once (its stack allocated: WSAENOBUFS if that fails); from another thread it
  // is created by the loop when it next wakes, and a stack failure then is logged.
  // Errors: WSAENETDOWN once stopped; WSAENOBUFS out of memory.
  template <class F>
  Result<FiberId> spawn(F&& fn, SpawnOptions options = {}) {
    return spawn_task(detail::make_task(std::forward<F>(fn)), std::move(options));
  }

  // Runs fn on the runtime's thread, outside any fiber (so it must not block: blocking calls
  // there return WSAEINVAL). Thread-safe; fn runs in the order posts were made from one
  // thread. Errors: WSAENETDOWN once the runtime has stopped and run() returned.
  template <class F>
  Status post(F&& fn) {
    return post_task(detail::make_task(std::forward<F>(fn)));
  }

  // The runtime's counters. Exact on the runtime's thread or while it is not running; from
  // another thread, a recent snapshot.
  RuntimeStats stats() const noexcept;

  const RuntimeOptions& options() const noexcept;

  // The runtime's index, as its log lines ("runtime N"), its metrics (runtime="N") and a fiber
  // dump (debug::RuntimeDump::index) name it: unique among the runtimes alive. Any thread.
  std::uint32_t index() const noexcept;

  // Sets portable mode (see RuntimeOptions); returns the previous setting. Runtime thread
  // or while not running.
  bool set_portable_mode(bool on) noexcept;

  // The runtime running on the calling thread, or nullptr.
  static Runtime* current() noexcept;

 private:
  Result<FiberId> spawn_task(detail::TaskPtr task, SpawnOptions options);
  Status post_task(detail::TaskPtr task);

  detail::RuntimeImpl* impl_;
};

}  // namespace weft
