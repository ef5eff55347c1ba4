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

// --- the coordination figures' shapes (figures_coordination.cpp), which every contender of
// a figure, weft's and the peers', runs alike ---

// Same-thread ping-pong: timed in batches of round trips and divided.
constexpr std::size_t kPingPongBatches = 20;
inline std::size_t pingpong_per_batch(const Config& cfg) { return cfg.samples(50'000); }
// Ping-pong between two threads: each round trip timed on its own.
inline std::size_t cross_pingpong_samples(const Config& cfg) { return cfg.samples(4'000); }
// Throughput (channel_stream, mutex_contended): each sample runs for a window, after which
// the senders (or the mutex's takers) stop; the sample is what was done from the first
// operation to the last one's end, per second.
constexpr std::size_t kFlowSamples = 3;
inline std::chrono::milliseconds flow_window(const Config& cfg) {
  return std::chrono::milliseconds(cfg.quick ? 20 : 60);
}
constexpr std::size_t kStreamCapacity = 1024;
constexpr int kMutexFibers = 64;

// One sample of a throughput figure. Every worker (a fiber, a thread) calls start() before
// its first operation and finish(ops) at its end, and stops once stopped(); the sample is
// the operations done from the first start to the last finish, per second.
class FlowSample {
 public:
  void start() noexcept {
    std::int64_t none = 0;
    if (first_.load(std::memory_order_relaxed) == 0) {
      (void)first_.compare_exchange_strong(none, now_ns(), std::memory_order_relaxed);
    }
  }
  bool stopped() const noexcept { return stop_.load(std::memory_order_relaxed); }
  void finish(std::uint64_t ops) noexcept {
    done_.fetch_add(ops, std::memory_order_relaxed);
    std::int64_t t = now_ns(), last = last_.load(std::memory_order_relaxed);
    while (t > last && !last_.compare_exchange_weak(last, t, std::memory_order_relaxed)) {}
  }
  void stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  double per_second() const noexcept {
    const std::int64_t span = last_.load() - first_.load();
    return span > 0 ? static_cast<double>(done_.load()) * 1e9 / static_cast<double>(span) : 0;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> first_{0}, last_{0};
  std::atomic<std::uint64_t> done_{0};
};

// kFlowSamples samples of a throughput figure: each calls body(sample), which returns once
// its workers have ended, while a timer thread stops the sample after flow_window(cfg).
template <class Body>
std::vector<double> flow_samples(const Config& cfg, Body&& body) {
  std::vector<double> out;
  for (std::size_t i = 0; i < kFlowSamples; ++i) {
    FlowSample fs;
    std::thread timer([&] {
      std::this_thread::sleep_for(flow_window(cfg));
      fs.stop();
    });
    body(fs);
    timer.join();
    out.push_back(fs.per_second());
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

// A peer that is a program of its own, built beside weft-bench (peers_program.cpp): its path
// (empty if it is not there), its "version" line, the numbers it prints when run with `args`
// (aborts if none), and its "serve-echo THREADS" mode as a child process — or any mode that
// prints its port on its first line, then serves until its standard input closes
// (peer_program_server, with that mode and its arguments).
class EchoServer;
std::string peer_program_path(const char* name);
std::string peer_program_version(const std::string& path);
std::vector<double> peer_program_samples(const std::string& path, const char* name,
                                         const std::vector<std::string>& args);
std::unique_ptr<EchoServer> peer_program_echo_server(const std::string& path, const char* name,
                                                     int threads);
std::unique_ptr<EchoServer> peer_program_server(const std::string& path, const char* name,
                                                const std::vector<std::string>& args);

// Go (benchmarks/go/peer.go): weft-bench-go beside this program, built when Debian's
// golang-go is installed. go_samples runs it once with `args` and returns what it printed.
bool go_available();
std::string go_version();  // the Go release weft-bench-go was built with
std::vector<double> go_samples(const std::vector<std::string>& args);

// tokio 1.24 (benchmarks/tokio): weft-bench-tokio beside this program, built when Debian's
// cargo, librust-tokio-dev and librust-tokio-util-dev are installed. tokio_samples runs it once
// with `args` and returns what it printed.
bool tokio_available();
std::string tokio_version();    // "tokio 1.24.2, tokio-util 0.7.3"
std::string tokio_skip_note();  // why it is not there, for the environment line
std::vector<double> tokio_samples(const std::vector<std::string>& args);

// Boost.Fiber 1.81 (peers_boost_fiber.cpp), when meson found its library: otherwise
// boost_fiber_available() is false and the figures skip these contenders.
bool boost_fiber_available();
std::string boost_fiber_version();  // the Boost release it was built with, "1.81.0"
// Two fibers of one thread passing a token through two channels: unbuffered_channel
// (capacity 0) or buffered_channel (capacity 1, which Boost.Fiber spells 2: it keeps one slot
// free). ns per round trip, in batches.
std::vector<double> boost_fiber_pingpong(const Config& cfg, std::size_t capacity);
// The same, the two fibers on two threads (placed as `placement` says): ns per round trip.
std::vector<double> boost_fiber_pingpong_cross_thread(const Config& cfg, std::size_t capacity,
                                                      Placement placement);
// `producers` fibers sending into one buffered_channel of kStreamCapacity and `consumers`
// receiving, all on one thread or the producers on one and the consumers on another:
// messages per second.
std::vector<double> boost_fiber_stream(const Config& cfg, int producers, int consumers,
                                       bool two_threads);
// kMutexFibers fibers taking one boost::fibers::mutex in turn (lock, increment, yield,
// unlock), on one thread or half on each of two: acquisitions per second.
std::vector<double> boost_fiber_mutex(const Config& cfg, bool two_threads);
// Two fibers of one thread ping-ponging with boost::this_fiber::yield: ns per round trip, in
// batches (fiber_switch's weft_yield_roundtrip, in Boost.Fiber).
std::vector<double> boost_fiber_yield_roundtrip(const Config& cfg);
// RSS growth (KiB, by `rss`) per fiber, of n fibers of the calling thread blocked in
// this_fiber::sleep_for(24 h) or in condition_variable::wait: with Boost.Fiber's default
// stack allocator (fixedsize_stack of its default size, malloc'd) for guarded_stack_size 0,
// otherwise with a protected_fixedsize_stack of that usable size (mmap'd, a guard page below
// it). The fibers are left waiting: the caller, a process of its own, ends with std::_Exit
// once it has the figure. Ending them would measure nothing and take seconds (one munmap per
// stack, each a TLB flush, about 120 µs on these virtual machines), and Boost.Fiber's
// scheduler, destroyed at the thread's exit, would wait for every one of them.
enum class BoostFiberWait { sleep, condition_variable };
double boost_fiber_wait_kib_per_fiber(std::size_t n, BoostFiberWait how,
                                      std::size_t guarded_stack_size, double (*rss)());

// An OS thread blocked in recv(2), interrupted by pthread_kill (a handler without
// SA_RESTART, so recv fails with EINTR).
std::vector<double> pthread_kill_cancel(const Config& cfg);

// An echo server on its own thread, on a loopback port.
class EchoServer {
 public:
  virtual ~EchoServer() = default;
  virtual std::uint16_t port() const = 0;
  // The CPU time its threads have used so far (ns), for the figures that divide a server's
  // own time by its work (the TLS figures); -1 where it is not known.
  virtual std::int64_t cpu_ns() const { return -1; }
  // The resident set of its process (KiB), for the figures that divide a server's memory by
  // its connections (c10k); -1 where the server is not a process of its own.
  virtual double rss_kib() const { return -1; }
};
std::unique_ptr<EchoServer> asio_echo_server(bool coroutines, int threads = 1);
std::unique_ptr<EchoServer> libuv_echo_server();
std::unique_ptr<EchoServer> weft_echo_server();
// A weft::RuntimeGroup of `threads` runtimes serving with one SO_REUSEPORT listener each.
std::unique_ptr<EchoServer> weft_group_echo_server(int threads);
// Go: weft-bench-go serve-echo, a goroutine per connection on `threads` Ps.
std::unique_ptr<EchoServer> go_echo_server(int threads);
// tokio: weft-bench-tokio serve-echo, a task per connection on a current_thread runtime
// (threads 1) or a multi_thread one with `threads` workers.
std::unique_ptr<EchoServer> tokio_echo_server(int threads);

// The one client every echo server is driven by: `connections` connections, each a
// ping-pong of `size`-byte messages, all connections in flight at once, for `rounds`
// exchanges each. Returns the round-trip latencies (ns); `*per_second` gets the throughput.
std::vector<double> echo_client(std::uint16_t port, std::size_t connections, std::size_t size,
                                std::size_t rounds, double* per_second);

}  // namespace weft::bench
