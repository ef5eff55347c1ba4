// weft — cancelling a blocking call (Winsock's LPWSPCancelBlockingCall, made precise).
//
// The contract is docs/semantics.md §2; in short:
//   * cancel_blocking_call(f) returns success if f had an outstanding blocking call. If that
//     call's outcome was not yet fixed, the call returns WSAEINTR; if completion had already
//     fixed it, the call returns its normal result as if cancel had never been called.
//     Checking the call's own WSAEINTR is the only way to know it was really cancelled.
//   * WSAEINVAL: f has no outstanding call (running, ready, ended, unknown). Nothing is
//     remembered: the request is per call, never sticky.
//   * WSAENETDOWN: f's runtime is stopping or stopped.
//   * Thread-safe: from any fiber of any runtime and from any OS thread. It never blocks and
//     never suspends the caller; the target becomes runnable at once (same thread) or after
//     one wake-up of its loop (another thread).
#pragma once

#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/fiber_id.hpp>

namespace weft {

// Cancels fiber f's outstanding blocking call: 0, WSAEINVAL or WSAENETDOWN, as above.
WEFT_API Status cancel_blocking_call(FiberId f) noexcept;

// Cancels the calling fiber's own outstanding call, from its blocking hook or a message that
// runs during that call (Winsock's WSPCancelBlockingCall): 0 if there was one; WSAEINVAL
// otherwise (no call, or not on a fiber); WSAENETDOWN once its runtime stops.
WEFT_API Status cancel_blocking_call() noexcept;

}  // namespace weft
