// weft::detail — what every socket call shares: finding the socket a handle names on the
// calling runtime, parking a fiber on its readiness between attempts of a syscall, and
// applying the table of what an unfinished call leaves behind (cancel_rule.hpp).
#pragma once

#include "blocking.hpp"
#include "cancel_rule.hpp"
#include "errors.hpp"
#include "socket_table.hpp"

#include <weft/error.hpp>
#include <weft/net.hpp>

#include <cerrno>
#include <cstdint>

#include <sys/types.h>

namespace weft::detail {

struct SockRef {
  RuntimeImpl* rt = nullptr;
  Sock* s = nullptr;
};

// The socket `h` names on this thread's runtime: WSAEINVAL with no runtime here,
// WSAENOTSOCK for invalid, closed, stale or foreign handles. (Returns wsa codes.)
inline Err sock_lookup(Socket h, SockRef& out) noexcept {
  RuntimeImpl* rt = tls_runtime;
  if (!rt) return wsa::einval;
  Sock* s = rt->sockets().get(h);
  if (!s) return wsa::enotsock;
  out = {rt, s};
  return {};
}

// Errors every data-moving call gives for a socket it cannot use.
inline Err sock_gate(const Sock* s) noexcept {
  if (s->state == SockState::aborted) return wsa::econnaborted;
  if (s->state == SockState::closing) return wsa::enotsock;
  return {};
}

// What a receiving call needs of socket s: usable, not shut for receiving; connected, or a
// bound datagram socket.
inline Err recv_gate(const Sock* s) noexcept {
  if (auto ec = sock_gate(s)) return ec;
  if (s->shut_rd) return wsa::eshutdown;
  if (connection_oriented(s->type) && s->state != SockState::connected) return wsa::enotconn;
  if (s->type == SOCK_DGRAM && !s->bound && s->state != SockState::connected) return wsa::einval;
  return {};
}

// What a sending call on a connection needs of socket s: usable, not shut for sending, not
// reset by its peer, connected.
inline Err send_gate(const Sock* s) noexcept {
  if (auto ec = sock_gate(s)) return ec;
  if (s->shut_wr) return wsa::eshutdown;
  if (s->reset_by_peer) return wsa::econnreset;
  if (s->state != SockState::connected) return wsa::enotconn;
  return {};
}

// The result of one attempt of a syscall behind a blocking call.
enum class Attempt { done, would_block };

// How a parked call ended: `how` is completed when the attempt finished (its result is in the
// attempt's own variable); otherwise the outcome that ended the wait, and `error` the error
// the call returns — the outcome's (WSAEINTR, WSAETIMEDOUT, WSAENETDOWN), or, with `how` idle,
// the error that kept the fiber from waiting at all.
struct Parked {
  CallState how = CallState::idle;
  Err error;
  bool done() const noexcept { return how == CallState::completed; }
  // The wait ended in an outcome other than completion (a cancel, a deadline, stop): the
  // call's row of the table applies.
  bool unfinished() const noexcept { return how != CallState::completed && how != CallState::idle; }
};

// Retries `attempt` (a callable returning Attempt, which stores its own result) with the
// fiber parked on `events` (UV_READABLE / UV_WRITABLE) readiness of socket h in between,
// until it is done, for a call that `entry` admitted and whose first attempt would block.
// `op` and `moved` (the bytes the call has moved so far; may be null) let a close by another
// fiber apply the call's row of the table on its behalf: the close ends the wait (WSAEINTR)
// and the handle with it. `deadline_ns`, when not 0, ends the wait with WSAETIMEDOUT. `call`
// names the call for a fiber dump (what it waits on: socket h).
//
// Inlined into each call, with its attempt: out of line, the attempt's captures would have to
// be stored for it before even the first attempt, on every call's fast path.
template <class Fn>
[[gnu::always_inline]] inline Parked park_until_done(const BlockingEntry& entry, const char* name,
                                                     Socket h, int events, Op op,
                                                     const std::size_t* moved, Fn&& attempt,
                                                     std::int64_t deadline_ns = 0) {
  Fiber* f = entry.fiber();
  RuntimeImpl* rt = entry.runtime();
  BlockingCall call(entry, name, WaitObj::socket, to_integer(h));
  CallDeadline deadline(f, CallState::timed_out);
  if (deadline_ns > 0) deadline.arm(deadline_ns);
  for (;;) {
    Sock* s = rt->sockets().get(h);
    if (!s) return {CallState::cancelled, wsa::eintr};  // closed meanwhile
    IoWaiter waiter(f, events, op, moved);
    if (auto ec = rt->sockets().wait_add(s, waiter)) return {CallState::idle, Err(ec)};
    CallState st = call.wait();
    if (st != CallState::completed) return {st, outcome_error(st)};
    if (attempt() == Attempt::done) return {CallState::completed, {}};
    st = call.rearm();
    if (st != CallState::pending) return {st, outcome_error(st)};
    // The call's own deadline fired in the turn whose readiness turned out spurious: its
    // complete() lost to the readiness's, so only the timer knows; it ends the call now.
    if (deadline.fired()) return {CallState::timed_out, wsa::etimedout};
  }
}

// Applies the table (cancel_rule.hpp) to socket h, if it is still open on this thread's
// runtime, after a call of kind `op` on it ended without completing, having moved `moved`
// bytes. (A socket closed meanwhile was dealt with by its close.)
inline void leave_after_cancel(Op op, Socket h, std::size_t moved) noexcept {
  if (Sock* s = tls_runtime->sockets().get(h))
    tls_runtime->sockets().leave_after_cancel(s, op, moved);
}

// recv(2) and send(2) for the data calls (socket_io.cpp): without glibc's wrappers, which are
// pthread cancellation points, where the build allows.
ssize_t sys_recv(int fd, void* buf, std::size_t len, int flags) noexcept;
ssize_t sys_send(int fd, const void* buf, std::size_t len, int flags) noexcept;

// Runs a syscall, retrying on EINTR (a signal, not a cancel). (Returns errno in errno.)
template <class Fn>
auto retry_eintr(Fn&& fn) noexcept {
  for (;;) {
    auto r = fn();
    if (!(r < 0 && errno == EINTR)) return r;
  }
}

}  // namespace weft::detail
