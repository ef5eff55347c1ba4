// Socket creation, addresses, options, shutdown and close (semantics.md §4).
#include <weft/net.hpp>

#include "park.hpp"

#include <chrono>

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace weft {

using detail::SockRef;
using detail::SockState;

Result<Socket> socket(int family, int type, int protocol) {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt) return wsa::einval;
  if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) return wsa::eafnosupport;
  const bool seqpacket = type == SOCK_SEQPACKET && family == AF_UNIX;
  if (type != SOCK_STREAM && type != SOCK_DGRAM && !seqpacket) return wsa::einval;
  if (protocol != 0 && (family == AF_UNIX || !((type == SOCK_STREAM && protocol == IPPROTO_TCP) ||
                                               (type == SOCK_DGRAM && protocol == IPPROTO_UDP)))) {
    return wsa::einval;
  }
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return detail::errno_to_error(errno);
  return rt->sockets().add(fd, family, type, SockState::open);
}

Status bind(Socket h, const Address& local) {
  SockRef r;
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (auto ec = detail::sock_gate(r.s)) return ec;
  if (local.family() != r.s->family) return wsa::eafnosupport;
  if (r.s->bound || r.s->state != SockState::open) return wsa::einval;
  if (::bind(r.s->fd, local.data(), local.size()) != 0) return detail::errno_to_error(errno);
  r.s->bound = true;
  return {};
}

Status listen(Socket h, int backlog) {
  SockRef r;
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (auto ec = detail::sock_gate(r.s)) return ec;
  if (!detail::connection_oriented(r.s->type)) return wsa::eopnotsupp;
  if (backlog < 0) return wsa::einval;
  if (r.s->state == SockState::connected || r.s->state == SockState::connecting)
    return wsa::eisconn;
  if (::listen(r.s->fd, backlog) != 0) return detail::errno_to_error(errno);
  r.s->state = SockState::listening;
  r.s->bound = true;
  return {};
}

static Result<Address> name_of(Socket h, bool peer) {
  SockRef r;
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (auto ec = detail::sock_gate(r.s)) return ec;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = peer ? ::getpeername(r.s->fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(r.s->fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return detail::errno_to_error(errno);
  return Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

Result<Address> local_address(Socket h) { return name_of(h, false); }
Result<Address> peer_address(Socket h) { return name_of(h, true); }

namespace {

bool option_known(int level, int name, bool for_set) {
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_LINGER:
      case SO_RCVBUF:
      case SO_SNDBUF:
      case SO_REUSEADDR:
      case SO_REUSEPORT:
      case SO_KEEPALIVE:
      case SO_BROADCAST: return true;
      case SO_ERROR:
      case SO_TYPE: return !for_set;
      default: return false;
    }
  }
  return level == IPPROTO_TCP && name == TCP_NODELAY;
}

socklen_t option_size(int level, int name) {
  return (level == SOL_SOCKET && name == SO_LINGER) ? sizeof(linger) : sizeof(int);
}

// IPPROTO_TCP options apply to TCP sockets only: a UDP or Unix-domain socket has none
// (Linux says EOPNOTSUPP for AF_UNIX, ENOPROTOOPT for UDP; weft says WSAENOPROTOOPT for both).
bool is_tcp(const detail::Sock* s) {
  return s->type == SOCK_STREAM && (s->family == AF_INET || s->family == AF_INET6);
}

}  // namespace

Status set_option(Socket h, int level, int name, const void* value, socklen_t len) {
  SockRef r;
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (auto ec = detail::sock_gate(r.s)) return ec;
  if (!option_known(level, name, true)) return wsa::enoprotoopt;
  if (!value || len < option_size(level, name)) return wsa::efault;
  if (level == IPPROTO_TCP && !is_tcp(r.s)) return wsa::enoprotoopt;
  if (::setsockopt(r.s->fd, level, name, value, option_size(level, name)) != 0) {
    return detail::errno_to_error(errno);
  }
  if (level == SOL_SOCKET && name == SO_SNDBUF) ++r.s->sndbuf_changes;  // see Sock
  if (level == SOL_SOCKET && name == SO_LINGER) {
    const auto* l = static_cast<const linger*>(value);
    r.s->linger_on = l->l_onoff != 0;
    r.s->linger_seconds = l->l_linger < 0 ? 0 : l->l_linger;
  }
  return {};
}

Status get_option(Socket h, int level, int name, void* value, socklen_t* len) {
  SockRef r;
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (r.s->state == SockState::closing) return wsa::enotsock;
  if (!option_known(level, name, false)) return wsa::enoprotoopt;
  if (!value || !len || *len < option_size(level, name)) return wsa::efault;
  if (level == IPPROTO_TCP && !is_tcp(r.s)) return wsa::enoprotoopt;
  if (r.s->fd < 0) {  // aborted: the kernel socket is gone
    if (level == SOL_SOCKET && name == SO_ERROR) {
      *static_cast<int*>(value) = ECONNABORTED;
      *len = sizeof(int);
      return {};
    }
    return wsa::econnaborted;
  }
  socklen_t l = *len;
  if (::getsockopt(r.s->fd, level, name, value, &l) != 0) return detail::errno_to_error(errno);
  *len = l;
  return {};
}

Status set_linger(Socket h, std::optional<std::chrono::seconds> t) {
  linger l{};
  l.l_onoff = t.has_value() ? 1 : 0;
  l.l_linger = t ? static_cast<int>(t->count() < 0 ? 0 : t->count()) : 0;
  return set_option(h, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

static Status set_int(Socket h, int level, int name, bool on) {
  int v = on ? 1 : 0;
  return set_option(h, level, name, &v, sizeof v);
}
Status set_nodelay(Socket h, bool on) { return set_int(h, IPPROTO_TCP, TCP_NODELAY, on); }
Status set_reuse_address(Socket h, bool on) { return set_int(h, SOL_SOCKET, SO_REUSEADDR, on); }
Status set_reuse_port(Socket h, bool on) { return set_int(h, SOL_SOCKET, SO_REUSEPORT, on); }

Status shutdown(Socket h, Shutdown how) {
  SockRef r;
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (auto ec = detail::sock_gate(r.s)) return ec;
  if (how != Shutdown::receive && how != Shutdown::send && how != Shutdown::both)
    return wsa::einval;
  if (detail::connection_oriented(r.s->type) && r.s->state != SockState::connected)
    return wsa::enotconn;
  if (::shutdown(r.s->fd, static_cast<int>(how)) != 0) return detail::errno_to_error(errno);
  if (how != Shutdown::send) r.s->shut_rd = true;
  if (how != Shutdown::receive) r.s->shut_wr = true;
  // Fibers blocked in the direction shut down see it at once (WSAESHUTDOWN).
  if (r.s->shut_rd) {
    while (detail::IoWaiter* w = r.s->readers.pop_front()) r.rt->complete(w->fiber);
  }
  if (r.s->shut_wr) {
    while (detail::IoWaiter* w = r.s->writers.pop_front()) r.rt->complete(w->fiber);
  }
  return {};
}

namespace {

// Linux blocks in close(2) while SO_LINGER {1, t>0} is set, whatever O_NONBLOCK says
// (inet_release passes sk_lingertime to tcp_close), so the runtime lingers itself and
// clears the option before every close it does not want abortive.
void clear_linger(int fd) noexcept {
  linger off{0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof off);
}

// Bytes sent but not yet acknowledged by the peer (FIN included). For AF_UNIX, what the
// peer has not read yet: Linux charges a sent buffer to its sender until the receiver has
// consumed it, and SIOCOUTQ reports that charge.
int unacked(int fd) noexcept {
  int outq = 0;
  if (::ioctl(fd, SIOCOUTQ, &outq) != 0) return 0;
  return outq;
}

}  // namespace

Status close(Socket h, const CancelToken& token) {
  // The token reaches only the linger wait (close itself always closes): see below.
  detail::BlockingEntry entry(token, "close", detail::WaitObj::socket, to_integer(h));
  SockRef r;
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (r.s->state == SockState::closing) return wsa::enotsock;  // another fiber is closing it
  auto& table = r.rt->sockets();
  // Calls other fibers have outstanding on this socket end with WSAEINTR, and the table says
  // what they leave behind: a send that had moved part of its data leaves a cut-off stream,
  // which the peer must see reset, not ended by a clean FIN it could take for the whole.
  if (table.cancel_waiters_for_close(r.s) == detail::Leaves::reset) {
    table.reset(r.s);
    table.release(r.s);
    return {};
  }

  bool lingering = r.s->linger_on && r.s->linger_seconds > 0 && r.s->fd >= 0 &&
                   detail::connection_oriented(r.s->type) && r.s->state == SockState::connected;
  if (lingering) {
    // A lingering close is a blocking call. Where it may not wait (off a fiber, in a hook,
    // at stop) it closes gracefully in the background instead; under a cancelled token it
    // is cancelled before it starts: linger expiry, as below.
    detail::Err refused = entry.need_fiber();
    if (!refused) refused = entry.admit();
    if (refused.is(wsa::eintr) || refused.is(wsa::etimedout)) {
      table.leave_after_cancel(r.s, detail::Op::close_linger, 0);
      return refused;
    }
    lingering = !refused;
  }
  if (lingering) {
    // Graceful within t seconds: FIN after the queued data, then one blocking call that
    // looks every 5 ms for the peer's acknowledgement of all of it; abortive (RST) if t
    // expires first. One call, not a sleep per look: a cancel that arrives while a look
    // runs is kept by the call (rearm) instead of falling between two sleeps.
    r.s->state = SockState::closing;
    int fd = r.s->fd;
    ::shutdown(fd, SHUT_WR);
    const std::int64_t deadline =
        detail::RuntimeImpl::now_ns() + std::int64_t{r.s->linger_seconds} * 1'000'000'000;
    detail::BlockingCall call(entry);
    for (bool first = true;; first = false) {
      detail::CallState how = first ? detail::CallState::pending : call.rearm();
      if (how == detail::CallState::pending) {
        if (unacked(fd) == 0) {
          clear_linger(fd);
          break;
        }
        const std::int64_t now = detail::RuntimeImpl::now_ns();
        if (now >= deadline) {
          // SO_LINGER {1, t} is still set; make it {1, 0} so that close resets.
          linger rst{1, 0};
          ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
          break;
        }
        detail::CallDeadline look(entry.fiber(), detail::CallState::completed);
        look.arm(std::min<std::int64_t>(deadline, now + 5'000'000));
        how = call.wait();
        if (how == detail::CallState::completed) continue;
      }
      // Cancelled, a deadline, or stop: the table says linger expiry. Reset now; the handle
      // stays valid until a close that returns 0.
      table.leave_after_cancel(table.get(h), detail::Op::close_linger, 0);
      return detail::outcome_error(how);
    }
    table.release(table.get(h));
    return {};
  }
  if (r.s->fd >= 0 && r.s->linger_on && r.s->linger_seconds > 0) clear_linger(r.s->fd);
  table.release(r.s);
  return {};
}

}  // namespace weft
