// Figures beyond the core: token fan-out, the fast path, echo throughput, memory per fiber,
// and scale.
#include "figures.hpp"

#include "harness.hpp"
#include "peers.hpp"

#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <boost/context/detail/fcontext.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace weft::bench {
namespace {

using namespace std::chrono_literals;
namespace bctx = boost::context::detail;

// Resident set size of this process, in KiB.
double rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1024.0;
}

// Runs the named sample (samples() below) in a fresh process — this program again, with
// --sample NAME — and returns the numbers it printed: memory figures need a process whose
// heap and pools hold nothing from earlier figures.
std::vector<double> in_fresh_process(const char* name) {
  return run_for_numbers({"/proc/self/exe", "--sample", name});
}

// --- cancel_fanout ------------------------------------------------------------------------

// n fibers blocked in sleep under one token; one cancel; time until the last has resumed,
// divided by n. After resuming, each waits (join) for a gate fiber, so that the time is the
// cancel's and not that of n fibers ending (an ended fiber's stack beyond the pool is
// returned to the kernel: a syscall each).
std::vector<double> weft_fanout(const Config&, std::size_t n) {
  RuntimeOptions o;
  o.stack_size = 16 * 1024;
  Runtime rt(o);
  std::int64_t t0 = 0, t1 = 0;
  (void)rt.spawn([&] {
    CancelSource source;
    CancelToken token = source.token();
    std::size_t resumed = 0;
    FiberId gate = *spawn([] { (void)this_fiber::sleep_for(24h); });
    for (std::size_t i = 0; i < n; ++i) {
      (void)spawn([&] {
        (void)this_fiber::sleep_for(24h, token);
        if (++resumed == n) t1 = now_ns();
        (void)join(gate);
      });
    }
    this_fiber::yield();  // every one is blocked
    t0 = now_ns();
    source.cancel();
    while (resumed < n) this_fiber::yield();
    (void)cancel_blocking_call(gate);
  });
  (void)rt.run();
  return {static_cast<double>(t1 - t0) / static_cast<double>(n)};
}

// One pass of the scheduler over n parked fibers: each loops on yield, and one yield of the
// timing fiber lets every other run once. What a visit to a fiber whose stack and record are
// cold costs at 100k — the resumption half of a fan-out, without any cancel. Per fiber, for
// the passes after the first.
std::vector<double> weft_yield_pass(const Config&, std::size_t n) {
  RuntimeOptions o;
  o.stack_size = 16 * 1024;
  Runtime rt(o);
  std::vector<double> out;
  (void)rt.spawn([&] {
    bool done = false;
    std::vector<FiberId> ids;
    ids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back(*spawn([&] {
        while (!done) this_fiber::yield();
      }));
    }
    this_fiber::yield();  // every one has started
    for (int pass = 0; pass < 3; ++pass) {
      auto t0 = now_ns();
      this_fiber::yield();
      out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(n));
    }
    done = true;
    for (FiberId id : ids) (void)join(id);
  });
  (void)rt.run();
  return out;
}

// The floor of such a pass: n bare Boost.Context contexts on 16 KiB stacks spaced as guarded
// stacks are (a 4 KiB page between two), each jumped into and straight back in turn, with the
// saved registers of the fourth ahead prefetched as weft's scheduler does. What any stackful
// design pays to visit 100k parked stacks: two cold lines each.
std::vector<double> fcontext_pass(const Config&, std::size_t n) {
  constexpr std::size_t kStack = 16 * 1024, kStride = kStack + 4096;
  const std::size_t bytes = kStride * n;
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    std::fprintf(stderr, "weft-bench: mmap of %zu bytes for the context pass: %s\n", bytes,
                 std::strerror(errno));
    std::exit(1);
  }
  auto body = [](bctx::transfer_t t) {
    for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
  };
  char* base = static_cast<char*>(mem);
  std::vector<bctx::fcontext_t> ctx(n);
  for (std::size_t i = 0; i < n; ++i) {
    ctx[i] = bctx::make_fcontext(base + i * kStride + kStride, kStack, body);
    ctx[i] = bctx::jump_fcontext(ctx[i], nullptr).fctx;  // started, parked in its loop
  }
  std::vector<double> out;
  for (int pass = 0; pass < 3; ++pass) {
    auto t0 = now_ns();
    for (std::size_t i = 0; i < n; ++i) {
      if (i + 4 < n) {
        const char* sp = static_cast<const char*>(ctx[i + 4]);
        __builtin_prefetch(sp);
        __builtin_prefetch(sp + 64);
      }
      ctx[i] = bctx::jump_fcontext(ctx[i], nullptr).fctx;
    }
    out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(n));
  }
  ::munmap(mem, bytes);  // the contexts stay parked on it, never resumed again
  return out;
}

// --- recv_ready ---------------------------------------------------------------------------

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

// --- memory samples, each run alone in a fresh process -----------------------------------

constexpr std::size_t kRecvFibers = 4000, kSleepFibers = 100'000, kScaleCap = 1'000'000;

std::vector<double> sample_weft_recv() {
  Runtime rt;
  double per = 0;
  (void)rt.spawn([&] {
    auto l = *socket(AF_INET, SOCK_STREAM);
    (void)bind(l, Address::loopback_v4(0));
    (void)listen(l, 4096);
    Address at = *local_address(l);
    double before = rss_kib();
    std::vector<Socket> ends;
    std::vector<FiberId> fibers;
    for (std::size_t i = 0; i < kRecvFibers; ++i) {
      auto c = *socket(AF_INET, SOCK_STREAM);
      (void)connect(c, at);
      auto a = *accept(l);
      ends.push_back(c);
      ends.push_back(a);
      fibers.push_back(*spawn([a] {
        char b[64];
        (void)recv(a, b, sizeof b);
      }));
    }
    this_fiber::yield();
    per = (rss_kib() - before) / kRecvFibers;
    for (FiberId id : fibers) (void)cancel_blocking_call(id);
    for (FiberId id : fibers) (void)join(id);
    for (Socket s : ends) (void)close(s);
    (void)close(l);
  });
  (void)rt.run();
  return std::vector<double>{per};
}

std::vector<double> sample_weft_sleep() {
  Runtime rt;
  double per = 0;
  (void)rt.spawn([&] {
    double before = rss_kib();
    CancelSource source;
    for (std::size_t i = 0; i < kSleepFibers; ++i) {
      (void)spawn([t = source.token()] { (void)this_fiber::sleep_for(24h, t); });
    }
    this_fiber::yield();
    per = (rss_kib() - before) / kSleepFibers;
    source.cancel();
  });
  (void)rt.run();
  return std::vector<double>{per};
}

// Sleeping fibers until a limit (or the cap): {count, RSS GiB}.
std::vector<double> sample_scale() {
  RuntimeOptions o;
  o.stack_size = 16 * 1024;
  Runtime rt(o);
  std::size_t count = 0;
  double rss = 0;
  (void)rt.spawn([&] {
    CancelSource source;
    for (; count < kScaleCap; ++count) {
      if (!spawn([t = source.token()] { (void)this_fiber::sleep_for(24h, t); }).ok()) break;
      if (count % 65536 == 0) this_fiber::yield();  // let them block as we go
    }
    this_fiber::yield();
    rss = rss_kib() / (1024.0 * 1024.0);
    source.cancel();
  });
  (void)rt.run();
  return std::vector<double>{static_cast<double>(count), rss};
}

const std::map<std::string, std::vector<double> (*)()>& samples() {
  static const std::map<std::string, std::vector<double> (*)()> table = {
      {"weft_recv", sample_weft_recv},
      {"weft_sleep", sample_weft_sleep},
      {"asio_spawn_recv",
       [] { return std::vector<double>{asio_spawn_recv_kib_per_coroutine(kRecvFibers, rss_kib)}; }},
      {"asio_spawn_sleep",
       [] { return std::vector<double>{asio_spawn_sleep_kib_per_coroutine(kSleepFibers, rss_kib)}; }},
      {"scale", sample_scale},
  };
  return table;
}

// --- echo ---------------------------------------------------------------------------------

struct EchoSpec {
  const char* figure;
  std::size_t connections, size;
};

// One server of an echo figure against the client on this thread. With `placement`
// same_core, this thread is pinned to core 0 while the server is made, so that the server's
// threads (made by it, or forked) inherit that core, and while the client runs.
Contender echo_contender(std::string name, std::function<std::unique_ptr<EchoServer>()> make,
                         EchoSpec spec, std::map<std::string, std::vector<double>>* latencies,
                         Placement placement = Placement::os) {
  return {name,
          [=](const Config& cfg) {
            WakerPlacement pin(placement);
            auto server = make();
            double per_second = 0;
            std::size_t rounds = cfg.samples(spec.connections == 1 ? 10'000 : 400);
            auto lat = echo_client(server->port(), spec.connections, spec.size, rounds, &per_second);
            auto& pool = (*latencies)[name];
            pool.insert(pool.end(), lat.begin(), lat.end());
            return std::vector<double>{per_second};
          },
          "round trips/s per round; one client thread, poll(2)"};
}

// The same load for every server of the echo_threads figure: two client threads, each with
// half the connections; throughput is their sum.
Contender echo_threads_contender(std::string name,
                                 std::function<std::unique_ptr<EchoServer>()> make) {
  return {name,
          [=](const Config& cfg) {
            auto server = make();
            constexpr std::size_t kPerClient = 50;
            std::size_t rounds = cfg.samples(400);
            double rate[2] = {0, 0};
            std::thread second([&] {
              (void)echo_client(server->port(), kPerClient, 64, rounds, &rate[1]);
            });
            (void)echo_client(server->port(), kPerClient, 64, rounds, &rate[0]);
            second.join();
            return std::vector<double>{rate[0] + rate[1]};
          },
          "round trips/s per round, two client threads of 50 connections"};
}

}  // namespace

int run_sample(const std::string& name) {
  auto it = samples().find(name);
  if (it == samples().end()) {
    std::fprintf(stderr, "weft-bench: no sample %s\n", name.c_str());
    return 2;
  }
  for (double v : it->second()) std::printf("%.17g\n", v);
  return 0;
}

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

void figures_more(const Config& cfg, std::vector<Figure>& out) {
  if (cfg.wants("cancel_fanout")) {
    std::vector<Contender> contenders = {
        {"weft_1k", [](const Config& c) { return weft_fanout(c, 1'000); }, ""},
        {"weft_10k", [](const Config& c) { return weft_fanout(c, 10'000); }, ""},
        {"weft_100k", [](const Config& c) { return weft_fanout(c, 100'000); }, ""},
        {"asio_spawn_100k", [](const Config& c) { return asio_spawn_fanout(c, 100'000); },
         "one cancellation_signal per coroutine (Asio has no shared token)"},
        {"weft_yield_pass_100k", [](const Config& c) { return weft_yield_pass(c, 100'000); },
         "no cancel: one scheduler pass over 100k fibers parked in yield"},
        {"boost_context_pass_100k", [](const Config& c) { return fcontext_pass(c, 100'000); },
         "floor: a bare switch round trip to each of 100k parked contexts in turn"}};
    if (go_available()) {
      contenders.push_back({"go_100k", [](const Config&) { return go_samples({"fanout", "100000"}); },
                            "goroutines in select on one context's Done() and a 24 h timer; "
                            "cancel(); GOMAXPROCS=1"});
    }
    Figure f = run_interleaved(
        "cancel_fanout", "ns/fiber",
        "N fibers blocked in sleep under one token; one cancel; until the last has resumed, "
        "divided by N",
        "same core", contenders, cfg.costly());
    if (go_available()) add_ratio(f, "weft_over_go_100k", "weft_100k", "go_100k");
    f.values["ns_per_fiber_100k"] = f.contenders["weft_100k"].p50;
    f.values["ns_per_fiber_10k"] = f.contenders["weft_10k"].p50;
    f.values["ns_per_fiber_1k"] = f.contenders["weft_1k"].p50;
    add_ratio(f, "weft_100k_over_weft_1k", "weft_100k", "weft_1k");
    add_ratio(f, "weft_over_asio_spawn_100k", "weft_100k", "asio_spawn_100k");
    add_ratio(f, "weft_100k_over_yield_pass_100k", "weft_100k", "weft_yield_pass_100k");
    add_ratio(f, "yield_pass_over_context_pass_100k", "weft_yield_pass_100k",
              "boost_context_pass_100k");
    add_value_goal(f, "ns_per_fiber_100k", 150.0);
    out.push_back(std::move(f));
  }
  if (cfg.wants("recv_ready")) {
    Figure f = run_interleaved(
        "recv_ready", "ns/call",
        "recv of 64 B with data queued, and send of 64 B with room, per call (batches of 1000)",
        "same core",
        fast_path_contenders(), cfg.costly());
    add_ratio(f, "weft_over_syscall", "weft_recv", "syscall_recv");
    add_ratio(f, "weft_send_over_syscall", "weft_send", "syscall_send");
    add_goal(f, "weft_over_syscall", 1.10);
    add_goal(f, "weft_send_over_syscall", 1.10);
    out.push_back(std::move(f));
  }
  for (EchoSpec spec : {EchoSpec{"echo", 100, 64}, EchoSpec{"echo_1conn_64B", 1, 64},
                        EchoSpec{"echo_100conn_4KiB", 100, 4096}, EchoSpec{"echo_1conn_4KiB", 1, 4096}}) {
    if (!cfg.wants(spec.figure)) continue;
    std::map<std::string, std::vector<double>> lat;
    std::vector<Contender> contenders = {
        echo_contender("weft", weft_echo_server, spec, &lat),
        echo_contender("libuv", libuv_echo_server, spec, &lat),
        echo_contender("asio_callbacks", [] { return asio_echo_server(false); }, spec, &lat),
        echo_contender("asio_spawn", [] { return asio_echo_server(true); }, spec, &lat)};
    if (go_available()) {
      contenders.push_back(echo_contender("go", [] { return go_echo_server(1); }, spec, &lat));
    }
    if (spec.connections == 1) {
      // One connection is a ping-pong of cross-thread wake-ups, whose cost on these machines
      // is set by where the two threads land (docs/benchmarks.md, "Placement, measured"):
      // the same servers again with server and client pinned to one core.
      contenders.push_back(echo_contender("weft_same_core", weft_echo_server, spec, &lat,
                                          Placement::same_core));
      contenders.push_back(echo_contender("libuv_same_core", libuv_echo_server, spec, &lat,
                                          Placement::same_core));
      contenders.push_back(echo_contender("asio_spawn_same_core",
                                          [] { return asio_echo_server(true); }, spec, &lat,
                                          Placement::same_core));
    }
    Figure f = run_interleaved(
        spec.figure, "round trips/s",
        "ping-pong of " + std::to_string(spec.size) + " B messages on " +
            std::to_string(spec.connections) + " connection(s), all in flight; higher is better",
        "cross core (server thread, client thread)", contenders,
        spec.connections == 1 ? cfg.costly() : cfg);
    for (auto& [name, samples] : lat) f.values[name + "_p99_ns"] = summarize(samples).p99;
    add_ratio(f, "weft_over_libuv", "weft", "libuv");
    add_ratio(f, "weft_over_asio_spawn", "weft", "asio_spawn");
    add_ratio(f, "weft_over_asio_callbacks", "weft", "asio_callbacks");
    if (go_available()) add_ratio(f, "weft_over_go", "weft", "go");
    if (spec.connections == 1) {
      add_ratio(f, "weft_same_core_over_libuv_same_core", "weft_same_core", "libuv_same_core");
      add_ratio(f, "weft_same_core_over_asio_spawn_same_core", "weft_same_core",
                "asio_spawn_same_core");
    }
    add_goal(f, "weft_over_libuv", 0.95, false);
    add_goal(f, "weft_over_asio_spawn", 1.0, false);
    out.push_back(std::move(f));
  }
  if (cfg.wants("echo_threads")) {
    std::vector<Contender> contenders = {
        echo_threads_contender("weft_1thread", [] { return weft_group_echo_server(1); }),
        echo_threads_contender("weft_2threads", [] { return weft_group_echo_server(2); }),
        echo_threads_contender("asio_spawn_1thread", [] { return asio_echo_server(true, 1); }),
        echo_threads_contender("asio_spawn_2threads", [] { return asio_echo_server(true, 2); })};
    if (go_available()) {
      contenders.push_back(echo_threads_contender("go_1thread", [] { return go_echo_server(1); }));
      contenders.push_back(echo_threads_contender("go_2threads", [] { return go_echo_server(2); }));
    }
    Figure f = run_interleaved(
        "echo_threads", "round trips/s",
        "64 B ping-pong on 100 connections from two client threads, against servers on 1 and "
        "2 threads; higher is better",
        "all threads share the machine's cores with the clients",
        contenders, cfg);
    add_ratio(f, "weft_2threads_over_1thread", "weft_2threads", "weft_1thread");
    add_ratio(f, "asio_2threads_over_1thread", "asio_spawn_2threads", "asio_spawn_1thread");
    add_ratio(f, "weft_over_asio_2threads", "weft_2threads", "asio_spawn_2threads");
    if (go_available()) add_ratio(f, "weft_over_go_2threads", "weft_2threads", "go_2threads");
    add_goal(f, "weft_over_asio_2threads", 1.0, false);
    out.push_back(std::move(f));
  }
  if (cfg.wants("fiber_memory")) {
    std::vector<Contender> contenders = {
        {"weft_recv", [](const Config&) { return in_fresh_process("weft_recv"); },
         "4,000 fibers, 8,000 sockets"},
        {"asio_spawn_recv", [](const Config&) { return in_fresh_process("asio_spawn_recv"); },
         "4,000 coroutines in async_read_some, 8,000 sockets"},
        {"weft_sleep", [](const Config&) { return in_fresh_process("weft_sleep"); },
         "100,000 fibers"},
        {"asio_spawn_sleep", [](const Config&) { return in_fresh_process("asio_spawn_sleep"); },
         "100,000 coroutines in steady_timer::async_wait"}};
    if (go_available()) {
      contenders.push_back({"go_recv", [](const Config&) { return go_samples({"recv-memory", std::to_string(kRecvFibers)}); },
                            "4,000 goroutines in conn.Read, 8,000 sockets"});
      contenders.push_back({"go_sleep", [](const Config&) { return go_samples({"sleep-memory", std::to_string(kSleepFibers)}); },
                            "100,000 goroutines in time.Sleep"});
    }
    Figure f = run_interleaved(
        "fiber_memory", "KiB/fiber",
        "RSS growth per fiber: blocked in recv on a connected socket (both ends, 4,000 fibers), "
        "and blocked in sleep (100,000 fibers); a fresh process per sample",
        "-", contenders, cfg.costly());
    f.values["rss_kib_per_recv_fiber"] = f.contenders["weft_recv"].p50;
    f.values["rss_kib_per_sleep_fiber"] = f.contenders["weft_sleep"].p50;
    add_ratio(f, "weft_recv_over_asio_spawn", "weft_recv", "asio_spawn_recv");
    add_ratio(f, "weft_sleep_over_asio_spawn", "weft_sleep", "asio_spawn_sleep");
    if (go_available()) {
      add_ratio(f, "weft_recv_over_go", "weft_recv", "go_recv");
      add_ratio(f, "weft_sleep_over_go", "weft_sleep", "go_sleep");
    }
    add_value_goal(f, "rss_kib_per_recv_fiber", 8.0);
    out.push_back(std::move(f));
  }
  if (cfg.wants("scale")) {
    announce("scale");
    // Sleeping fibers until a limit (or the cap), in a fresh process: {count, RSS GiB}.
    auto r = in_fresh_process("scale");
    Figure f;
    f.name = "scale";
    f.unit = "fibers";
    f.what = "the most fibers blocked in sleep at once (16 KiB stacks), up to a cap of 1,000,000, "
             "and the RSS then; one run in a fresh process";
    f.placement = "-";
    if (r.size() == 2) {
      f.values["max_sleeping_fibers"] = r[0];
      f.values["rss_gib_at_max"] = r[1];
    }
    add_value_goal(f, "max_sleeping_fibers", 1'000'000, false);
    add_value_goal(f, "rss_gib_at_max", 8.0);
    out.push_back(std::move(f));
  }
}

}  // namespace weft::bench
