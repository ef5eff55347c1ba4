// Figures of echo throughput: every echo server against one client, in four shapes (1 and
// 100 connections, 64 B and 4 KiB messages), and servers on one and two threads.
#include "figures.hpp"

#include "harness.hpp"
#include "peers.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace weft::bench {
namespace {

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
            auto lat =
                echo_client(server->port(), spec.connections, spec.size, rounds, &per_second);
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
            std::thread second(
                [&] { (void)echo_client(server->port(), kPerClient, 64, rounds, &rate[1]); });
            (void)echo_client(server->port(), kPerClient, 64, rounds, &rate[0]);
            second.join();
            return std::vector<double>{rate[0] + rate[1]};
          },
          "round trips/s per round, two client threads of 50 connections"};
}

// One echo figure: every server against the client, in the shape `spec`.
Figure echo_figure(const Config& cfg, EchoSpec spec) {
  std::map<std::string, std::vector<double>> lat;
  std::vector<Contender> contenders = {
      echo_contender("weft", weft_echo_server, spec, &lat),
      echo_contender("libuv", libuv_echo_server, spec, &lat),
      echo_contender(
          "asio_callbacks", [] { return asio_echo_server(false); }, spec, &lat),
      echo_contender(
          "asio_spawn", [] { return asio_echo_server(true); }, spec, &lat)};
  if (go_available()) {
    contenders.push_back(echo_contender(
        "go", [] { return go_echo_server(1); }, spec, &lat));
  }
  if (tokio_available()) {
    contenders.push_back(echo_contender(
        "tokio", [] { return tokio_echo_server(1); }, spec, &lat));
  }
  if (spec.connections == 1) {
    // One connection is a ping-pong of cross-thread wake-ups, whose cost on these machines
    // is set by where the two threads land (docs/benchmarks.md, "Placement, measured"):
    // the same servers again with server and client pinned to one core.
    contenders.push_back(
        echo_contender("weft_same_core", weft_echo_server, spec, &lat, Placement::same_core));
    contenders.push_back(
        echo_contender("libuv_same_core", libuv_echo_server, spec, &lat, Placement::same_core));
    contenders.push_back(echo_contender(
        "asio_spawn_same_core", [] { return asio_echo_server(true); }, spec, &lat,
        Placement::same_core));
  }
  Figure f = run_interleaved(spec.figure, "round trips/s",
                             "ping-pong of " + std::to_string(spec.size) + " B messages on " +
                                 std::to_string(spec.connections) +
                                 " connection(s), all in flight; higher is better",
                             "cross core (server thread, client thread)", contenders,
                             spec.connections == 1 ? cfg.costly() : cfg);
  for (auto& [name, samples] : lat) f.values[name + "_p99_ns"] = summarize(samples).p99;
  add_ratio(f, "weft_over_libuv", "weft", "libuv");
  add_ratio(f, "weft_over_asio_spawn", "weft", "asio_spawn");
  add_ratio(f, "weft_over_asio_callbacks", "weft", "asio_callbacks");
  if (go_available()) add_ratio(f, "weft_over_go", "weft", "go");
  if (tokio_available()) {
    add_ratio(f, "weft_over_tokio", "weft", "tokio");
    add_goal(f, "weft_over_tokio", 0.95, false);
  }
  if (spec.connections == 1) {
    add_ratio(f, "weft_same_core_over_libuv_same_core", "weft_same_core", "libuv_same_core");
    add_ratio(f, "weft_same_core_over_asio_spawn_same_core", "weft_same_core",
              "asio_spawn_same_core");
  }
  add_goal(f, "weft_over_libuv", 0.95, false);
  add_goal(f, "weft_over_asio_spawn", 0.95, false);
  return f;
}

}  // namespace

// The four shapes, a figure each. benchmarks/instructions.py counts the servers'
// instructions in the same shapes: a shape changed here is changed there too.
Figure figure_echo(const Config& cfg) { return echo_figure(cfg, {"echo", 100, 64}); }
Figure figure_echo_1conn_64B(const Config& cfg) {
  return echo_figure(cfg, {"echo_1conn_64B", 1, 64});
}
Figure figure_echo_100conn_4KiB(const Config& cfg) {
  return echo_figure(cfg, {"echo_100conn_4KiB", 100, 4096});
}
Figure figure_echo_1conn_4KiB(const Config& cfg) {
  return echo_figure(cfg, {"echo_1conn_4KiB", 1, 4096});
}

Figure figure_echo_threads(const Config& cfg) {
  std::vector<Contender> contenders = {
      echo_threads_contender("weft_1thread", [] { return weft_group_echo_server(1); }),
      echo_threads_contender("weft_2threads", [] { return weft_group_echo_server(2); }),
      echo_threads_contender("asio_spawn_1thread", [] { return asio_echo_server(true, 1); }),
      echo_threads_contender("asio_spawn_2threads", [] { return asio_echo_server(true, 2); })};
  if (go_available()) {
    contenders.push_back(echo_threads_contender("go_1thread", [] { return go_echo_server(1); }));
    contenders.push_back(echo_threads_contender("go_2threads", [] { return go_echo_server(2); }));
  }
  if (tokio_available()) {
    contenders.push_back(
        echo_threads_contender("tokio_1thread", [] { return tokio_echo_server(1); }));
    contenders.push_back(
        echo_threads_contender("tokio_2threads", [] { return tokio_echo_server(2); }));
  }
  Figure f = run_interleaved(
      "echo_threads", "round trips/s",
      "64 B ping-pong on 100 connections from two client threads, against servers on 1 and "
      "2 threads; higher is better",
      "all threads share the machine's cores with the clients", contenders, cfg);
  add_ratio(f, "weft_2threads_over_1thread", "weft_2threads", "weft_1thread");
  add_ratio(f, "asio_2threads_over_1thread", "asio_spawn_2threads", "asio_spawn_1thread");
  add_ratio(f, "weft_over_asio_2threads", "weft_2threads", "asio_spawn_2threads");
  if (go_available()) add_ratio(f, "weft_over_go_2threads", "weft_2threads", "go_2threads");
  if (tokio_available()) {
    add_ratio(f, "weft_over_tokio_2threads", "weft_2threads", "tokio_2threads");
  }
  add_goal(f, "weft_over_asio_2threads", 1.0, false);
  return f;
}

}  // namespace weft::bench
