// weft — waiting for the first of several operations (semantics.md §8).
//
//   std::optional<Job> job;
//   Event quit;
//   auto which = wait_any({on_recv(jobs, job), on_event(quit)}, CancelSource(5s).token());
//   if (!which.ok()) ...              // WSAETIMEDOUT after 5 s; WSAEINTR if cancelled
//   else if (*which == 0) run(*job);  // a job was taken, and quit was left alone
//
// wait_any performs exactly one operation — the first that can complete; among several that
// can, the first in argument order — and returns its index. The others are not performed: no
// value is taken from a channel, no event reset, no permit taken, no byte consumed from a
// socket whose readiness was only observed. A Waitable names an operation; it performs nothing
// until wait_any does.
//
//   on_recv(ch, out)   takes a value into out. On a channel closed and drained it completes
//                      too, leaving out empty: check out before using it.
//   on_send(ch, v)     sends v, moving from it only if performed. On a closed channel it
//                      completes with v untouched (ch.closed() says so).
//   on_event(e)        e is set (an automatic event's signal is taken).
//   on_acquire(s)      takes a permit.
//   on_readable(s), on_writable(s)   the socket is readable (or at its end, or in error) /
//                      writable; nothing is read or written. On a fiber only.
//   on_join(f)         fiber f (of any runtime) has ended. On a fiber only.
// A deadline is a token: CancelSource(5s).token() answers WSAETIMEDOUT.
//
// Cancellation: wait_any is a blocking call like any other (WSAEINTR, WSAETIMEDOUT,
// WSAENETDOWN at stop, WSAEINPROGRESS inside a blocking hook or a message); a cancelled
// wait_any performed none of its operations. Errors: WSAEINVAL for an empty list or more than
// 64 operations, an on_readable, on_writable or on_join off a fiber, or on_join of
// FiberId::none; WSAENOTSOCK for a socket that is not open.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/channel.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/fiber_id.hpp>
#include <weft/net.hpp>
#include <weft/sync.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>

namespace weft {

// One operation, not yet performed.
class Waitable {
 public:
  enum class Kind : std::uint8_t { recv, send, event, acquire, readable, writable, join };
  Kind kind() const noexcept { return kind_; }

 private:
  Waitable(Kind k, void* target, void* data, std::uint64_t handle) noexcept
      : kind_(k), target_(target), data_(data), handle_(handle) {}

  template <class T>
  friend Waitable on_recv(Channel<T>& ch, std::optional<T>& out);
  template <class T>
  friend Waitable on_send(Channel<T>& ch, T& value);
  friend struct detail::SyncAccess;

  Kind kind_;
  void* target_;          // a channel's core, an Event, a Semaphore
  void* data_;            // on_recv: the std::optional<T>; on_send: the T
  std::uint64_t handle_;  // a Socket, a FiberId
};

template <class T>
Waitable on_recv(Channel<T>& ch, std::optional<T>& out) {
  return Waitable(Waitable::Kind::recv, ch.s_->core, std::addressof(out), 0);
}
template <class T>
Waitable on_send(Channel<T>& ch, T& value) {
  return Waitable(Waitable::Kind::send, ch.s_->core, std::addressof(value), 0);
}
WEFT_API Waitable on_event(Event& e) noexcept;
WEFT_API Waitable on_acquire(Semaphore& s) noexcept;
WEFT_API Waitable on_readable(Socket s) noexcept;
WEFT_API Waitable on_writable(Socket s) noexcept;
WEFT_API Waitable on_join(FiberId f) noexcept;

// The most operations one wait_any takes.
inline constexpr std::size_t kMaxWaitables = 64;

WEFT_API Result<std::size_t> wait_any(std::initializer_list<Waitable> ops,
                                      const CancelToken& token = {});

}  // namespace weft
