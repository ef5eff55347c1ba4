// weft::detail — the fiber record. Owned by its runtime and touched only on the runtime's
// thread, except `slot`, whose outcome word any thread may compare-and-swap.
#pragma once

#include "context.hpp"
#include "fiber_table.hpp"
#include "intrusive_list.hpp"
#include "registrations.hpp"
#include "stack_pool.hpp"
#include "task_queue.hpp"

#include <weft/fiber_id.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <functional>
#include <string>

namespace weft {
class CancelToken;
}

namespace weft::detail {

class RuntimeImpl;
struct Fiber;

// A fiber waiting for another fiber's end (join). Lives on the waiter's stack.
struct JoinWaiter {
  explicit JoinWaiter(Fiber* f) : fiber(f) {}
  Fiber* fiber;
  ListHook<JoinWaiter> hook{this};
};

// Fiber-local storage slots reserved for the runtime's own layers (cancel scopes, hooks).
enum class FiberLocal : unsigned { cancel_scope = 0, blocking_hook = 1, user_data = 2, count = 4 };

// The fields every switch and blocking call touches come first, in about four cache lines
// (the scheduler loads them ahead for a fiber about to run: RuntimeImpl::prefetch_front);
// those a fiber needs only at its start and end, or when joined, follow.
struct Fiber {
  FiberId id = FiberId::none;
  FiberSlot* slot = nullptr;
  RuntimeImpl* rt = nullptr;
  ExecContext ctx;

  ListHook<Fiber> ready_hook{this};  // linked while in the run queue
  // The token given to the blocking call under way (its trailing parameter), if any; calls
  // it makes internally (recv_exact's recvs, a lingering close's waits) observe it too.
  const CancelToken* call_token = nullptr;
  // > 0 while the fiber runs a blocking hook or a message during one of its blocking calls:
  // another blocking call from there returns WSAEINPROGRESS.
  int pseudo_depth = 0;
  // Pseudo-blocking (semantics.md §5): the fiber's blocking hook, and messages posted to it.
  std::function<bool()> hook;
  TaskQueue messages;
  void* locals[static_cast<unsigned>(FiberLocal::count)] = {};
  // The outstanding call's registrations on its tokens (BlockingCall).
  ScopeRegistrations call_registrations;

  TaskPtr task;
  std::string name;
  std::size_t stack_request = 0;
  Stack stack;
  ListHook<Fiber> all_hook{this};    // linked while alive in its runtime
  IntrusiveList<JoinWaiter> joiners;

  std::uint64_t gen() const noexcept { return gen_of_id(id); }
  CallState call_state() const noexcept {
    return state_of(slot->word.load(std::memory_order_acquire));
  }
};

}  // namespace weft::detail
