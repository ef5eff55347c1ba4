// weft benchmarks — the peers every figure is compared with (Boost.Asio, raw libuv, OS
// threads), and the pieces the figures share.
#pragma once

#include "harness.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>

namespace weft::bench {

// Pause between cross-thread samples, long enough for the receiving loop to sleep in epoll.
constexpr auto kIdleGap = std::chrono::microseconds(50);

inline void spin_until(const std::atomic<bool>& flag) {
  while (!flag.load(std::memory_order_acquire)) {}
}

// Where the two threads of a cross-thread figure run. `os`: wherever the scheduler puts
// them (on a small virtual machine a mixture of the two below); `same_core`: both pinned to
// core 0, so the woken thread preempts the waker there; `cross_core`: the waker on core 0,
// the woken thread on core 1, so that every wake-up crosses cores.
enum class Placement { os, same_core, cross_core };

// The core the woken side of a figure with placement `p` runs on, or -1 for `os`.
inline int woken_core(Placement p) {
  return p == Placement::os ? -1 : p == Placement::same_core ? 0 : 1;
}

// Pins the calling thread to `cpu` for its lifetime (the woken side of a pinned figure); does
// nothing for -1.
void pin_thread(int cpu);

// For the duration of a scope, pins the calling thread to core 0 (the waking side of a
// pinned figure); restores its previous affinity at the end. Does nothing for `os`.
class WakerPlacement {
 public:
  explicit WakerPlacement(Placement p);
  ~WakerPlacement();
  WakerPlacement(const WakerPlacement&) = delete;
  WakerPlacement& operator=(const WakerPlacement&) = delete;

 private:
  bool pinned_ = false;
  unsigned char saved_[128];  // a cpu_set_t
};

// The woken side of a cross-thread latency sample: mark() when the woken code runs.
struct WakeProbe {
  std::atomic<std::int64_t> at{0};
  std::atomic<bool> woke{false};
  void mark() noexcept {
    at.store(now_ns(), std::memory_order_relaxed);
    woke.store(true, std::memory_order_release);
  }
};

// n samples of a cross-thread wake-up: after an idle gap (the other side asleep in its
// poll), fire() — which returns the time it fired at — then wait for probe.mark(); a sample
// is the time between the two.
template <class Fire>
std::vector<double> cross_thread_samples(std::size_t n, WakeProbe& probe, Fire&& fire) {
  std::vector<double> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::this_thread::sleep_for(kIdleGap);
    probe.woke.store(false);
    std::int64_t t0 = fire();
    spin_until(probe.woke);
    out.push_back(static_cast<double>(probe.at.load() - t0));
  }
  return out;
}

// Plain POSIX loopback sockets: a listener on an ephemeral port (its address in `bound`),
// and a connected pair (TCP_NODELAY on both ends).
int posix_loopback_listener(sockaddr_in& bound);
void posix_pair(int& a, int& b);

// Boost.Asio 1.81.
std::vector<double> asio_spawn_cancel_same_thread(const Config& cfg);
std::vector<double> asio_spawn_cancel_cross_thread(const Config& cfg);
std::vector<double> asio_spawn_fanout(const Config& cfg, std::size_t coroutines);
// RSS growth (KiB, by `rss`) per coroutine blocked in async_read_some on an accepted
// loopback connection, and per coroutine blocked in steady_timer::async_wait.
double asio_spawn_recv_kib_per_coroutine(std::size_t n, double (*rss)());
double asio_spawn_sleep_kib_per_coroutine(std::size_t n, double (*rss)());

// Go (benchmarks/go/peer.go): weft-bench-go beside this program, built when Debian's
// golang-go is installed. go_samples runs it once with `args` and returns what it printed.
bool go_available();
std::string go_version();  // the Go release weft-bench-go was built with
std::vector<double> go_samples(const std::vector<std::string>& args);

// An OS thread blocked in recv(2), interrupted by pthread_kill (a handler without
// SA_RESTART, so recv fails with EINTR).
std::vector<double> pthread_kill_cancel(const Config& cfg);

// An echo server on its own thread, on a loopback port.
class EchoServer {
 public:
  virtual ~EchoServer() = default;
  virtual std::uint16_t port() const = 0;
};
std::unique_ptr<EchoServer> asio_echo_server(bool coroutines, int threads = 1);
std::unique_ptr<EchoServer> libuv_echo_server();
std::unique_ptr<EchoServer> weft_echo_server();
// A weft::RuntimeGroup of `threads` runtimes serving with one SO_REUSEPORT listener each.
std::unique_ptr<EchoServer> weft_group_echo_server(int threads);
// Go: weft-bench-go serve-echo, a goroutine per connection on `threads` Ps.
std::unique_ptr<EchoServer> go_echo_server(int threads);

// The one client every echo server is driven by: `connections` connections, each a
// ping-pong of `size`-byte messages, all connections in flight at once, for `rounds`
// exchanges each. Returns the round-trip latencies (ns); `*per_second` gets the throughput.
std::vector<double> echo_client(std::uint16_t port, std::size_t connections, std::size_t size,
                                std::size_t rounds, double* per_second);

}  // namespace weft::bench
