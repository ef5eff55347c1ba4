// weft — pseudo-blocking: fiber messages and blocking hooks (semantics.md §5), Winsock's two
// situations for cancelling a call from the blocked fiber itself.
//
// While a fiber is blocked in a call it can still run code on its own stack:
//   * a message posted to it (post(FiberId, fn), from any thread) runs during the call;
//   * its blocking hook runs once when the call starts to block, after every message, and
//     every RuntimeOptions::blocking_hook_interval while the call stays blocked — never in a
//     busy loop.
// Inside either, is_blocking() is true, cancel_blocking_call() with no argument cancels the
// call they interrupt (which then returns WSAEINTR), and any other blocking call returns
// WSAEINPROGRESS at once: one blocking call per fiber, as in Winsock.
#pragma once

#include <weft/cancel.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/fiber_id.hpp>
#include <weft/task.hpp>

#include <functional>

namespace weft {

namespace detail {
WEFT_API Status post_to_fiber(FiberId f, TaskPtr task) noexcept;
}

// Runs fn on fiber f's own stack: during its blocking call if it is blocked, otherwise when it
// next blocks or yields. Thread-safe. Messages from one thread run in the order posted. A
// message still queued when its fiber ends is destroyed without running.
// Errors: WSAEINVAL (no such fiber: ended or never issued), WSAENETDOWN (its runtime is
// stopping), WSAENOBUFS.
template <class F>
Status post(FiberId f, F&& fn) {
  return detail::post_to_fiber(f, detail::make_task(std::forward<F>(fn)));
}

// A blocking hook returns true if it processed something (it is then called again at once,
// as Winsock's default hook loop does), false when it had nothing to do.
using BlockingHook = std::function<bool()>;

// Installs the calling fiber's blocking hook (empty: none); returns the previous one.
// Outside a fiber it does nothing and returns an empty hook.
WEFT_API BlockingHook set_blocking_hook(BlockingHook hook);

// True inside a blocking hook or a message running during a blocking call of this fiber
// (Winsock's WSAIsBlocking).
WEFT_API bool is_blocking() noexcept;

// cancel_blocking_call() with no argument — the calling fiber's own call, from its hook or a
// message — is declared beside the other form in <weft/cancel.hpp>.

// The provider-side view (Winsock's WPUQueryBlockingCallback): for code that implements a
// pseudo-blocking wait of its own on top of weft and calls this between attempts. Each call
// is a short blocking call: the fiber yields once to its runtime, then its blocking hook runs
// until it returns false. Returns false if the wait was cancelled meanwhile (from the hook,
// another fiber or another thread), true to keep waiting.
// Errors: WSAEINVAL outside a fiber, WSAEINPROGRESS inside a hook or message, WSAENETDOWN.
WEFT_API Result<bool> blocking_callback();

}  // namespace weft
