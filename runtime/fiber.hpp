// weft::detail — the fiber record. Owned by its runtime and touched only on the runtime's
// thread, except `slot`, whose outcome word any thread may compare-and-swap.
#pragma once

#include "call_registrations.hpp"
#include "context.hpp"
#include "fiber_table.hpp"
#include "intrusive_list.hpp"
#include "stack_pool.hpp"
#include "task_queue.hpp"

#include <weft/fiber_id.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace weft {
class CancelToken;
}

namespace weft::detail {

class RuntimeImpl;
struct Fiber;
struct ScopeRecord;

// What a blocking call waits on, as a fiber dump names it (Fiber::wait_value says which).
enum class WaitObj : std::uint8_t {
  none,       // a timer only (sleep), or nothing the dump can name
  socket,     // a socket handle (weft::Socket), a pipe's included
  primitive,  // a mutex, condition variable, semaphore, event, latch or channel: its address
  fiber,      // a fiber's id (join)
  file,       // a file descriptor
  process,    // a child's pid
  signal,     // a signal number
};

// A fiber waiting for another fiber's end (join). Lives on the waiter's stack.
struct JoinWaiter {
  explicit JoinWaiter(Fiber* f) : fiber(f) {}
  Fiber* fiber;
  ListHook<JoinWaiter> hook{this};
};

// The record is three cache lines of what every switch, blocking call and cancel touches,
// aligned so that they are three lines and not four: a fan-out wakes 100,000 fibers whose
// records are cold, and its time is about a memory transfer per line touched (benchmarks.md).
// The scheduler loads them ahead for a fiber about to run (RuntimeImpl::prefetch_ahead).
// What a fiber needs only at its start and end, when joined, or for pseudo-blocking work,
// follows.
struct alignas(64) Fiber {
  // --- line 0: identity, runtime and saved context (the switch), and what a cancel writes ---
  FiberId id = FiberId::none;
  FiberSlot* slot = nullptr;
  RuntimeImpl* rt = nullptr;
  ExecContext ctx;
  // In the run queue (RunQueue: at most once). Here, beside what a cancel reads to fix the
  // outcome (slot, id, rt), so that readying a cold fiber costs one line of its record.
  // (Sanitizer builds add to ExecContext, and the line overflows: only their layout.)
  bool queued = false;

  // --- line 1: the blocking call's state ---
  // The token given to the blocking call under way (its trailing parameter), if any; calls
  // it makes internally (recv_exact's recvs, a lingering close's waits) observe it too.
  const CancelToken* call_token = nullptr;
  ScopeRecord* cancel_scope = nullptr;  // the innermost cancel scope (scope.hpp), or null
  // > 0 while the fiber runs a blocking hook or a message during one of its blocking calls:
  // another blocking call from there returns WSAEINPROGRESS.
  int pseudo_depth = 0;
  // Set when a blocking hook is installed or a message queued: then a blocking call looks at
  // `hook` and `messages` (and clears it when both are empty). Never false while either is
  // set, so the common call never reads their line.
  bool maybe_pseudo = false;
  // What the outstanding (or last) blocking call waits for, for a fiber dump (semantics.md
  // §11): written when the call becomes outstanding (BlockingCall), read on this thread.
  WaitObj wait_obj = WaitObj::none;
  const char* wait_call = nullptr;    // the call's name, a string literal
  std::uint64_t wait_value = 0;       // the object: a socket handle, an address, a pid...
  std::int64_t wait_since_ms = 0;     // the loop's clock (uv_now) when it became outstanding
  std::int64_t wait_deadline_ns = 0;  // the call's own deadline (CallDeadline), 0 if none

  // --- line 2: the outstanding call's registrations on its tokens (BlockingCall) ---
  alignas(64) CallRegistrations call_registrations;

  // --- cold ---
  // Pseudo-blocking (semantics.md §5): the fiber's blocking hook, and messages posted to it.
  std::function<bool()> hook;
  TaskQueue messages;
  TaskPtr task;
  std::string name;
  // Where it was spawned (SpawnOptions::where): string literals of static storage.
  const char* spawn_function = nullptr;
  const char* spawn_file = nullptr;
  std::uint32_t spawn_line = 0;
  std::size_t stack_request = 0;
  Stack stack;
  ListHook<Fiber> all_hook{this};  // linked while alive in its runtime
  IntrusiveList<JoinWaiter> joiners;
  // Mutexes (weft/sync.hpp) the fiber has locked and not unlocked: it should end with none.
  int mutexes_held = 0;

  std::uint64_t gen() const noexcept { return gen_of_id(id); }
  // Its name as dumps and logs give it: the one given at spawn, else the spawning function's.
  const char* display_name() const noexcept {
    if (!name.empty()) return name.c_str();
    return spawn_function ? spawn_function : "";
  }
  CallState call_state() const noexcept { return slot->word.state(); }
  // The only writers of `messages` and `hook`, which keep maybe_pseudo true while either is
  // set (the fiber's own thread).
  void queue_message(TaskPtr m) {
    messages.push_back(std::move(m));
    maybe_pseudo = true;
  }
  // Installs `h` as the blocking hook; `h` gets the previous one.
  void swap_hook(std::function<bool()>& h) noexcept {
    std::swap(hook, h);
    if (hook) maybe_pseudo = true;
  }
  // Whether a hook or messages await (clears maybe_pseudo when neither does).
  bool has_pseudo_work() noexcept {
    if (!maybe_pseudo) return false;
    if (hook || !messages.empty()) return true;
    maybe_pseudo = false;
    return false;
  }
};

}  // namespace weft::detail
