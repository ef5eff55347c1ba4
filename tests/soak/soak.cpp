// weft-soak: thousands of connections echoing through one runtime while random cancels,
// deadlines and closes hit them; at the end every byte a client had echoed back is checked
// against what it sent, and descriptors, fibers and RSS are compared with their start.
//
//   weft-soak [--seconds N] [--connections N] [--seed N]
//
// Two runtimes on two threads: the server (an echo fiber per connection, the one under test)
// and the clients (a fiber per connection writing a numbered byte stream and reading the echo).
// A chaos fiber on each runtime cancels random blocked fibers; server requests run under
// random deadlines; clients close and reconnect at random. Exit status 0 when every check
// holds; the figures are printed either way.
#include "../support/process.hpp"

#include <weft/weft.hpp>

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;

using weft::test::open_descriptors;

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * 4096.0 / (1024.0 * 1024.0);
}

// The byte at position i of a connection's stream (its generation mixes in the seed).
char stream_byte(std::uint64_t conn_seed, std::uint64_t i) {
  return static_cast<char>((i * 131 + conn_seed * 7919 + (i >> 8)) & 0xff);
}

struct Counters {
  std::atomic<std::uint64_t> bytes_verified{0}, mismatches{0}, connections_made{0},
      client_cancels{0}, server_cancels{0}, server_deadlines{0}, resets_seen{0}, random_closes{0},
      server_resets{0}, other_errors{0};
};

struct Options {
  int seconds = 30;
  int connections = 5000;
  std::uint64_t seed = 1;
};

// The echo server: a fiber per connection. Each request (one recv, its echo) runs under a
// random deadline; a cancel or deadline during recv loses nothing (semantics §3: the next recv
// continues the stream), during send it resets the connection (the client sees it).
void serve(Socket s, Counters& c, std::uint64_t seed, const std::atomic<bool>& quit) {
  std::mt19937_64 rng(seed);
  std::vector<char> buf(16384);
  for (;;) {
    CancelScope scope(std::chrono::milliseconds(5 + rng() % 400));
    auto n = recv(s, buf.data(), buf.size());
    if (!n.ok()) {
      if (n.error() == wsa::eintr) {
        c.server_cancels++;
        if (quit.load(std::memory_order_relaxed)) break;
        continue;  // no byte was consumed: the stream goes on
      }
      if (n.error() == wsa::etimedout) {
        c.server_deadlines++;
        continue;
      }
      break;  // reset, aborted, stopping
    }
    if (*n == 0) break;
    if (rng() % 1000 == 0) {  // now and then the server resets the connection itself
      linger abort_now{1, 0};
      (void)set_option(s, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
      c.server_resets++;
      break;
    }
    auto sent = send(s, buf.data(), *n);
    if (!sent.ok()) {
      if (sent.error() == wsa::eintr) c.server_cancels++;
      if (sent.error() == wsa::etimedout) c.server_deadlines++;
      // Whether bytes had moved or not, this connection ends here (the client reconnects).
      break;
    }
  }
  (void)close(s);
}

// A client connection's life: connect, then write numbered chunks and read their echo until
// a random close, a reset, or the end. Every byte read must be the next byte sent.
void client(Address server, Counters& c, std::uint64_t seed, const std::atomic<bool>& quit) {
  std::mt19937_64 rng(seed);
  std::vector<char> out(8192), in(8192);
  while (!quit.load(std::memory_order_relaxed)) {
    auto s = socket(AF_INET, SOCK_STREAM);
    if (!s.ok()) {
      c.other_errors++;
      (void)this_fiber::sleep_for(10ms);
      continue;
    }
    if (!connect(*s, server).ok()) {
      (void)close(*s);
      (void)this_fiber::sleep_for(5ms);
      continue;
    }
    c.connections_made++;
    std::uint64_t conn_seed = rng();
    std::uint64_t sent = 0, received = 0;
    int exchanges_left = 1 + static_cast<int>(rng() % 200);
    bool broken = false;
    while (!quit.load(std::memory_order_relaxed) && !broken && exchanges_left-- > 0) {
      std::size_t len = 1 + rng() % out.size();
      for (std::size_t i = 0; i < len; ++i) out[i] = stream_byte(conn_seed, sent + i);
      auto w = send(*s, out.data(), len);
      if (!w.ok()) {
        if (w.error() == wsa::eintr) c.client_cancels++;
        break;  // a cancelled send may have moved bytes: this connection is over
      }
      sent += len;
      while (received < sent) {
        auto r = recv(*s, in.data(), std::min<std::size_t>(in.size(), sent - received));
        if (!r.ok()) {
          if (r.error() == wsa::eintr) {
            c.client_cancels++;  // nothing consumed: read on
            if (quit.load(std::memory_order_relaxed)) break;
            continue;
          }
          if (r.error() == wsa::econnreset || r.error() == wsa::econnaborted) c.resets_seen++;
          else c.other_errors++;
          broken = true;
          break;
        }
        if (*r == 0) {  // the server ended the connection (after a cancelled send)
          broken = true;
          break;
        }
        for (std::size_t i = 0; i < *r; ++i) {
          if (in[i] != stream_byte(conn_seed, received + i)) {
            c.mismatches++;
            broken = true;
            break;
          }
        }
        if (!broken) {
          received += *r;
          c.bytes_verified += *r;
        }
      }
    }
    if (!broken && exchanges_left <= 0) c.random_closes++;
    if (rng() % 4 == 0) {
      linger abort_now{1, 0};  // sometimes an abortive close
      (void)set_option(*s, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
    }
    (void)close(*s);
  }
}

// Cancels random blocked fibers of its runtime, from a fiber of the same runtime, every
// 0–2 ms, until quit.
void chaos(std::vector<FiberId>& targets, std::uint64_t seed, const std::atomic<bool>& quit) {
  std::mt19937_64 rng(seed);
  while (!quit.load(std::memory_order_relaxed)) {
    (void)this_fiber::sleep_for(std::chrono::microseconds(rng() % 2000));
    if (targets.empty()) continue;
    for (int k = 0; k < 8; ++k) (void)cancel_blocking_call(targets[rng() % targets.size()]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) opt.seconds = std::atoi(argv[++i]);
    else if (a == "--connections" && i + 1 < argc) opt.connections = std::atoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) opt.seed = std::strtoull(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: weft-soak [--seconds N] [--connections N] [--seed N]\n");
      return 2;
    }
  }
  if (opt.seconds <= 0 || opt.connections <= 0) {
    std::fprintf(stderr, "weft-soak: --seconds and --connections must be positive\n");
    return 2;
  }

  // libuv opens a process-wide pipe for signals with its first loop, kept for the process's
  // life: the baseline is taken after one runtime has come and gone.
  { Runtime warm_up; }
  const int fds_before = open_descriptors();
  const double rss_before = rss_mib();
  Counters c;
  std::atomic<bool> quit{false};
  std::atomic<std::uint16_t> port{0};
  double rss_peak = 0;
  std::uint64_t server_fibers_left = 0, client_fibers_left = 0;
  std::uint64_t pending_connects_left = 0;
  {
    RuntimeOptions o;
    o.stack_size = 32 * 1024;
    Runtime server(o), clients(o);
    std::vector<FiberId> server_fibers, client_fibers;
    std::thread server_thread([&] {
      (void)server.spawn([&] {
        auto l = *socket(AF_INET, SOCK_STREAM);
        (void)set_reuse_address(l, true);
        (void)bind(l, Address::loopback_v4(0));
        (void)listen(l, 4096);
        port = local_address(l)->port();
        std::mt19937_64 rng(opt.seed);
        (void)spawn([&] { chaos(server_fibers, opt.seed + 1, quit); });
        while (!quit.load()) {
          auto a = accept(l, nullptr, CancelSource(200ms).token());  // wake to see quit
          if (!a.ok()) continue;
          auto f = spawn([&c, &quit, s = *a, seed = rng()] { serve(s, c, seed, quit); });
          if (f.ok()) {
            server_fibers.push_back(*f);
            if (server_fibers.size() > 4 * static_cast<std::size_t>(opt.connections)) {
              server_fibers.erase(server_fibers.begin(), server_fibers.begin() + opt.connections);
            }
          }
        }
        // Connections still open end when their clients close; cancels make sure of it.
        for (FiberId id : server_fibers) (void)cancel_blocking_call(id);
        (void)close(l);
      });
      (void)server.run();
    });
    while (port.load() == 0) std::this_thread::yield();
    std::thread client_thread([&] {
      (void)clients.spawn([&] {
        Address at = Address::loopback_v4(port.load());
        FiberGroup group;
        for (int i = 0; i < opt.connections; ++i) {
          auto f = group.spawn([&, i] { client(at, c, opt.seed * 1'000'003 + i, quit); });
          if (f.ok()) client_fibers.push_back(*f);
        }
        (void)spawn([&] { chaos(client_fibers, opt.seed + 2, quit); });
        (void)group.join_all();
      });
      (void)clients.run();
    });
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(opt.seconds);
    while (std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(1s);
      rss_peak = std::max(rss_peak, rss_mib());
      std::printf(
          "  t+%3llds  connections %llu  verified %.1f MiB  fds %d  rss %.0f MiB\n",
          static_cast<long long>(opt.seconds - std::chrono::duration_cast<std::chrono::seconds>(
                                                   end - std::chrono::steady_clock::now())
                                                   .count()),
          static_cast<unsigned long long>(c.connections_made.load()),
          static_cast<double>(c.bytes_verified.load()) / (1024 * 1024), open_descriptors(),
          rss_mib());
      std::fflush(stdout);
    }
    quit = true;
    client_thread.join();  // clients close their connections; the servers see EOF
    server_thread.join();
    server_fibers_left = server.stats().fibers_alive;
    client_fibers_left = clients.stats().fibers_alive;
    pending_connects_left = server.stats().pending_connects + clients.stats().pending_connects;
  }
  ::malloc_trim(0);
  const int fds_after = open_descriptors();
  const double rss_after = rss_mib();

  std::printf("weft-soak: %d s, %d connections at a time, seed %llu\n", opt.seconds,
              opt.connections, static_cast<unsigned long long>(opt.seed));
  std::printf("  connections made    %llu\n",
              static_cast<unsigned long long>(c.connections_made.load()));
  std::printf("  bytes verified      %llu (every byte echoed, in order)\n",
              static_cast<unsigned long long>(c.bytes_verified.load()));
  std::printf("  mismatched bytes    %llu\n", static_cast<unsigned long long>(c.mismatches.load()));
  std::printf("  cancels: client %llu, server %llu; server deadlines %llu\n",
              static_cast<unsigned long long>(c.client_cancels.load()),
              static_cast<unsigned long long>(c.server_cancels.load()),
              static_cast<unsigned long long>(c.server_deadlines.load()));
  std::printf(
      "  server resets %llu; resets seen by clients %llu, random closes %llu, other errors %llu\n",
      static_cast<unsigned long long>(c.server_resets.load()),
      static_cast<unsigned long long>(c.resets_seen.load()),
      static_cast<unsigned long long>(c.random_closes.load()),
      static_cast<unsigned long long>(c.other_errors.load()));
  std::printf("  descriptors: before %d, after %d\n", fds_before, fds_after);
  std::printf("  fibers left: server %llu, clients %llu; pending connects %llu\n",
              static_cast<unsigned long long>(server_fibers_left),
              static_cast<unsigned long long>(client_fibers_left),
              static_cast<unsigned long long>(pending_connects_left));
  std::printf("  RSS MiB: before %.1f, peak %.1f, after %.1f\n", rss_before, rss_peak, rss_after);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's allocator keeps freed memory (quarantine, shadow): RSS says nothing there.
  const bool rss_checked = false;
#else
  const bool rss_checked = true;
#endif
  if (!rss_checked)
    std::printf(
        "  (RSS not checked: built with a sanitizer, whose allocator keeps freed memory)\n");
  bool ok = c.mismatches.load() == 0 && fds_after == fds_before && server_fibers_left == 0 &&
            client_fibers_left == 0 && c.bytes_verified.load() > 0 && c.other_errors.load() == 0 &&
            // The runtimes and their stacks are gone; what stays is the allocator's and
            // libraries' own (a few MiB at most).
            (!rss_checked || rss_after <= rss_before + 16.0);
  std::printf("weft-soak: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
