// weft — waiting for a POSIX signal from a fiber (libuv's uv_signal_t underneath, so the
// signal is received safely on the runtime's thread, not in a signal handler).
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>

#include <cstdint>

namespace weft {

// Suspends the calling fiber until signal `signum` is delivered to the process (SIGINT,
// SIGTERM, SIGHUP, ...). While a fiber waits, the signal's default action is replaced by the
// wait; afterwards the previous disposition is restored.
// Errors: WSAEINVAL for an invalid signal number, SIGKILL or SIGSTOP, or outside a fiber.
// Cancellation (also by `token`): returns WSAEINTR; the signal is no longer watched.
WEFT_API Status signal_wait(int signum, const CancelToken& token = {});

namespace detail {
struct SignalWatchState;
}

// Watches signal `signum` from start() until the watch is destroyed: every delivery in that
// time is counted and none is lost between two waits, and the signal's default action stays
// replaced for the whole time. Where signal_wait leaves a gap between one delivery and the
// next call (a second SIGQUIT or SIGINT arriving then would take its default action and end
// the process), a watch has none: a server that answers every SIGQUIT with a dump, or counts
// SIGHUPs, holds one for its life.
//
// A watch belongs to the runtime of the fiber that started it: wait() is called from that
// runtime's fibers, one at a time. Destroy it there too: that stops the watching at once.
// Destroyed on another thread, it keeps watching (and swallowing the signal) until its
// runtime is destroyed, which ends every watch of that runtime; a watch whose runtime is gone
// answers WSAEINVAL.
class WEFT_API SignalWatch {
 public:
  SignalWatch() noexcept = default;
  SignalWatch(SignalWatch&& o) noexcept : st_(o.st_) { o.st_ = nullptr; }
  SignalWatch& operator=(SignalWatch&& o) noexcept;
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // From a fiber: starts watching `signum`.
  // Errors: WSAEINVAL for an invalid signal number, SIGKILL or SIGSTOP, or outside a fiber;
  // WSAENOBUFS without memory.
  static Result<SignalWatch> start(int signum);

  // Suspends the calling fiber until the signal has been delivered since the last wait
  // returned (or since start()), and takes those deliveries: returns how many (at least 1;
  // the kernel merges deliveries of a standard signal that come before it is handled). A
  // delivery that came while nobody waited returns at once.
  // Errors: WSAEINVAL outside a fiber of the watch's runtime, on an empty (moved-from) watch,
  // while another fiber of it waits, or once its runtime is gone; WSAENETDOWN once the
  // runtime stops; WSAEINPROGRESS inside a blocking hook.
  // Cancellation (also by `token`): returns WSAEINTR and takes nothing; deliveries that came
  // meanwhile, even in the same turn of the loop as the cancel, stay counted for the next
  // wait. The watch goes on watching.
  Result<std::uint64_t> wait(const CancelToken& token = {});

  // The signal watched (0 for an empty watch).
  int signum() const noexcept;

 private:
  explicit SignalWatch(detail::SignalWatchState* st) noexcept : st_(st) {}
  detail::SignalWatchState* st_ = nullptr;
};

}  // namespace weft
