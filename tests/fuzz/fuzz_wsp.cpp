// libFuzzer target: random sequences of calls, cancels and closes through the C adapter on a
// real loopback connection, checked against a reference model of semantics.md.
//
// Each input is a program: one byte chooses an operation, the next its argument. A driver
// fiber runs it against one weft socket W connected to a plain POSIX peer P. Readers and a
// writer are fibers of their own, so that calls block and cancels find them blocked. The model
// knows the two byte streams (what P sent, what W sent), the socket's state (open, shut for
// writing, aborted, closed) and the peer's (open, FIN, reset), and checks after every call:
//   * a recv returns exactly the next bytes P sent, in order (none lost, none repeated), 0 only
//     after P's FIN with everything consumed, and an error only in a state that allows it;
//   * what P receives is exactly a prefix of what W's sends reported as sent, unless a send was
//     cancelled after moving bytes — then the connection is reset and every later call but
//     close says WSAECONNABORTED (semantics §3);
//   * a cancel returns 0 or WSAEINVAL, never anything else; a call on a closed handle returns
//     WSAENOTSOCK; WSAEINTR comes only to a call that a cancel or a close could have reached.
// A violation aborts (libFuzzer then saves the input).
#include <weft/wsp.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

[[noreturn]] void violated(const char* what, long a = 0, long b = 0) {
  std::fprintf(stderr, "fuzz_wsp: model violated: %s (%ld, %ld)\n", what, a, b);
  std::abort();
}
#define REQUIRE(cond, ...)                                   \
  do {                                                       \
    if (!(cond)) violated(#cond __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

char pattern(std::uint64_t i, int stream) {
  return static_cast<char>((i * 31 + stream * 101 + (i >> 7)) & 0xff);
}

struct Model {
  // The socket under test and its peer.
  WEFT_SOCKET w = WEFT_INVALID_SOCKET;
  int p = -1;
  // Streams: bytes P sent / W consumed; bytes W sent (reported) / P received.
  std::uint64_t peer_sent = 0, weft_consumed = 0;
  std::uint64_t weft_sent = 0, peer_received = 0;
  bool closed = false, shut_wr = false, aborted = false;
  bool peer_fin = false, peer_reset = false;
  bool send_cancelled = false;  // a send ended WSAEINTR: it may have moved bytes (then: reset)
  int readers = 0;
  bool writer = false;  // one writer at a time: two would interleave partial sends
  std::vector<weft_fiber_t> workers;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0, pos = 0;

  bool more() const { return pos < size; }
  std::uint8_t next() { return pos < size ? data[pos++] : 0; }
};

Model* g = nullptr;

// Errors a data call on W may give in the model's current state (besides success).
bool error_allowed(int err, bool is_send) {
  switch (err) {
    case WSAEINTR: return true;  // a cancel or a close may have reached it
    case WSAENOTSOCK: return g->closed;
    case WSAECONNABORTED: return g->aborted || g->send_cancelled;
    case WSAECONNRESET: return g->peer_reset || g->send_cancelled || g->peer_fin;
    case WSAESHUTDOWN: return is_send && g->shut_wr;
    default: return false;
  }
}

void reader_fiber(void* arg) {
  auto len = static_cast<int>(reinterpret_cast<std::uintptr_t>(arg));
  std::vector<char> buf(static_cast<std::size_t>(len));
  int err = 0;
  int n = WSPRecv(g->w, buf.data(), len, 0, &err);
  if (n > 0) {
    REQUIRE(!g->closed);
    for (int i = 0; i < n; ++i) {
      REQUIRE(buf[static_cast<std::size_t>(i)] == pattern(g->weft_consumed + i, 0),
              static_cast<long>(g->weft_consumed), i);
    }
    g->weft_consumed += static_cast<std::uint64_t>(n);
    REQUIRE(g->weft_consumed <= g->peer_sent, static_cast<long>(g->weft_consumed),
            static_cast<long>(g->peer_sent));
  } else if (n == 0) {
    REQUIRE(g->peer_fin && g->weft_consumed == g->peer_sent);
  } else {
    REQUIRE(error_allowed(err, false), err);
    if (err == WSAECONNABORTED) g->aborted = true;
  }
  --g->readers;
}

void writer_fiber(void* arg) {
  auto len = static_cast<int>(reinterpret_cast<std::uintptr_t>(arg));
  std::vector<char> buf(static_cast<std::size_t>(len));
  for (int i = 0; i < len; ++i) buf[static_cast<std::size_t>(i)] = pattern(g->weft_sent + i, 1);
  int err = 0;
  int n = WSPSend(g->w, buf.data(), len, 0, &err);
  if (n >= 0) {
    REQUIRE(n == len && !g->closed);
    g->weft_sent += static_cast<std::uint64_t>(n);
  } else {
    REQUIRE(error_allowed(err, true), err);
    if (err == WSAEINTR) g->send_cancelled = true;  // maybe moved bytes: the stream is suspect
    if (err == WSAECONNABORTED) g->aborted = true;
  }
  g->writer = false;
}

// What P has received so far must be the next bytes of W's stream, unless a cancelled send
// (which may have moved bytes and then reset) makes the tail unknown.
void peer_drain() {
  static std::vector<char> storage(65536);  // not on the fiber stack (64 KiB)
  char* buf = storage.data();
  for (;;) {
    ssize_t n = ::recv(g->p, buf, storage.size(), MSG_DONTWAIT);
    if (n <= 0) return;
    for (ssize_t i = 0; i < n; ++i) {
      if (g->send_cancelled) break;  // a partial send's bytes: reset follows
      REQUIRE(buf[i] == pattern(g->peer_received + static_cast<std::uint64_t>(i), 1),
              static_cast<long>(g->peer_received), static_cast<long>(i));
    }
    g->peer_received += static_cast<std::uint64_t>(n);
    if (!g->send_cancelled) REQUIRE(g->peer_received <= g->weft_sent);
  }
}

void peer_send(int len) {
  if (g->peer_fin || g->peer_reset) return;
  std::vector<char> buf(static_cast<std::size_t>(len));
  for (int i = 0; i < len; ++i) buf[static_cast<std::size_t>(i)] = pattern(g->peer_sent + i, 0);
  ssize_t n = ::send(g->p, buf.data(), buf.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n > 0) g->peer_sent += static_cast<std::uint64_t>(n);
}

int driver(void*) {
  // One connected pair: W (weft) to P (POSIX, non-blocking).
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(l, 1) != 0)
    std::abort();
  ::getsockname(l, reinterpret_cast<sockaddr*>(&sa), &len);
  int err = 0;
  g->w = WSPSocket(AF_INET, SOCK_STREAM, 0, &err);
  REQUIRE(g->w != WEFT_INVALID_SOCKET, err);
  REQUIRE(WSPConnect(g->w, reinterpret_cast<sockaddr*>(&sa), sizeof sa, &err) == 0, err);
  g->p = ::accept(l, nullptr, nullptr);
  ::close(l);
  ::fcntl(g->p, F_SETFL, O_NONBLOCK);
  int small = 4096;  // small buffers: sends block soon
  ::setsockopt(g->p, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);

  while (g->more()) {
    std::uint8_t op = g->next() % 12;
    std::uint8_t arg = g->next();
    switch (op) {
      case 0: peer_send(1 + arg * 16); break;
      case 1:
        if (g->readers < 3) {
          ++g->readers;
          weft_fiber_t f =
              weft_spawn(reader_fiber, reinterpret_cast<void*>(std::uintptr_t{1} + arg));
          REQUIRE(f != 0);
          g->workers.push_back(f);
        }
        break;
      case 2:
        if (!g->writer) {
          g->writer = true;
          weft_fiber_t f =
              weft_spawn(writer_fiber, reinterpret_cast<void*>(std::uintptr_t{1} + arg * 512));
          REQUIRE(f != 0);
          g->workers.push_back(f);
        }
        break;
      case 3:
        if (!g->workers.empty()) {
          int r = weft_cancel_blocking_call(g->workers[arg % g->workers.size()], &err);
          REQUIRE(r == 0 || err == WSAEINVAL, err);
        }
        break;
      case 4: weft_yield(); break;
      case 5: (void)weft_sleep_ms(arg % 3, &err); break;
      case 6: peer_drain(); break;
      case 7:
        if (!g->closed && arg % 8 == 0) {
          int r = WSPCloseSocket(g->w, &err);
          REQUIRE(r == 0, err);
          g->closed = true;
        }
        break;
      case 8:
        if (!g->closed && !g->shut_wr && arg % 4 == 0) {
          int r = WSPShutdown(g->w, SHUT_WR, &err);
          REQUIRE(r == 0 || error_allowed(err, true) || err == WSAENOTCONN, err);
          g->shut_wr = true;
        }
        break;
      case 9:
        if (!g->peer_fin && !g->peer_reset) {
          if (arg % 16 == 0) {
            linger lg{1, 0};
            ::setsockopt(g->p, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            ::close(g->p);
            g->p = ::socket(AF_INET, SOCK_STREAM, 0);  // a placeholder P: nothing to read
            ::fcntl(g->p, F_SETFL, O_NONBLOCK);
            g->peer_reset = true;
          } else if (arg % 16 == 1) {
            ::shutdown(g->p, SHUT_WR);
            g->peer_fin = true;
          }
        }
        break;
      case 10: {
        int r = WSPCancelBlockingCall(&err);  // the driver has no outstanding call
        REQUIRE(r == SOCKET_ERROR && err == WSAEINVAL, r, err);
        break;
      }
      case 11: {
        if (g->closed) break;
        weft_fd_set rs;
        WEFT_FD_ZERO(&rs);
        WEFT_FD_SET(g->w, &rs);
        timeval tv{0, 0};
        int r = WSPSelect(0, &rs, nullptr, nullptr, &tv, &err);
        REQUIRE(r >= 0 || error_allowed(err, false), r, err);
        break;
      }
    }
  }
  // End: cancel every worker until all have ended (one spawned last may not have reached
  // its call yet), then join them.
  while (g->readers > 0 || g->writer) {
    for (weft_fiber_t f : g->workers) (void)weft_cancel_blocking_call(f, &err);
    weft_yield();
  }
  for (weft_fiber_t f : g->workers) {
    int r = weft_join(f, &err);
    REQUIRE(r == 0, err);
  }
  peer_drain();
  if (!g->closed) REQUIRE(WSPCloseSocket(g->w, &err) == 0, err);
  REQUIRE(WSPCloseSocket(g->w, &err) == SOCKET_ERROR && err == WSAENOTSOCK, err);
  ::close(g->p);
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Model m;
  m.data = data;
  m.size = size;
  g = &m;
  int rc = weft_run(driver, nullptr);
  REQUIRE(rc == 0, rc);
  g = nullptr;
  return 0;
}
