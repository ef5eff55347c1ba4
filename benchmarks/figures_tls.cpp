// The TLS figures: 4 KiB ping-pong on 100 TLS 1.3 connections (tls_echo), and full TLS 1.3
// handshakes per second (tls_handshake), each server against the one TLS client
// (peers_tls.hpp): weft's tls::Stream, the plain-OpenSSL floor, Asio's ssl::stream, Go's
// crypto/tls and tokio-openssl.
//
// Beside each server's throughput, its own CPU time per round trip or handshake (all its
// threads, read before and after the timed part of a round): client and server share the
// machine's two cores, and a client that does as much TLS work as the server is as likely to
// set the pace as the server is, so the throughput ratios can hide what a server costs; its
// CPU time per unit of work does not.
#include "figures.hpp"

#include "harness.hpp"
#include "peers.hpp"
#include "peers_tls.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace weft::bench {
namespace {

// Both figures drive each server from two client threads. The client's side of TLS costs
// about what the server's does (the same OpenSSL; the same records to seal and open, and in a
// handshake the client verifies the signature the server makes): one client thread would set
// the pace, and every server would look alike. With two, the client threads and the server
// share the two cores, and a server that costs more gets less done.
constexpr std::size_t kClientThreads = 2;
constexpr std::size_t kConnections = 100;  // 50 per client thread
constexpr std::size_t kMessage = 4096;
// Exchanges per connection in a tls_echo round: 10,000 round trips, a fraction of a second.
constexpr std::size_t kEchoRounds = 100;
// Handshakes in a tls_handshake round, each client thread keeping 8 in flight (so that the
// server never waits for the client's next connection).
constexpr std::size_t kHandshakes = 600;
constexpr std::size_t kInFlight = 8;

// Runs body(i) on kClientThreads threads at once, and returns when all have.
template <class Body>
void on_client_threads(Body&& body) {
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kClientThreads; ++i) threads.emplace_back([&body, i] { body(i); });
  for (std::thread& t : threads) t.join();
}

// Every server, weft first; Go and tokio-openssl where their peers were built.
std::vector<std::string> tls_servers() {
  std::vector<std::string> names = {"weft", "floor", "asio"};
  if (go_available()) names.push_back("go");
  if (tokio_tls_available()) names.push_back("tokio");
  return names;
}

// Per contender, its server's CPU time per unit of work in each round (µs), the discarded
// warm-up round first.
using CpuRounds = std::map<std::string, std::vector<double>>;

// The CPU values and ratios: each server's median over rounds as a value, and weft's per
// round over each other server's, as the harness's ratios are taken (median, min, max).
void add_cpu(Figure& f, CpuRounds& cpu, const std::string& unit) {
  for (auto& [name, rounds] : cpu) {
    if (!rounds.empty()) rounds.erase(rounds.begin());  // the warm-up
    if (rounds.empty() || *std::min_element(rounds.begin(), rounds.end()) < 0) continue;
    f.values[name + "_cpu_us_per_" + unit] = summarize(rounds).p50;
  }
  const auto& weft = cpu["weft"];
  for (const auto& [name, rounds] : cpu) {
    if (name == "weft") continue;
    RatioStat r;
    if (ratio_of_rounds(weft, rounds, &r)) f.ratios["weft_cpu_over_" + name + "_cpu"] = r;
  }
}

// A server's CPU time (µs) from `before` to now, per `units` of work; -1 where unknown.
double cpu_us_per(const EchoServer& server, std::int64_t before, std::size_t units) {
  std::int64_t after = server.cpu_ns();
  if (before < 0 || after < 0) return -1;
  return static_cast<double>(after - before) / 1e3 / static_cast<double>(units);
}

void add_peer_ratios(Figure& f) {
  for (const std::string& name : tls_servers()) {
    if (name != "weft") add_ratio(f, "weft_over_" + name, "weft", name);
  }
}

}  // namespace

Figure figure_tls_echo(const Config& cfg) {
  TlsCertificate cert;
  std::map<std::string, std::vector<double>> latencies;
  CpuRounds cpu;
  std::vector<Contender> contenders;
  for (const std::string& name : tls_servers()) {
    contenders.push_back(
        {name,
         [&, name](const Config& c) {
           auto server = tls_echo_server(name, cert);
           // Connected and handshaken before the timed part.
           std::vector<std::unique_ptr<TlsEchoClient>> clients(kClientThreads);
           on_client_threads([&](std::size_t i) {
             clients[i] = std::make_unique<TlsEchoClient>(server->port(),
                                                          kConnections / kClientThreads, kMessage);
           });
           const std::size_t rounds = c.samples(kEchoRounds);
           std::vector<double> rate(kClientThreads);
           std::vector<std::vector<double>> lat(kClientThreads);
           const std::int64_t before = server->cpu_ns();
           on_client_threads([&](std::size_t i) { lat[i] = clients[i]->run(rounds, &rate[i]); });
           cpu[name].push_back(cpu_us_per(*server, before, kConnections * rounds));
           auto& pool = latencies[name];
           for (const auto& l : lat) pool.insert(pool.end(), l.begin(), l.end());
           double sum = 0;
           for (double r : rate) sum += r;
           return std::vector<double>{sum};
         },
         "round trips/s per round, summed over two client threads of 50 connections"});
  }
  Figure f =
      run_interleaved("tls_echo", "round trips/s",
                      "ping-pong of 4096 B messages on 100 TLS 1.3 connections, all in "
                      "flight; higher is better",
                      "server thread and two client threads on the two cores", contenders, cfg);
  for (auto& [name, samples] : latencies) f.values[name + "_p99_ns"] = summarize(samples).p99;
  add_cpu(f, cpu, "round_trip");
  add_peer_ratios(f);
  add_goal(f, "weft_over_asio", 1.0, false);
  return f;
}

Figure figure_tls_handshake(const Config& cfg) {
  TlsCertificate cert;
  CpuRounds cpu;
  std::vector<Contender> contenders;
  for (const std::string& name : tls_servers()) {
    contenders.push_back(
        {name,
         [&, name](const Config& c) {
           auto server = tls_echo_server(name, cert);
           const std::size_t n = c.samples(kHandshakes);
           const std::int64_t before = server->cpu_ns();
           const std::int64_t t0 = now_ns();
           on_client_threads([&](std::size_t i) {
             const std::size_t mine = n / kClientThreads + (i < n % kClientThreads ? 1 : 0);
             (void)tls_handshake_client(server->port(), mine, kInFlight);
           });
           const std::int64_t elapsed = now_ns() - t0;
           cpu[name].push_back(cpu_us_per(*server, before, n));
           return std::vector<double>{static_cast<double>(n) * 1e9 / static_cast<double>(elapsed)};
         },
         "handshakes/s per round; two client threads, 8 connections in flight each"});
  }
  Figure f =
      run_interleaved("tls_handshake", "handshakes/s",
                      "full TLS 1.3 handshakes (ECDSA P-256, X25519), each on a fresh "
                      "connection then closed; higher is better",
                      "server thread and two client threads on the two cores", contenders, cfg);
  add_cpu(f, cpu, "handshake");
  add_peer_ratios(f);
  add_goal(f, "weft_over_floor", 0.95, false);
  return f;
}

}  // namespace weft::bench
