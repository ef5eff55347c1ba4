// Figures of memory: RSS per blocked fiber, and the most sleeping fibers a process holds.
// Each sample runs alone in a fresh process of this program (--sample NAME).
#include "figures.hpp"

#include "harness.hpp"
#include "peers.hpp"

#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

namespace weft::bench {
namespace {

using namespace std::chrono_literals;

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

// --- memory samples, each run alone in a fresh process -----------------------------------

constexpr std::size_t kRecvFibers = 4000, kSleepFibers = 100'000, kScaleCap = 1'000'000;
// --quick's scale: a million fibers and their end take half a minute here, a quarter of the
// whole quick run; a quarter of them tell whether spawning still works at scale.
constexpr std::size_t kQuickScaleCap = 250'000;
// Boost.Fiber's protected stacks are two kernel mappings each, and vm.max_map_count (65530 by
// default) caps a process's mappings, so not 100,000 of them: 4,000, as in the recv rows,
// whose KiB per fiber are within 1% of 30,000's, in a fifth of the time.
constexpr std::size_t kProtectedFibers = 4000;

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
std::vector<double> sample_scale(std::size_t cap) {
  RuntimeOptions o;
  o.stack_size = 16 * 1024;
  Runtime rt(o);
  std::size_t count = 0;
  double rss = 0;
  (void)rt.spawn([&] {
    CancelSource source;
    for (; count < cap; ++count) {
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

// Boost.Fiber's fibers are left waiting (peers.hpp): the sample prints its figure and ends
// its process at once. Its protected stacks have the usable size of weft's default stacks,
// which are guarded too.
[[noreturn]] std::vector<double> boost_fiber_sample(std::size_t n, BoostFiberWait how,
                                                    bool protected_stacks) {
  const std::size_t stack = protected_stacks ? RuntimeOptions{}.stack_size : 0;
  std::printf("%.17g\n", boost_fiber_wait_kib_per_fiber(n, how, stack, rss_kib));
  std::fflush(stdout);
  std::_Exit(0);
}

const std::map<std::string, std::vector<double> (*)()>& samples() {
  static const std::map<std::string, std::vector<double> (*)()> table = {
      {"weft_recv", sample_weft_recv},
      {"weft_sleep", sample_weft_sleep},
      {"asio_spawn_recv",
       [] { return std::vector<double>{asio_spawn_recv_kib_per_coroutine(kRecvFibers, rss_kib)}; }},
      {"asio_spawn_sleep",
       [] {
         return std::vector<double>{asio_spawn_sleep_kib_per_coroutine(kSleepFibers, rss_kib)};
       }},
      {"boost_fiber_sleep",
       [] { return boost_fiber_sample(kSleepFibers, BoostFiberWait::sleep, false); }},
      {"boost_fiber_protected_sleep",
       [] { return boost_fiber_sample(kProtectedFibers, BoostFiberWait::sleep, true); }},
      {"boost_fiber_protected_cv_wait",
       [] {
         return boost_fiber_sample(kProtectedFibers, BoostFiberWait::condition_variable, true);
       }},
      {"scale", [] { return sample_scale(kScaleCap); }},
      {"scale_quick", [] { return sample_scale(kQuickScaleCap); }},
  };
  return table;
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

Figure figure_fiber_memory(const Config& cfg) {
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
    contenders.push_back({"go_recv",
                          [](const Config&) {
                            return go_samples({"recv-memory", std::to_string(kRecvFibers)});
                          },
                          "4,000 goroutines in conn.Read, 8,000 sockets"});
    contenders.push_back({"go_sleep",
                          [](const Config&) {
                            return go_samples({"sleep-memory", std::to_string(kSleepFibers)});
                          },
                          "100,000 goroutines in time.Sleep"});
  }
  if (boost_fiber_available()) {
    // Boost.Fiber has no sockets of its own, so no recv row: its fibers sleep, or wait on a
    // condition variable, whose wait touches more of the stack than a sleep does.
    contenders.push_back(
        {"boost_fiber_sleep", [](const Config&) { return in_fresh_process("boost_fiber_sleep"); },
         "100,000 fibers in this_fiber::sleep_for; default fixedsize_stack (128 KiB, malloc'd)"});
    contenders.push_back(
        {"boost_fiber_protected_sleep",
         [](const Config&) { return in_fresh_process("boost_fiber_protected_sleep"); },
         "4,000 fibers in this_fiber::sleep_for; protected_fixedsize_stack of weft's default "
         "stack size (mmap'd, guard page)"});
    contenders.push_back(
        {"boost_fiber_protected_cv_wait",
         [](const Config&) { return in_fresh_process("boost_fiber_protected_cv_wait"); },
         "4,000 fibers in condition_variable::wait; protected_fixedsize_stack as above"});
  }
  if (tokio_available()) {
    contenders.push_back({"tokio_recv",
                          [](const Config&) {
                            return tokio_samples({"recv-memory", std::to_string(kRecvFibers)});
                          },
                          "4,000 tasks in TcpStream::read, 8,000 sockets; current_thread"});
    contenders.push_back({"tokio_sleep",
                          [](const Config&) {
                            return tokio_samples({"sleep-memory", std::to_string(kSleepFibers)});
                          },
                          "100,000 tasks in time::sleep; current_thread"});
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
  if (boost_fiber_available()) {
    add_ratio(f, "weft_sleep_over_boost_fiber", "weft_sleep", "boost_fiber_sleep");
    add_ratio(f, "weft_sleep_over_boost_fiber_protected", "weft_sleep",
              "boost_fiber_protected_sleep");
    add_ratio(f, "weft_sleep_over_boost_fiber_protected_cv_wait", "weft_sleep",
              "boost_fiber_protected_cv_wait");
  }
  if (tokio_available()) {
    add_ratio(f, "weft_recv_over_tokio", "weft_recv", "tokio_recv");
    add_ratio(f, "weft_sleep_over_tokio", "weft_sleep", "tokio_sleep");
  }
  add_value_goal(f, "rss_kib_per_recv_fiber", 6.0);
  return f;
}

Figure figure_scale(const Config& cfg) {
  announce("scale");
  // Sleeping fibers until a limit (or the cap), in a fresh process: {count, RSS GiB}.
  auto r = in_fresh_process(cfg.quick ? "scale_quick" : "scale");
  Figure f{.name = "scale",
           .unit = "fibers",
           .what = std::string("the most fibers blocked in sleep at once (16 KiB stacks), up "
                               "to ") +
                   (cfg.quick ? "--quick's cap of 250,000" : "a cap of 1,000,000") +
                   ", and the RSS then; one run in a fresh process",
           .placement = "-"};
  if (r.size() == 2) {
    f.values["max_sleeping_fibers"] = r[0];
    f.values["rss_gib_at_max"] = r[1];
  }
  // The goals are a full run's: --quick stops at its cap.
  if (!cfg.quick) {
    add_value_goal(f, "max_sleeping_fibers", 1'000'000, false);
    add_value_goal(f, "rss_gib_at_max", 5.0);
  }
  return f;
}

}  // namespace weft::bench
