// The blocking socket calls: accept, connect, recv, send and their datagram forms. Each
// enters as every blocking call does (blocking.hpp: the order of checks of semantics.md §7a),
// tries its syscall first and parks only when the kernel would block; when the wait ends in a
// cancel, a deadline or a stop, the one table (cancel_rule.hpp) says what the socket is left
// in.
#include <weft/net.hpp>

#include "park.hpp"

#include <algorithm>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__GLIBC__) && __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#endif

namespace weft {

namespace detail {

// recv(2) and send(2), made without glibc's wrappers where the build allows. Those are
// pthread cancellation points: in a process with more than one thread each call turns
// asynchronous cancellation on and off around the syscall, about 30 instructions and two
// locked ones per call. weft's descriptors are non-blocking, so no call waits in the kernel
// for a cancellation to act on, and a runtime thread must not be cancelled anyway (the
// unwinding would cross fiber stacks). A process that has only ever had one thread skips that
// work in glibc's wrapper too, which is then the shorter path. Sanitizer builds keep glibc's
// functions, which their interceptors see (TSan orders memory through them).
//
// Out of line: inline, their two paths grew the attempts of recv and send past what GCC
// inlines into the calls, which cost more than this call does.
#if (WEFT_ASAN || WEFT_TSAN || !defined(__linux__) || !defined(__GLIBC__) || \
     !__has_include(<sys/single_threaded.h>))
#define WEFT_RAW_DATA_SYSCALLS 0
#else
#define WEFT_RAW_DATA_SYSCALLS 1
#endif

[[gnu::noinline]] ssize_t sys_recv(int fd, void* buf, std::size_t len, int flags) noexcept {
#if WEFT_RAW_DATA_SYSCALLS
  if (!__libc_single_threaded) {
    return ::syscall(SYS_recvfrom, static_cast<long>(fd), buf, len, static_cast<long>(flags),
                     nullptr, nullptr);
  }
#endif
  return ::recv(fd, buf, len, flags);
}

[[gnu::noinline]] ssize_t sys_send(int fd, const void* buf, std::size_t len, int flags) noexcept {
#if WEFT_RAW_DATA_SYSCALLS
  if (!__libc_single_threaded) {
    return ::syscall(SYS_sendto, static_cast<long>(fd), buf, len, static_cast<long>(flags), nullptr,
                     0L);
  }
#endif
  return ::send(fd, buf, len, flags);
}

}  // namespace detail

using detail::Attempt;
using detail::BlockingEntry;
using detail::CallState;
using detail::Err;
using detail::Op;
using detail::Parked;
using detail::Sock;
using detail::SockRef;
using detail::SockState;
using detail::WaitObj;

namespace {

// The arguments every data call checks first: flags outside `allowed`, a null buffer.
Err data_args(int flags, int allowed, const void* buf, std::size_t len) {
  if (flags & ~allowed) return wsa::eopnotsupp;
  if (!buf && len > 0) return wsa::efault;
  return {};
}

// A blocking form's admission (semantics.md §7a steps 3 to 5), made once, by the first
// attempt, after the socket and its state have been checked (steps 1 and 2) and before any
// syscall. A non-blocking form (MSG_DONTWAIT) has none: it is not a blocking call.
class Admission {
 public:
  Admission(const BlockingEntry& entry, int flags) noexcept
      : pending_((flags & MSG_DONTWAIT) ? nullptr : &entry) {}
  Err check() noexcept {
    if (!pending_) return {};
    const BlockingEntry* e = pending_;
    pending_ = nullptr;
    return e->admit();
  }

 private:
  const BlockingEntry* pending_;
};

// Step 1 for a socket call: a blocking form needs a fiber; a non-blocking one only this
// thread's runtime, which the socket's lookup asks for.
Err need_fiber(const BlockingEntry& entry, int flags) noexcept {
  return (flags & MSG_DONTWAIT) ? Err() : entry.need_fiber();
}

// The start of every attempt: the socket `h` names now, passed through `gate`, then (the
// first time) the admission. On failure the error is stored in `result` and false returned
// (the attempt is then done).
template <class R, class Gate>
[[gnu::always_inline]] inline bool enter(Socket h, SockRef& r, R& result, Gate&& gate,
                                         Admission& admission) {
  Err ec = detail::sock_lookup(h, r);
  if (!ec) ec = gate(r.s);
  if (!ec) ec = admission.check();
  if (ec) result = ec;
  return !ec;
}

// Runs `attempt` now and, unless MSG_DONTWAIT, parks on `events` until it is done (see
// park_until_done for `op` and `moved`). Where it would park, a non-blocking form returns
// WSAEWOULDBLOCK instead.
//
// An attempt may say would_block without trying its syscall, when it knows it would find
// nothing (a recv on a socket known drained: see Sock::drained); the call then parks.
template <class Fn>
[[gnu::always_inline]] inline Parked run_blocking(const BlockingEntry& entry, const char* name,
                                                  Socket h, int events, Op op,
                                                  const std::size_t* moved, int flags,
                                                  Fn& attempt) {
  if (attempt() == Attempt::done) return {CallState::completed, {}};
  if (flags & MSG_DONTWAIT) return {CallState::idle, wsa::ewouldblock};
  return detail::park_until_done(entry, name, h, events, op, moved, attempt);
}

constexpr int kRecvFlags = MSG_PEEK | MSG_OOB | MSG_DONTWAIT;
constexpr int kSendFlags = MSG_OOB | MSG_DONTROUTE | MSG_DONTWAIT;

}  // namespace

namespace {

// The deadline of a connect's timeout (0: none, the kernel's own).
std::int64_t deadline_after(std::chrono::milliseconds timeout) noexcept {
  if (timeout.count() <= 0) return 0;
  return detail::RuntimeImpl::now_ns() +
         std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
}

// An AF_UNIX stream connect that the kernel refused because the listener's backlog is full
// (EAGAIN; socket h is marked connecting). The kernel started nothing, and no readiness
// says when room comes: the client socket polls writable at once (Linux's unix_poll), and
// only an accept wakes the kernel's own blocking connects. So the call waits on a timer
// and tries again, 1 ms after the first refusal and twice as long after each next one, up
// to 50 ms, until it connects, fails, or its outcome is fixed otherwise (a cancel, a
// deadline, stop: the table's connect row). The wait is linked to the socket without
// readiness, so that a close by another fiber finds and cancels it.
Status connect_unix_when_room(const BlockingEntry& entry, Socket h, const Address& peer,
                              std::int64_t deadline_ns) {
  constexpr std::int64_t kFirstRetryNs = 1'000'000;
  constexpr std::int64_t kLongestRetryNs = 50'000'000;
  detail::Fiber* f = entry.fiber();
  detail::RuntimeImpl* rt = entry.runtime();
  detail::BlockingCall call(entry);
  detail::CallDeadline deadline(f, CallState::timed_out);
  if (deadline_ns > 0) deadline.arm(deadline_ns);
  CallState how = CallState::pending;
  for (std::int64_t retry_ns = kFirstRetryNs;; retry_ns = std::min(retry_ns * 2, kLongestRetryNs)) {
    Sock* s = rt->sockets().get(h);
    if (!s) return wsa::eintr;  // closed meanwhile
    detail::IoWaiter waiter(f, UV_WRITABLE, Op::connect);
    rt->sockets().wait_link(s, waiter);
    detail::CallDeadline retry(f, CallState::completed);
    retry.arm(detail::RuntimeImpl::now_ns() + retry_ns);
    how = call.wait();
    if (how != CallState::completed) break;
    // Both timers complete the call the same way, and a completion moves only an outcome
    // still pending: when the retry and the deadline come due in one turn of the loop, the
    // one that ran second found the call completed already. The deadline's must not be
    // lost with it.
    if (deadline.fired()) {
      how = CallState::timed_out;
      break;
    }
    s = rt->sockets().get(h);
    if (!s) return wsa::eintr;  // closed by another fiber after the timer fixed the outcome
    if (s->state == SockState::aborted) return wsa::econnaborted;
    int rc = detail::retry_eintr([&] { return ::connect(s->fd, peer.data(), peer.size()); });
    if (rc == 0) {
      s->state = SockState::connected;
      s->bound = true;
      return {};
    }
    if (errno != EAGAIN) {
      s->state = SockState::open;
      return detail::errno_to_error(errno);
    }
    how = call.rearm();
    if (how != CallState::pending) break;
  }
  detail::leave_after_cancel(Op::connect, h, 0);
  return detail::outcome_error(how);
}

}  // namespace

Result<Socket> accept(Socket h, Address* peer, const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  if (auto ec = entry.need_fiber()) return ec;
  Admission admission(entry, 0);
  Result<Socket> result = wsa::einval;
  auto listening = [](const Sock* s) -> Err {
    if (auto ec = detail::sock_gate(s)) return ec;
    return s->state == SockState::listening ? Err() : Err(wsa::einval);
  };
  auto attempt = [&]() -> Attempt {
    SockRef r;
    if (!enter(h, r, result, listening, admission)) return Attempt::done;
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = detail::retry_eintr([&] {
        return ::accept4(r.s->fd, reinterpret_cast<sockaddr*>(&ss), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      });
      if (fd >= 0) {
        result = r.rt->sockets().add(fd, r.s->family, r.s->type, SockState::connected);
        if (result.ok() && peer) {
          auto a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
          if (a.ok()) *peer = *a;
        }
        if (result.ok()) r.rt->sockets().get(*result)->bound = true;
        return Attempt::done;
      }
      // A connection reset while queued is not the listener's error: take the next one.
      if (errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EAGAIN) return Attempt::would_block;
      result = detail::errno_to_error(errno);
      return Attempt::done;
    }
  };
  Parked p = run_blocking(entry, "accept", h, UV_READABLE, Op::accept, nullptr, 0, attempt);
  if (!p.done()) {
    if (p.unfinished()) detail::leave_after_cancel(Op::accept, h, 0);
    return p.error;
  }
  return result;
}

Status connect(Socket h, const Address& peer, std::chrono::milliseconds timeout,
               const CancelToken& token) {
  BlockingEntry entry(token, "connect", WaitObj::socket, to_integer(h));
  if (auto ec = entry.need_fiber()) return ec;
  SockRef r;
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (auto ec = detail::sock_gate(r.s)) return ec;
  if (peer.family() != r.s->family) return wsa::eafnosupport;
  if (timeout.count() < 0) return wsa::einval;
  switch (r.s->state) {
    case SockState::connected:
      if (detail::connection_oriented(r.s->type)) return wsa::eisconn;
      break;
    case SockState::connecting: return wsa::einprogress;  // Winsock: WSAEALREADY's role
    case SockState::listening: return wsa::einval;
    default: break;
  }
  // Refused here, nothing has started: the socket is unchanged.
  if (auto ec = entry.admit()) return ec;
  int rc = detail::retry_eintr([&] { return ::connect(r.s->fd, peer.data(), peer.size()); });
  if (rc == 0) {
    r.s->state = SockState::connected;
    r.s->bound = true;
    return {};
  }
  if (errno == EAGAIN && r.s->family == AF_UNIX) {
    r.s->state = SockState::connecting;
    return connect_unix_when_room(entry, h, peer, deadline_after(timeout));
  }
  if (errno != EINPROGRESS) return detail::errno_to_error(errno);
  r.s->state = SockState::connecting;

  Status result;
  auto attempt = [&]() -> Attempt {
    Sock* s = r.rt->sockets().get(h);
    if (!s) {
      result = wsa::eintr;  // closed by another fiber
      return Attempt::done;
    }
    if (s->state == SockState::aborted) {
      result = wsa::econnaborted;
      return Attempt::done;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) {
      sockaddr_storage ss{};
      socklen_t sl = sizeof ss;
      if (::getpeername(s->fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) {
        return Attempt::would_block;  // writable but not yet connected: spurious
      }
      s->state = SockState::connected;
      s->bound = true;
      result = Status{};
    } else {
      s->state = SockState::open;
      result = detail::errno_to_error(err);
    }
    return Attempt::done;
  };
  Parked p = detail::park_until_done(entry, "connect", h, UV_WRITABLE, Op::connect, nullptr,
                                     attempt, deadline_after(timeout));
  if (!p.done()) {
    // Cancelled, timed out or stopped (or no way to wait): the attempt is abandoned. The
    // table says "aborted": the reaper holds the kernel socket until the attempt ends.
    detail::leave_after_cancel(Op::connect, h, 0);
    return p.error;
  }
  return result;
}

namespace {

// recv, and each of recv_exact's recvs: `taken` is what the public call has already taken
// from the stream, for the table when this one ends unfinished. Inlined into both, as its
// first attempt is into it: the fast path of a recv with data queued is then one frame.
[[gnu::always_inline]] inline Result<std::size_t> recv_part(Socket h, void* buf, std::size_t len,
                                                            int flags, const CancelToken& token,
                                                            std::size_t taken) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  if (auto ec = need_fiber(entry, flags)) return ec;
  if (auto ec = data_args(flags, kRecvFlags, buf, len)) return ec;
  Admission admission(entry, flags);
  Result<std::size_t> result = std::size_t{0};  // set by the attempt that ends the call
  // A blocking recv on a socket known drained parks without trying first; later attempts
  // follow a readiness and always try. The socket is looked up once, by the attempt.
  bool may_skip_try = flags == 0;
  auto attempt = [&]() __attribute__((always_inline)) {
    SockRef r;
    if (!enter(h, r, result, detail::recv_gate, admission)) return Attempt::done;
    if (may_skip_try) {
      may_skip_try = false;
      if (r.s->drained) return Attempt::would_block;
    }
    ssize_t n;
    if (r.s->pipe) [[unlikely]] {
      if (flags & ~MSG_DONTWAIT) {
        result = wsa::eopnotsupp;  // a pipe has no peeking and no out-of-band data
        return Attempt::done;
      }
      n = detail::retry_eintr([&] { return ::read(r.s->fd, buf, len); });
    } else {
      n = detail::retry_eintr([&] { return detail::sys_recv(r.s->fd, buf, len, flags); });
    }
    if (n == 0 && r.s->reset_by_peer && len > 0) {
      result = wsa::econnreset;  // Linux says 0 after it has reported a reset once
      return Attempt::done;
    }
    if (n >= 0) {
      if (!(flags & MSG_PEEK)) r.s->drained = n > 0 && static_cast<std::size_t>(n) < len;
      result = static_cast<std::size_t>(n);
      return Attempt::done;
    }
    if (errno == EAGAIN) {
      // Empty now: if this call ends without data (a cancel), the next recv parks at once;
      // the armed readable interest reports anything that arrives meanwhile.
      r.s->drained = true;
      return Attempt::would_block;
    }
    if (errno == ECONNRESET && detail::connection_oriented(r.s->type)) r.s->reset_by_peer = true;
    result = detail::errno_to_error(errno);
    return Attempt::done;
  };
  Parked p = run_blocking(entry, "recv", h, UV_READABLE, Op::recv, &taken, flags, attempt);
  if (!p.done()) {
    if (p.unfinished()) detail::leave_after_cancel(Op::recv, h, taken);
    return p.error;
  }
  return result;
}

}  // namespace

Result<std::size_t> recv(Socket h, void* buf, std::size_t len, int flags,
                         const CancelToken& token) {
  return recv_part(h, buf, len, flags, token, 0);
}

namespace {

// Sends from buf until `all` bytes are gone (or, for send_some, at least one). Inlined into
// send and send_some, as recv_part is.
[[gnu::always_inline]] inline Result<std::size_t> send_impl(Socket h, const void* buf,
                                                            std::size_t len, int flags, bool all,
                                                            const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  if (auto ec = need_fiber(entry, flags)) return ec;
  if (auto ec = data_args(flags, kSendFlags, buf, len)) return ec;
  Admission admission(entry, flags);
  std::size_t sent = 0;
  Result<std::size_t> result = std::size_t{0};  // set by the attempt that ends the call
  auto attempt = [&]() __attribute__((always_inline)) {
    SockRef r;
    if (!enter(h, r, result, detail::send_gate, admission)) return Attempt::done;
    const char* p = static_cast<const char*>(buf);
    do {
      ssize_t n;
      if (r.s->pipe) [[unlikely]] {
        if (flags & ~MSG_DONTWAIT) {
          result = wsa::eopnotsupp;
          return Attempt::done;
        }
        n = detail::retry_eintr([&] { return ::write(r.s->fd, p + sent, len - sent); });
      } else {
        n = detail::retry_eintr(
            [&] { return detail::sys_send(r.s->fd, p + sent, len - sent, flags | MSG_NOSIGNAL); });
      }
      if (n < 0) {
        if (errno == EAGAIN) {
          if ((!all || (flags & MSG_DONTWAIT)) && sent > 0) break;
          return Attempt::would_block;
        }
        if (errno == ECONNRESET || errno == EPIPE) r.s->reset_by_peer = true;
        result = detail::errno_to_error(errno);
        return Attempt::done;
      }
      sent += static_cast<std::size_t>(n);
    } while (all && sent < len);
    result = sent;
    return Attempt::done;
  };
  Parked p = run_blocking(entry, "send", h, UV_WRITABLE, Op::send, &sent, flags, attempt);
  if (!p.done()) {
    if (p.unfinished()) detail::leave_after_cancel(Op::send, h, sent);
    return p.error;
  }
  return result;
}

}  // namespace

Result<std::size_t> send(Socket h, const void* buf, std::size_t len, int flags,
                         const CancelToken& token) {
  return send_impl(h, buf, len, flags, true, token);
}

Result<std::size_t> send_some(Socket h, const void* buf, std::size_t len, int flags,
                              const CancelToken& token) {
  return send_impl(h, buf, len, flags, false, token);
}

Status recv_exact(Socket h, void* buf, std::size_t len, const CancelToken& token) {
  if (!buf && len > 0) return wsa::efault;
  std::size_t got = 0;
  auto* p = static_cast<char*>(buf);
  while (got < len) {
    auto n = recv_part(h, p + got, len - got, 0, token, got);
    if (!n.ok()) return n.error();
    if (*n == 0) return wsa::econnreset;  // the stream ended before len bytes
    got += *n;
  }
  return {};
}

Result<std::size_t> recv_from(Socket h, void* buf, std::size_t len, Address* from, int flags,
                              const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  if (auto ec = need_fiber(entry, flags)) return ec;
  if (auto ec = data_args(flags, kRecvFlags, buf, len)) return ec;
  Admission admission(entry, flags);
  Result<std::size_t> result = std::size_t{0};  // set by the attempt that ends the call
  auto attempt = [&]() -> Attempt {
    SockRef r;
    if (!enter(h, r, result, detail::recv_gate, admission)) return Attempt::done;
    sockaddr_storage ss{};
    iovec iov{buf, len};
    msghdr msg{};
    msg.msg_name = &ss;
    msg.msg_namelen = sizeof ss;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = detail::retry_eintr([&] { return ::recvmsg(r.s->fd, &msg, flags); });
    if (n < 0) {
      if (errno == EAGAIN) return Attempt::would_block;
      result = detail::errno_to_error(errno);
      return Attempt::done;
    }
    if (from && r.s->family == AF_UNIX && msg.msg_namelen == 0) {
      // Linux gives no address at all for an unnamed AF_UNIX sender: the unnamed address.
      ss.ss_family = AF_UNIX;
      msg.msg_namelen = sizeof(sa_family_t);
    }
    if (from && msg.msg_namelen > 0) {
      auto a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), msg.msg_namelen);
      if (a.ok()) *from = *a;
    }
    if (r.s->type != SOCK_STREAM && (msg.msg_flags & MSG_TRUNC)) {
      result = wsa::emsgsize;
    } else {
      result = static_cast<std::size_t>(n);
    }
    return Attempt::done;
  };
  Parked p = run_blocking(entry, "recv_from", h, UV_READABLE, Op::recv, nullptr, flags, attempt);
  if (!p.done()) {
    if (p.unfinished()) detail::leave_after_cancel(Op::recv, h, 0);
    return p.error;
  }
  return result;
}

Result<std::size_t> send_to(Socket h, const void* buf, std::size_t len, const Address& to,
                            int flags, const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  if (auto ec = need_fiber(entry, flags)) return ec;
  if (auto ec = data_args(flags, kSendFlags, buf, len)) return ec;
  Admission admission(entry, flags);
  Result<std::size_t> result = std::size_t{0};  // set by the attempt that ends the call
  auto datagram_gate = [&to](const Sock* s) -> Err {
    if (auto ec = detail::sock_gate(s)) return ec;
    if (s->shut_wr) return wsa::eshutdown;
    if (to.family() != s->family) return wsa::eafnosupport;
    return {};
  };
  auto attempt = [&]() -> Attempt {
    SockRef r;
    if (!enter(h, r, result, datagram_gate, admission)) return Attempt::done;
    ssize_t n = detail::retry_eintr(
        [&] { return ::sendto(r.s->fd, buf, len, flags | MSG_NOSIGNAL, to.data(), to.size()); });
    if (n < 0) {
      if (errno == EAGAIN) return Attempt::would_block;
      result = detail::errno_to_error(errno);
      return Attempt::done;
    }
    r.s->bound = true;  // sendto binds an unbound socket to an ephemeral port
    result = static_cast<std::size_t>(n);
    return Attempt::done;
  };
  // A datagram that was not sent was not sent at all: the table leaves the socket unchanged
  // (stream sockets go through it like send, having moved nothing).
  Parked p = run_blocking(entry, "send_to", h, UV_WRITABLE, Op::send, nullptr, flags, attempt);
  if (!p.done()) {
    if (p.unfinished()) detail::leave_after_cancel(Op::send, h, 0);
    return p.error;
  }
  return result;
}

}  // namespace weft
