// Test helpers: plain POSIX sockets as the other end of a weft socket. They observe FIN, RST
// and data independently of weft. Every wait is bounded, so a broken runtime fails a test
// instead of hanging it.
#pragma once

#include <weft/fiber.hpp>
#include <weft/fiber_id.hpp>
#include <weft/net.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::test {

// An owned POSIX descriptor.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd = o.fd;
      o.fd = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int get() const { return fd; }
};

// A blocking POSIX listener on the loopback address of `family`, on an ephemeral port.
inline Fd posix_listener(Address& bound, int family = AF_INET, int backlog = 128) {
  Fd l(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_GE(l.fd, 0) << std::strerror(errno);
  int one = 1;
  ::setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  Address any = family == AF_INET6 ? Address::loopback_v6(0) : Address::loopback_v4(0);
  EXPECT_EQ(::bind(l.fd, any.data(), any.size()), 0) << std::strerror(errno);
  EXPECT_EQ(::listen(l.fd, backlog), 0);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&ss), &len);
  bound = *Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  return l;
}

// Waits up to timeout_ms for fd to become readable.
inline bool posix_readable(int fd, int timeout_ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// Like posix_readable, but from a fiber: the runtime's thread keeps running its loop (and so
// its own callbacks) while the test waits.
inline bool posix_readable_from_fiber(int fd, int timeout_ms);

// (Defined below, after weft/fiber.hpp.)
inline Result<std::size_t> recv_cancelled_while_blocked(Socket s);
inline void cancel_from_this_runtime(FiberId f, const std::atomic<bool>& done,
                                     std::atomic<long>& attempts, std::atomic<long>& bad_replies);

inline Fd posix_accept(int listener, int timeout_ms = 5000) {
  if (!posix_readable(listener, timeout_ms)) return Fd{};
  return Fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

// A blocking POSIX connection to `to` (loopback: completes at once when a listener exists).
inline Fd posix_connect(const Address& to) {
  Fd c(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(c.fd, to.data(), to.size()), 0) << std::strerror(errno);
  return c;
}

// A weft TCP socket connected to a plain POSIX peer (from a fiber).
struct PeerConnection {
  Fd listener;
  Fd peer;
  Socket s = Socket::invalid;
};

inline PeerConnection connect_to_posix_peer(int family = AF_INET) {
  PeerConnection c;
  Address addr;
  c.listener = posix_listener(addr, family);
  auto s = weft::socket(family, SOCK_STREAM);
  EXPECT_TRUE(s.ok());
  c.s = s.value_or(Socket::invalid);
  EXPECT_TRUE(weft::connect(c.s, addr).ok());
  c.peer = posix_accept(c.listener.get());
  EXPECT_GE(c.peer.get(), 0);
  return c;
}

inline void posix_send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    off += static_cast<std::size_t>(n);
  }
}

// What the peer saw until the stream ended: the bytes, and how it ended.
struct PeerView {
  std::string data;
  bool eof = false;  // orderly FIN
  int error = 0;     // ECONNRESET for an RST
  bool timed_out = false;
};

// Reads until EOF, an error, or timeout_ms without progress.
inline PeerView posix_read_to_end(int fd, int timeout_ms = 5000) {
  PeerView v;
  std::string chunk(65536, '\0');  // on the heap: fiber stacks are small
  char* buf = chunk.data();
  for (;;) {
    if (!posix_readable(fd, timeout_ms)) {
      v.timed_out = true;
      return v;
    }
    ssize_t n = ::recv(fd, buf, chunk.size(), 0);
    if (n > 0) {
      v.data.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      v.eof = true;
      return v;
    } else if (errno != EINTR) {
      v.error = errno;
      return v;
    }
  }
}

// Reads exactly n bytes (or fewer on EOF/error/timeout).
inline std::string posix_read_n(int fd, std::size_t n, int timeout_ms = 5000) {
  std::string out;
  std::string chunk(65536, '\0');  // on the heap: fiber stacks are small
  while (out.size() < n && posix_readable(fd, timeout_ms)) {
    ssize_t got = ::recv(fd, chunk.data(), std::min(chunk.size(), n - out.size()), 0);
    if (got <= 0) break;
    out.append(chunk.data(), static_cast<std::size_t>(got));
  }
  return out;
}

inline void set_small_buffers(int fd, int bytes = 4096) {
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

// Fills the weft socket's send path until the kernel takes not one more byte, and until it
// stays so; returns the bytes queued. On TCP the first WSAEWOULDBLOCK is not the end:
// acknowledgements still on their way free what they acknowledge, and a send made just after
// could move bytes. So it sleeps a millisecond and fills again until a refill finds no room
// (from a fiber: the sleep is weft's).
inline std::size_t fill_send_buffer(Socket s) {
  std::string chunk(64 * 1024, 'f');
  std::size_t total = 0;
  auto fill = [&] {
    for (std::size_t size : {chunk.size(), std::size_t{1}}) {
      for (;;) {
        auto n = send_some(s, chunk.data(), size, MSG_DONTWAIT);
        if (!n.ok()) {
          EXPECT_EQ(n.error(), wsa::ewouldblock);
          break;
        }
        total += *n;
      }
    }
  };
  fill();
  for (int i = 0; i < 100; ++i) {
    const std::size_t before = total;
    (void)this_fiber::sleep_for(std::chrono::milliseconds(1));
    fill();
    if (total == before) break;
  }
  return total;
}

}  // namespace weft::test

#include <weft/cancel.hpp>
#include <weft/fiber.hpp>

// The same-runtime canceller of the race tests: cancels fiber f's call each time it runs —
// then f is blocked or ready, never mid-call — until `done`; counts the attempts, and the
// replies that are neither 0 nor WSAEINVAL (none is allowed).
inline void weft::test::cancel_from_this_runtime(FiberId f, const std::atomic<bool>& done,
                                                 std::atomic<long>& attempts,
                                                 std::atomic<long>& bad_replies) {
  while (!done.load()) {
    Status c = cancel_blocking_call(f);
    if (!c.ok() && c.error() != wsa::einval) bad_replies.fetch_add(1);
    attempts.fetch_add(1, std::memory_order_relaxed);
    this_fiber::yield();
  }
}

// What a recv on s returns when another fiber of this runtime cancels it while it is blocked
// (no data comes).
inline weft::Result<std::size_t> weft::test::recv_cancelled_while_blocked(Socket s) {
  Result<std::size_t> result = wsa::einval;
  auto reader = spawn([&] {
    char b[64];
    result = recv(s, b, sizeof b);
  });
  this_fiber::yield();  // it blocks
  EXPECT_TRUE(cancel_blocking_call(*reader).ok());
  EXPECT_TRUE(join(*reader).ok());
  return result;
}

inline bool weft::test::posix_readable_from_fiber(int fd, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 5) {
    if (posix_readable(fd, 0)) return true;
    (void)weft::this_fiber::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}
