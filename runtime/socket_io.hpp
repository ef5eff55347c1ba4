// weft::detail — the pieces every socket call shares: finding the socket a handle names on
// the calling runtime, and parking a fiber on readiness between attempts of a syscall.
#pragma once

#include "blocking.hpp"
#include "errors.hpp"
#include "socket_table.hpp"

#include <weft/error.hpp>
#include <weft/net.hpp>

#include <cerrno>
#include <cstdint>

namespace weft::detail {

struct SockRef {
  RuntimeImpl* rt = nullptr;
  Sock* s = nullptr;
};

// The socket `h` names on this thread's runtime: WSAEINVAL with no runtime here,
// WSAENOTSOCK for invalid, closed, stale or foreign handles.
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

// The result of one attempt of a syscall behind a blocking call.
enum class Attempt { done, would_block };

// Retries `attempt` (a callable returning Attempt, which stores its own result) with the
// fiber parked on `events` (UV_READABLE / UV_WRITABLE) readiness of socket h in between,
// until it is done. Returns {} when the attempt finished, or the error that ended the wait:
// the outcome (WSAEINTR, WSAETIMEDOUT at `deadline_ns`, WSAENETDOWN), or a precheck error
// (WSAEINVAL outside a fiber, WSAEINPROGRESS in a hook, WSAENETDOWN when stopping).
// `how` receives the outcome (idle for a precheck error).
//
// A socket closed by another fiber while this one waits ends the wait with WSAEINTR (close
// cancels its waiters); one that was reset meanwhile is seen by the attempt.
template <class Fn>
Err park_until_done(Socket h, int events, Fn&& attempt, CallState& how,
                    std::int64_t deadline_ns = 0) {
  how = CallState::idle;
  Fiber* f = nullptr;
  if (auto ec = blocking_precheck(f)) return ec;
  RuntimeImpl* rt = f->rt;
  BlockingCall call(f);
  CallDeadline deadline(f, CallState::timed_out);
  if (deadline_ns > 0) deadline.arm(deadline_ns);
  for (;;) {
    Sock* s = rt->sockets().get(h);
    if (!s) {
      how = CallState::cancelled;
      return wsa::eintr;
    }
    IoWaiter waiter(f, events);
    if (auto ec = rt->sockets().wait_add(s, waiter)) return Err(ec);
    CallState st = call.wait();
    if (st != CallState::completed) {
      how = st;
      return outcome_error(st);
    }
    if (attempt() == Attempt::done) {
      how = CallState::completed;
      return {};
    }
    st = call.rearm();
    if (st != CallState::pending) {
      how = st;
      return outcome_error(st);
    }
  }
}

// Runs a syscall, retrying on EINTR (a signal, not a cancel).
template <class Fn>
auto retry_eintr(Fn&& fn) noexcept {
  for (;;) {
    auto r = fn();
    if (!(r < 0 && errno == EINTR)) return r;
  }
}

}  // namespace weft::detail
