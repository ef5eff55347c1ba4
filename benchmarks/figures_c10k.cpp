// The c10k figure: ten thousand connections open at once, each pinged with 64 B once a second
// (10,000 round trips a second in all, spread evenly over the second), against one server
// thread: the round trips' times, and what the connections cost the server in memory and CPU.
//
// The server runs in a process of its own and the client in this one: RLIMIT_NOFILE is 20,000
// on these machines, and the two ends of 10,000 connections would not fit in one process.
// weft's and Asio's servers are this program again (--serve-echo NAME, the echo figures'
// servers), Go's and tokio's their programs' serve-echo mode on one thread.
#include "figures.hpp"

#include "harness.hpp"
#include "peers.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::bench {
namespace {

constexpr std::size_t kMessage = 64;
constexpr std::int64_t kPeriodNs = 1'000'000'000;  // each connection pings once a second
// Connections are made this many at a time, and every connection of a batch echoes once before
// the next batch is made: the listen backlog (1,024 in weft's and tokio's servers) never fills
// (a SYN dropped by a full queue is sent again only a second later), and each connection's
// fiber, goroutine, task or coroutine is parked in its read before the figure starts.
constexpr std::size_t kConnectBatch = 250;
// A round trip still missing after this long means a server that stalled: the run fails
// loudly rather than hang.
constexpr std::int64_t kStuckNs = 10'000'000'000;

// A round's size: connections, then a warm-up whose round trips are not kept (each server's
// first pass over its connections after the batches, and the client's schedule settling), then
// the window whose round trips, CPU and memory are the figure. --quick keeps it to seconds: the
// smoke test runs every figure under a time limit.
struct Shape {
  std::size_t connections;
  std::int64_t warmup_ns, window_ns;
};

Shape shape(const Config& cfg) {
  if (cfg.quick) return {1'000, 500'000'000, 2'000'000'000};
  return {10'000, 1'000'000'000, 5'000'000'000};
}

// The harness's first round of each contender, which it discards, is kept short: every round
// starts a fresh server process and has a warm-up of its own, so a whole discarded round would
// settle nothing more, and it would cost a fifth of the figure's time (half in --quick). It
// still runs every step, so that this process's own first-time costs (its pages, lazy
// binding) fall in it.
constexpr Shape kDiscardedRound = {1'000, 100'000'000, 500'000'000};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "weft-bench: c10k: %s (%s)\n", what, std::strerror(errno));
  std::abort();
}

// The client: `n` loopback connections, non-blocking, on one epoll set, on this thread.
// Connection i pings at i/n of every second, so that the second's n pings are evenly spread.
class Client {
 public:
  Client(std::uint16_t port, std::size_t n) : conns_(n) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) fail("epoll_create1");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    for (std::size_t first = 0; first < n; first += kConnectBatch) {
      const std::size_t end = std::min(n, first + kConnectBatch);
      for (std::size_t i = first; i < end; ++i) {
        // Connected while blocking (a loopback handshake, finished by the kernel), then
        // non-blocking for the pings.
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) fail("socket");
        conns_[i].fd = fd;
        if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) fail("connect");
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl");
      }
      for (std::size_t i = first; i < end; ++i) ping(i, false);
      settle(nullptr);
    }
  }

  // Resets every connection (SO_LINGER 0): neither end keeps a port in TIME_WAIT, so round
  // after round of 10,000 connections never runs short of ephemeral ports; each server's read
  // fails and its connection ends.
  ~Client() {
    for (const Conn& c : conns_) {
      if (c.fd < 0) continue;
      linger l{1, 0};
      ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(c.fd);
    }
    ::close(ep_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Pings on schedule for `duration_ns`, the schedule going on from where the last call left
  // it. With `keep`, returns the round trips (ns) of the pings it sent, having waited for the
  // last of them; without, returns nothing and does not wait.
  std::vector<double> run(std::int64_t duration_ns, bool keep) {
    std::vector<double> out;
    if (keep) out.reserve(static_cast<std::size_t>(duration_ns / kPeriodNs + 1) * conns_.size());
    const std::int64_t start = now_ns(), end = start + duration_ns;
    if (base_ == 0) base_ = start;
    for (;;) {
      std::int64_t now = now_ns();
      for (std::int64_t due; (due = due_ns(next_)) <= now && due < end; ++next_) {
        ping(next_ % conns_.size(), keep);
      }
      if (now >= end) break;
      wait(std::min(due_ns(next_), end) - now, keep ? &out : nullptr);
    }
    if (keep) settle(&out);
    return out;
  }

  // Pings skipped because the connection still waited for its last one a second later.
  std::size_t skipped() const { return skipped_; }

 private:
  struct Conn {
    int fd = -1;
    std::int64_t sent_at = 0;
    std::size_t got = 0;  // bytes of the echo received
    bool waiting = false, keep = false;
  };

  std::int64_t due_ns(std::uint64_t k) const {
    return base_ +
           static_cast<std::int64_t>(k * static_cast<std::uint64_t>(kPeriodNs) / conns_.size());
  }

  void ping(std::size_t i, bool keep) {
    Conn& c = conns_[i];
    if (c.waiting) {
      ++skipped_;
      return;
    }
    static const char msg[kMessage] = {};
    c.sent_at = now_ns();
    if (::send(c.fd, msg, kMessage, MSG_NOSIGNAL) != static_cast<ssize_t>(kMessage)) {
      fail("send of a ping");
    }
    c.got = 0;
    c.waiting = true;
    c.keep = keep;
    ++waiting_;
  }

  // Waits up to `timeout_ns` for echoes and takes them; a finished round trip that was kept
  // goes to `out`.
  void wait(std::int64_t timeout_ns, std::vector<double>* out) {
    epoll_event events[256];
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
                static_cast<long>(timeout_ns % 1'000'000'000)};
    int k = ::epoll_pwait2(ep_, events, 256, &ts, nullptr);
    if (k < 0 && errno != EINTR) fail("epoll_pwait2");
    char buf[kMessage];
    for (int e = 0; e < k; ++e) {
      Conn& c = conns_[events[e].data.u64];
      ssize_t n = ::recv(c.fd, buf, kMessage - c.got, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0 || !c.waiting) fail("a server closed a connection, or sent what it was not sent");
      c.got += static_cast<std::size_t>(n);
      if (c.got < kMessage) continue;
      const std::int64_t at = now_ns();
      c.waiting = false;
      --waiting_;
      if (c.keep && out != nullptr) out->push_back(static_cast<double>(at - c.sent_at));
    }
  }

  // Waits until every ping has its echo.
  void settle(std::vector<double>* out) {
    const std::int64_t stuck = now_ns() + kStuckNs;
    while (waiting_ > 0) {
      if (now_ns() > stuck) fail("a server left pings unanswered for 10 s");
      wait(100'000'000, out);
    }
  }

  std::vector<Conn> conns_;
  int ep_ = -1;
  std::int64_t base_ = 0;   // when the schedule began
  std::uint64_t next_ = 0;  // the schedule's next ping: connection next_ % n
  std::size_t waiting_ = 0, skipped_ = 0;
};

// Per contender, one entry per round, the harness's discarded round first.
using Rounds = std::map<std::string, std::vector<double>>;

struct Measures {
  Rounds rss_kib_per_conn, cpu_percent;
};

// One server against the client: its round trips in the window are the round's samples; its
// RSS growth from before the connections to after the window, per connection, and its CPU
// time over the window, as a share of one core, go to `m`.
Contender c10k_contender(const std::string& name, std::function<std::unique_ptr<EchoServer>()> make,
                         Measures* m, const std::string& note) {
  auto rounds_run = std::make_shared<int>(0);
  return {name,
          [=](const Config& cfg) {
            const Shape s = (*rounds_run)++ == 0 ? kDiscardedRound : shape(cfg);
            auto server = make();
            const double rss_before = server->rss_kib();
            std::vector<double> out;
            {
              Client client(server->port(), s.connections);
              (void)client.run(s.warmup_ns, false);
              const std::int64_t cpu0 = server->cpu_ns(), t0 = now_ns();
              out = client.run(s.window_ns, true);
              const std::int64_t cpu1 = server->cpu_ns(), t1 = now_ns();
              const double rss_after = server->rss_kib();
              if (rss_before < 0 || rss_after < 0 || cpu0 < 0 || cpu1 < 0) {
                std::fprintf(stderr, "weft-bench: c10k: %s: no RSS or CPU time of its server\n",
                             name.c_str());
                std::abort();
              }
              if (client.skipped() > 0) {
                std::fprintf(stderr,
                             "weft-bench: c10k: %s: %zu pings skipped (a connection still "
                             "waited for its echo a second later)\n",
                             name.c_str(), client.skipped());
              }
              m->rss_kib_per_conn[name].push_back((rss_after - rss_before) /
                                                  static_cast<double>(s.connections));
              m->cpu_percent[name].push_back(100.0 * static_cast<double>(cpu1 - cpu0) /
                                             static_cast<double>(t1 - t0));
            }
            return out;
          },
          note};
}

// This program again, as a server of the echo figures alone in its process.
std::unique_ptr<EchoServer> self_server(const char* name) {
  return peer_program_server("/proc/self/exe", "weft-bench", {"--serve-echo", name});
}

// The median over rounds (the discarded round left out) of each contender's `rounds`, as the
// value NAME_SUFFIX; and weft's over each other contender's, per round, as the ratio
// weft_RATIO_over_NAME (median, min and max over rounds, as the harness takes ratios).
void add_round_values(Figure& f, Rounds& rounds, const std::string& suffix,
                      const std::string& ratio, const std::string& peer_suffix) {
  for (auto& [name, v] : rounds) {
    if (!v.empty()) v.erase(v.begin());
    if (!v.empty()) f.values[name + "_" + suffix] = summarize(v).p50;
  }
  const std::vector<double>& weft = rounds["weft"];
  for (const auto& [name, v] : rounds) {
    if (name == "weft") continue;
    RatioStat stat;
    if (ratio_of_rounds(weft, v, &stat)) {
      f.ratios["weft_" + ratio + "_over_" + name + peer_suffix] = stat;
    }
  }
}

}  // namespace

Figure figure_c10k(const Config& cfg) {
  Measures m;
  const std::string alone = "; one thread, a process of its own";
  std::vector<Contender> contenders;
  contenders.push_back(c10k_contender(
      "weft", [] { return self_server("weft"); }, &m,
      "a fiber per connection: recv, send" + alone));
  contenders.push_back(c10k_contender(
      "asio_spawn", [] { return self_server("asio_spawn"); }, &m,
      "asio::spawn, a coroutine per connection" + alone));
  if (go_available()) {
    contenders.push_back(c10k_contender(
        "go", [] { return go_echo_server(1); }, &m,
        "a goroutine per connection, GOMAXPROCS=1; a process of its own"));
  }
  if (tokio_available()) {
    contenders.push_back(c10k_contender(
        "tokio", [] { return tokio_echo_server(1); }, &m,
        "a task per connection, current_thread" + alone));
  }
  // A round takes seconds per contender (10,000 connections made, a warm-up, a 5 s window):
  // five rounds, the fewest docs/benchmarks.md allows, in a full run; one in --quick.
  Config rounds = cfg.costly();
  if (!cfg.quick) rounds.rounds = std::min(rounds.rounds, 5);
  const std::string n = std::to_string(shape(cfg).connections);
  const std::string what = n + " connections open at once, each a 64 B ping-pong once a second, " +
                           "the pings spread evenly (" + n + " round trips/s); a round trip " +
                           "from the send to the echo's last byte";
  Figure f = run_interleaved("c10k", "ns", what,
                             "client: this process, one thread, epoll; server: a process of "
                             "its own; where the scheduler puts them",
                             contenders, rounds);
  add_round_values(f, m.rss_kib_per_conn, "rss_kib_per_conn", "rss_per_conn", "");
  add_round_values(f, m.cpu_percent, "cpu_percent", "cpu", "_cpu");
  for (const Contender& c : contenders) {
    if (c.name == "weft") continue;
    add_ratio(f, "weft_over_" + c.name, "weft", c.name);
    add_ratio(f, "weft_p99_over_" + c.name + "_p99", "weft", c.name, Stat::p99);
  }
  if (go_available()) {
    add_goal(f, "weft_p99_over_go_p99", 1.0);
    add_goal(f, "weft_rss_per_conn_over_go", 0.8);
  }
  if (tokio_available()) add_goal(f, "weft_p99_over_tokio_p99", 1.0);
  return f;
}

}  // namespace weft::bench
