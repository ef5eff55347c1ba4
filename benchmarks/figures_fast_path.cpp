// The fast path: recv with data queued and send with room, per call, against the bare
// syscalls (figure recv_ready); and --fast-path, one of its contenders alone in a process.
#include "figures.hpp"

#include "harness.hpp"
#include "peers.hpp"

#include <weft/weft.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/single_threaded.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weft::bench {
namespace {

constexpr std::size_t kFastBatch = 1000;
constexpr std::size_t kFastMsg = 64;

// Per call, timed over batches of kFastBatch calls: recv of kFastMsg bytes with plenty
// queued (the batch's bytes are written through `writer` and waited for with `wait_queued`
// first), or send with plenty of room (drained through `drainer` after each batch).
template <class WaitQueued, class Recv, class Send>
std::vector<double> fast_path(const Config& cfg, bool receive, int writer, int drainer,
                              WaitQueued&& wait_queued, Recv&& do_recv, Send&& do_send) {
  std::vector<double> out;
  std::string chunk(kFastBatch * kFastMsg, 'r');
  char buf[kFastMsg];
  const std::size_t batches = cfg.samples(200);
  for (std::size_t b = 0; b < batches; ++b) {
    if (receive) {
      std::size_t off = 0;
      while (off < chunk.size()) {
        ssize_t n = ::send(writer, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
        if (n <= 0) std::abort();
        off += static_cast<std::size_t>(n);
      }
      wait_queued(chunk.size());
      auto t0 = now_ns();
      for (std::size_t i = 0; i < kFastBatch; ++i) do_recv(buf, kFastMsg);
      out.push_back(static_cast<double>(now_ns() - t0) / kFastBatch);
    } else {
      auto t0 = now_ns();
      for (std::size_t i = 0; i < kFastBatch; ++i) do_send(chunk.data(), kFastMsg);
      out.push_back(static_cast<double>(now_ns() - t0) / kFastBatch);
      std::size_t left = chunk.size();
      while (left > 0) {
        ssize_t n = ::recv(drainer, chunk.data(), std::min<std::size_t>(left, 65536), 0);
        if (n <= 0) std::abort();
        left -= static_cast<std::size_t>(n);
      }
    }
  }
  return out;
}

// Set by --fast-path, whose instructions are counted: the waits above for a batch's bytes to
// be queued then sleep between looks, so that how long the kernel takes to queue them does
// not change the count. (The timed figure spins: nothing sleeps next to it.)
bool g_counting = false;
void pause_if_counting() {
  if (g_counting) ::usleep(5000);
}

// The floor's syscalls, made the cheapest way there is, as weft makes them: glibc's recv and
// send are cancellation points, which in a process that has had a second thread (a full run
// has) turn asynchronous cancellation on and off around the syscall; syscall(2) does not.
ssize_t floor_recv(int fd, void* buf, std::size_t len) {
  if (__libc_single_threaded) return ::recv(fd, buf, len, 0);
  return ::syscall(SYS_recvfrom, static_cast<long>(fd), buf, len, 0L, nullptr, nullptr);
}
ssize_t floor_send(int fd, const void* buf, std::size_t len) {
  if (__libc_single_threaded) return ::send(fd, buf, len, MSG_NOSIGNAL);
  return ::syscall(SYS_sendto, static_cast<long>(fd), buf, len, static_cast<long>(MSG_NOSIGNAL),
                   nullptr, 0L);
}

std::vector<double> raw_fast(const Config& cfg, bool receive) {
  int a = -1, other = -1;
  posix_pair(a, other);
  auto out = fast_path(
      cfg, receive, other, other,
      [&](std::size_t want) {
        int queued = 0;
        while (::ioctl(a, FIONREAD, &queued) == 0 && static_cast<std::size_t>(queued) < want) {
          pause_if_counting();
        }
      },
      [&](char* b, std::size_t n) { (void)floor_recv(a, b, n); },
      [&](const char* b, std::size_t n) { (void)floor_send(a, b, n); });
  ::close(a);
  ::close(other);
  return out;
}

std::vector<double> weft_fast(const Config& cfg, bool receive) {
  std::vector<double> out;
  Runtime rt;
  (void)rt.spawn([&] {
    // The weft end connects to a plain POSIX listener; the POSIX end is driven directly.
    sockaddr_in sa{};
    int l = posix_loopback_listener(sa);
    auto s = *socket(AF_INET, SOCK_STREAM);
    (void)connect(s, *Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa));
    int peer = ::accept(l, nullptr, nullptr);
    ::close(l);
    // TCP_NODELAY on both ends, as posix_pair sets for the floor: with Nagle's algorithm on,
    // most 64-byte sends would only queue behind the unacknowledged first one.
    int one = 1;
    if (!set_nodelay(s, true).ok() ||
        ::setsockopt(peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
      std::abort();
    }
    std::string peek(kFastBatch * kFastMsg, '\0');
    out = fast_path(
        cfg, receive, peer, peer,
        [&](std::size_t want) {
          while (recv(s, peek.data(), want, MSG_PEEK | MSG_DONTWAIT).value_or(0) < want) {
            pause_if_counting();
          }
        },
        [&](char* b, std::size_t n) { (void)recv(s, b, n); },
        [&](const char* b, std::size_t n) { (void)send(s, b, n); });
    (void)close(s);
    ::close(peer);
  });
  (void)rt.run();
  return out;
}

// The recv_ready contenders, for the figure and for --fast-path.
std::vector<Contender> fast_path_contenders() {
  return {{"syscall_recv", [](const Config& c) { return raw_fast(c, true); }, "floor"},
          {"weft_recv", [](const Config& c) { return weft_fast(c, true); }, ""},
          {"syscall_send", [](const Config& c) { return raw_fast(c, false); }, "floor"},
          {"weft_send", [](const Config& c) { return weft_fast(c, false); }, ""}};
}

}  // namespace

int run_fast_path(const std::string& name, const std::string& batches_arg) {
  char* end = nullptr;
  unsigned long batches = std::strtoul(batches_arg.c_str(), &end, 10);
  if (batches_arg.empty() || *end != '\0' || batches < 50 || batches > 100'000) {
    std::fprintf(stderr, "weft-bench: --fast-path takes a count of batches from 50 to 100000\n");
    return 2;
  }
  Config cfg;
  cfg.scale = static_cast<double>(batches) / 200.0;  // samples(200): one per batch
  g_counting = true;
  auto contenders = fast_path_contenders();
  auto it = std::find_if(contenders.begin(), contenders.end(),
                         [&](const Contender& c) { return c.name == name; });
  if (it == contenders.end()) {
    std::fprintf(stderr, "weft-bench: --fast-path takes syscall_recv, weft_recv, syscall_send or "
                         "weft_send\n");
    return 2;
  }
  std::vector<double> out = it->round(cfg);
  if (out.size() != batches) {
    std::fprintf(stderr, "weft-bench: --fast-path ran %zu batches, not %lu\n", out.size(), batches);
    return 1;
  }
  return 0;
}

Figure figure_recv_ready(const Config& cfg) {
  Figure f = run_interleaved(
      "recv_ready", "ns/call",
      "recv of 64 B with data queued, and send of 64 B with room, per call (batches of 1000)",
      "same core", fast_path_contenders(), cfg.costly());
  add_ratio(f, "weft_over_syscall", "weft_recv", "syscall_recv");
  add_ratio(f, "weft_send_over_syscall", "weft_send", "syscall_send");
  add_goal(f, "weft_over_syscall", 1.10);
  add_goal(f, "weft_send_over_syscall", 1.10);
  return f;
}

}  // namespace weft::bench
