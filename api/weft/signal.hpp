// weft — waiting for a POSIX signal from a fiber (libuv's uv_signal_t underneath, so the
// signal is received safely on the runtime's thread, not in a signal handler).
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>

namespace weft {

// Suspends the calling fiber until signal `signum` is delivered to the process (SIGINT,
// SIGTERM, SIGHUP, ...). While a fiber waits, the signal's default action is replaced by the
// wait; afterwards the previous disposition is restored.
// Errors: WSAEINVAL for an invalid signal number, SIGKILL or SIGSTOP, or outside a fiber.
// Cancellation (also by `token`): returns WSAEINTR; the signal is no longer watched.
WEFT_API Status signal_wait(int signum, const CancelToken& token = {});

}  // namespace weft
