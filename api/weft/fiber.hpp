// weft — fibers: spawn, join, yield, sleep.
//
// Every function here is called from a fiber (or, for spawn, from the runtime's thread);
// elsewhere it returns WSAEINVAL. Blocking calls (join, sleep_for, sleep_until) suspend only
// the calling fiber; the runtime's other fibers run meanwhile. Each takes a CancelToken as
// its last parameter: a cancelled one (or a cancelled enclosing CancelScope) makes the call
// fail at once with its reason, as for the socket calls (net.hpp).
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

// Waits until fiber f has ended. Returns 0 at once if it already has — even under a
// cancelled token or during runtime stop, so that clean-up can always collect its fibers.
// Errors: WSAEINVAL if f never existed, is the caller itself, or belongs to another runtime;
// WSAEINPROGRESS from a hook or message of a blocked fiber.
// Cancellation: a cancelled join returns WSAEINTR; f runs on, and join may be called again.
// At runtime stop it returns WSAENETDOWN.
WEFT_API Status join(FiberId f, const CancelToken& token = {});

namespace this_fiber {

// The calling fiber's id, or FiberId::none outside a fiber.
WEFT_API FiberId id() noexcept;

// Lets every other ready fiber run once, then continues. Not a blocking call: it cannot be
// cancelled, and outside a fiber it does nothing.
WEFT_API void yield() noexcept;

// Suspends the fiber until the time has passed (steady clock). A duration <= 0 or a time
// point already past returns at once without suspending (so no cancel_blocking_call can
// reach it), but it is a checkpoint: under a cancelled token it fails with the token's
// reason, so `while (busy()) sleep_for(0ns);` stops when its scope is cancelled.
// Errors: WSAEINVAL outside a fiber; WSAEINPROGRESS from a hook or message of a blocked fiber.
// Cancellation: a cancelled sleep returns WSAEINTR at once and its timer is removed; at
// runtime stop it returns WSAENETDOWN.
WEFT_API Status sleep_until(std::chrono::steady_clock::time_point deadline,
                            const CancelToken& token = {});
WEFT_API Status sleep_for(std::chrono::nanoseconds duration, const CancelToken& token = {});

}  // namespace this_fiber

}  // namespace weft
