// weft — fibers: spawn, join, yield, sleep.
//
// Every function here is called from a fiber (or, for spawn, from the runtime's thread);
// elsewhere it returns WSAEINVAL. Blocking calls (join, sleep_for, sleep_until) suspend only
// the calling fiber; the runtime's other fibers run meanwhile. Each takes a CancelToken as
// its last parameter and checks, as every blocking call does (semantics.md §7a): WSAEINVAL off
// a fiber or for a bad argument, WSAEINPROGRESS from a hook or message of a blocked fiber,
// WSAENETDOWN once the runtime stops, then a cancelled token (or enclosing CancelScope) fails
// the call at once with its reason, even where it would not have had to wait.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/fiber_id.hpp>
#include <weft/runtime.hpp>
#include <weft/task.hpp>

#include <chrono>

namespace weft {

namespace detail {
WEFT_API Result<FiberId> spawn_here(TaskPtr task, SpawnOptions options);
}

// Starts a fiber on the calling thread's runtime (from a fiber or a post()ed function).
// Errors: WSAEINVAL with no runtime on this thread; WSAENETDOWN if it is stopping;
// WSAENOBUFS if no stack could be had.
template <class F>
Result<FiberId> spawn(F&& fn, SpawnOptions options = {}) {
  return detail::spawn_here(detail::make_task(std::forward<F>(fn)), std::move(options));
}

// Waits until fiber f has ended, whichever runtime f belongs to; returns 0 at once if it
// already has (after the checks above: clean-up that must collect its fibers under a
// cancelled scope runs inside a shielded one).
// Errors: WSAEINVAL if f never existed or is the caller itself; WSAEINPROGRESS from a hook or
// message of a blocked fiber; WSAENETDOWN once the runtime stops.
// Cancellation: a cancelled join returns WSAEINTR; f runs on, and join may be called again.
WEFT_API Status join(FiberId f, const CancelToken& token = {});

namespace this_fiber {

// The calling fiber's id, or FiberId::none outside a fiber.
WEFT_API FiberId id() noexcept;

// The token that applies to the calling fiber's next blocking call: its cancel scopes' (up to
// the nearest shielded one) and so its FiberGroup's, merged into one — cancelled as soon as
// any of them is, with that one's reason. Hand it to what the fiber starts (a plain spawn
// inherits nothing). A default token outside a fiber or any scope.
WEFT_API CancelToken cancel_token();

// Lets every other ready fiber run once, then continues. Not a blocking call: it cannot be
// cancelled, and outside a fiber it does nothing.
WEFT_API void yield() noexcept;

// Suspends the fiber until the time has passed (steady clock). A duration <= 0 or a time
// point already past returns at once without suspending (so no cancel_blocking_call can
// reach it), after the checks above: under a cancelled token it fails with the token's
// reason, so `while (busy()) sleep_for(0ns);` stops when its scope is cancelled.
// Errors: WSAEINVAL outside a fiber; WSAEINPROGRESS from a hook or message of a blocked
// fiber; WSAENETDOWN once the runtime stops.
// Cancellation: a cancelled sleep returns WSAEINTR at once and its timer is removed.
WEFT_API Status sleep_until(std::chrono::steady_clock::time_point deadline,
                            const CancelToken& token = {});
WEFT_API Status sleep_for(std::chrono::nanoseconds duration, const CancelToken& token = {});

}  // namespace this_fiber

}  // namespace weft
