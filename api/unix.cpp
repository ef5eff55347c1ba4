// What only Unix-domain sockets do (semantics.md §10): socket pairs, adopting a descriptor the
// process inherited, passing descriptors (SCM_RIGHTS) and the peer's credentials
// (SO_PEERCRED). The blocking calls, send_fds and recv_fds, are written as send and recv are
// (socket_io.cpp): the checks of semantics.md §7a in their order, an attempt of the syscall,
// a park on readiness only when the kernel would block, and the one table (cancel_rule.hpp)
// for what a call that did not complete leaves behind: recv_fds has recv's row, send_fds
// send's.
#include <weft/unix.hpp>

#include "park.hpp"

#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft {

using detail::Attempt;
using detail::BlockingEntry;
using detail::Err;
using detail::Op;
using detail::Parked;
using detail::Sock;
using detail::SockRef;
using detail::SockState;
using detail::WaitObj;

static_assert(kMaxPassedDescriptors == 253, "Linux's SCM_MAX_FD");

Result<std::pair<Socket, Socket>> socketpair(int type) {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt) return wsa::einval;
  if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) return wsa::einval;
  int fds[2];
  if (::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    return detail::errno_to_error(errno);
  }
  auto a = rt->sockets().add(fds[0], AF_UNIX, type, SockState::connected);
  if (!a.ok()) {
    ::close(fds[1]);  // add() closed the other
    return a.error();
  }
  auto b = rt->sockets().add(fds[1], AF_UNIX, type, SockState::connected);
  if (!b.ok()) {
    rt->sockets().release(rt->sockets().get(*a));
    return b.error();
  }
  return std::pair<Socket, Socket>{*a, *b};
}

namespace {

int int_option(int fd, int name, int& out) noexcept {
  socklen_t len = sizeof out;
  return ::getsockopt(fd, SOL_SOCKET, name, &out, &len);
}

// What adopt() learns of a descriptor before it takes it; an error leaves it untouched.
struct Inherited {
  int family = 0;
  int type = 0;
  SockState state = SockState::open;
  bool bound = false;
};

Err inspect(int fd, Inherited& out) noexcept {
  if (fd < 0) return wsa::enotsock;
  int type = 0;
  // ENOTSOCK for a pipe, a file or a terminal; EBADF for a descriptor not open: neither is
  // a socket.
  if (int_option(fd, SO_TYPE, type) != 0) {
    return (errno == ENOTSOCK || errno == EBADF) ? Err(wsa::enotsock)
                                                 : Err(detail::errno_to_error(errno));
  }
  int family = 0;
  int protocol = 0;
  if (int_option(fd, SO_DOMAIN, family) != 0 || int_option(fd, SO_PROTOCOL, protocol) != 0) {
    return Err(detail::errno_to_error(errno));
  }
  if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) return wsa::eafnosupport;
  // The kinds of socket weft makes itself (socket()): TCP, UDP, and AF_UNIX's three types.
  const bool known = family == AF_UNIX
                         ? (type == SOCK_STREAM || type == SOCK_DGRAM || type == SOCK_SEQPACKET)
                         : ((type == SOCK_STREAM && protocol == IPPROTO_TCP) ||
                            (type == SOCK_DGRAM && protocol == IPPROTO_UDP));
  if (!known) return wsa::einval;
  out.family = family;
  out.type = type;
  int listening = 0;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (int_option(fd, SO_ACCEPTCONN, listening) == 0 && listening) {
    out.state = SockState::listening;
    out.bound = true;
  } else if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    out.state = SockState::connected;
    out.bound = true;
  } else {
    // Open: bound if it has a name (a port, a path or an abstract name). A TCP connect the
    // descriptor's previous owner left under way is seen as open too.
    len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      auto a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
      out.bound = a.ok() && (family == AF_UNIX ? !a->unix_path_name().empty() : a->port() != 0);
    }
  }
  return {};
}

}  // namespace

Result<Socket> adopt(int fd) {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt) return wsa::einval;
  Inherited what;
  if (auto ec = inspect(fd, what)) return ec;
  auto h = rt->sockets().adopt(fd, what.family, what.type, what.state);
  if (!h.ok()) return h.error();  // still the caller's, as it was
  rt->sockets().get(*h)->bound = what.bound;
  return h;
}

Result<PeerCredentials> peer_credentials(Socket h) {
  SockRef r;
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (auto ec = detail::sock_gate(r.s)) return ec;
  if (r.s->family != AF_UNIX) return wsa::eopnotsupp;
  if (r.s->state != SockState::connected) return wsa::enotconn;
  ucred c{};
  socklen_t len = sizeof c;
  if (::getsockopt(r.s->fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) {
    return detail::errno_to_error(errno);
  }
  // Linux records credentials when a stream or seqpacket connection is made and for both
  // ends of a pair; a datagram socket connected with connect() has none (pid 0, uid -1).
  if (c.pid == 0 && c.uid == static_cast<uid_t>(-1)) return wsa::enotconn;
  return PeerCredentials{c.pid, c.uid, c.gid};
}

namespace {

// The socket h names now, a Unix-domain one, through `gate`: the start of every attempt.
template <class Gate>
Err unix_socket(Socket h, SockRef& r, Gate&& gate) noexcept {
  if (auto ec = detail::sock_lookup(h, r)) return ec;
  if (auto ec = gate(r.s)) return ec;
  if (r.s->family != AF_UNIX) return wsa::eopnotsupp;
  return {};
}

// Room for the control messages of one message: SCM_MAX_FD descriptors, and the sender's
// credentials should the socket have SO_PASSCRED set (an adopted one may).
constexpr std::size_t kControlSize =
    CMSG_SPACE(sizeof(int) * kMaxPassedDescriptors) + CMSG_SPACE(sizeof(ucred));

// Appends the descriptors msg carries to fds, whose capacity the caller has made room for.
void take_descriptors(msghdr& msg, std::vector<int>& fds) noexcept {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (fds.size() < fds.capacity()) {
        fds.push_back(fd);  // within capacity: never allocates, never throws
      } else {
        ::close(fd);  // not reached: the caller reserved room for SCM_MAX_FD
      }
    }
  }
}

}  // namespace

Result<std::size_t> recv_fds(Socket h, void* buf, std::size_t len, std::vector<int>& fds,
                             const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  if (auto ec = entry.need_fiber()) return ec;
  SockRef r;
  if (auto ec = unix_socket(h, r, detail::recv_gate)) return ec;
  if (!buf && len > 0) return wsa::efault;
  // Room for every descriptor one message can carry, made before anything is received: a
  // vector that cannot grow fails the call with nothing taken, and a descriptor received is
  // never left without a place (nor leaked).
  try {
    fds.reserve(fds.size() + kMaxPassedDescriptors);
  } catch (const std::bad_alloc&) {
    return wsa::enobufs;
  } catch (const std::length_error&) {
    return wsa::enobufs;
  }
  if (auto ec = entry.admit()) return ec;
  Result<std::size_t> result = std::size_t{0};  // set by the attempt that ends the call
  auto attempt = [&]() -> Attempt {
    SockRef at;
    if (auto ec = unix_socket(h, at, detail::recv_gate)) {
      result = ec;
      return Attempt::done;
    }
    alignas(cmsghdr) unsigned char control[kControlSize];
    iovec iov{buf, len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = detail::retry_eintr([&] { return ::recvmsg(at.s->fd, &msg, MSG_CMSG_CLOEXEC); });
    if (n < 0) {
      if (errno == EAGAIN) {
        at.s->drained = true;
        return Attempt::would_block;
      }
      if (errno == ECONNRESET && detail::connection_oriented(at.s->type)) {
        at.s->reset_by_peer = true;
      }
      result = detail::errno_to_error(errno);
      return Attempt::done;
    }
    // Whatever the call returns, the descriptors received are the caller's now. (With
    // MSG_CTRUNC the kernel has closed those that found no room; the buffer holds
    // SCM_MAX_FD, so none do.)
    take_descriptors(msg, fds);
    at.s->drained = n > 0 && static_cast<std::size_t>(n) < len;
    if (n == 0 && at.s->reset_by_peer && len > 0) {
      result = wsa::econnreset;  // Linux says 0 after it has reported a reset once
    } else if (at.s->type != SOCK_STREAM && (msg.msg_flags & MSG_TRUNC)) {
      result = wsa::emsgsize;
    } else {
      result = static_cast<std::size_t>(n);
    }
    return Attempt::done;
  };
  if (attempt() == Attempt::done) return result;
  Parked p = detail::park_until_done(entry, "recv_fds", h, UV_READABLE, Op::recv, nullptr, attempt);
  if (!p.done()) {
    if (p.unfinished()) detail::leave_after_cancel(Op::recv, h, 0);
    return p.error;
  }
  return result;
}

Result<std::size_t> send_fds(Socket h, const void* buf, std::size_t len, std::span<const int> fds,
                             const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  if (auto ec = entry.need_fiber()) return ec;
  SockRef r;
  if (auto ec = unix_socket(h, r, detail::send_gate)) return ec;
  if (!buf && len > 0) return wsa::efault;
  if (fds.size() > kMaxPassedDescriptors) return wsa::einval;
  for (int fd : fds) {
    if (fd < 0) return wsa::einval;
  }
  // On a stream the descriptors ride with a byte of data: Linux sends nothing, and passes no
  // descriptor, for an empty write.
  if (!fds.empty() && len == 0 && r.s->type == SOCK_STREAM) return wsa::einval;
  if (auto ec = entry.admit()) return ec;
  std::size_t sent = 0;
  bool passed = false;                          // the descriptors went, with the first bytes
  Result<std::size_t> result = std::size_t{0};  // set by the attempt that ends the call
  auto attempt = [&]() -> Attempt {
    SockRef at;
    if (auto ec = unix_socket(h, at, detail::send_gate)) {
      result = ec;
      return Attempt::done;
    }
    const char* p = static_cast<const char*>(buf);
    do {
      ssize_t n;
      if (!passed) {
        alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int) * kMaxPassedDescriptors)];
        iovec iov{const_cast<char*>(p), len};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        if (!fds.empty()) {
          msg.msg_control = control;
          msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
          cmsghdr* c = CMSG_FIRSTHDR(&msg);
          c->cmsg_level = SOL_SOCKET;
          c->cmsg_type = SCM_RIGHTS;
          c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
          std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
        }
        n = detail::retry_eintr([&] { return ::sendmsg(at.s->fd, &msg, MSG_NOSIGNAL); });
        if (n >= 0) passed = true;
      } else {
        n = detail::retry_eintr(
            [&] { return detail::sys_send(at.s->fd, p + sent, len - sent, MSG_NOSIGNAL); });
      }
      if (n < 0) {
        if (errno == EAGAIN) return Attempt::would_block;
        if (errno == ECONNRESET || errno == EPIPE) at.s->reset_by_peer = true;
        // EBADF: a descriptor in fds is not open (the socket itself is, it was looked up).
        result = errno == EBADF ? Err(wsa::einval).error() : detail::errno_to_error(errno);
        return Attempt::done;
      }
      sent += static_cast<std::size_t>(n);
    } while (sent < len);
    result = sent;
    return Attempt::done;
  };
  if (attempt() == Attempt::done) return result;
  Parked p = detail::park_until_done(entry, "send_fds", h, UV_WRITABLE, Op::send, &sent, attempt);
  if (!p.done()) {
    if (p.unfinished()) detail::leave_after_cancel(Op::send, h, sent);
    return p.error;
  }
  return result;
}

}  // namespace weft
