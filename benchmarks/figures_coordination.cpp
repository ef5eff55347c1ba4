// Figures of coordination: a token passed through channels between two fibers of one runtime
// and of two, a stream of values through a buffered channel, and a contended mutex — each
// beside weft's own floor (a yield round trip, an eventfd round trip between two threads) and
// the peers Go and Boost.Fiber, interleaved in one run.
#include "figures.hpp"

#include "harness.hpp"
#include "peers.hpp"

#include <weft/weft.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace weft::bench {
namespace {

// Runs `a` as the first fiber of one runtime and `b` as the first fiber of another, each
// runtime on a thread of its own (for a pinned placement, `a`'s thread on core 0 and `b`'s on
// woken_core), and returns when both runtimes have run to their end.
template <class A, class B>
void on_two_runtimes(Placement placement, A&& a, B&& b) {
  Runtime ra, rb;
  (void)ra.spawn(std::forward<A>(a));
  (void)rb.spawn(std::forward<B>(b));
  std::thread ta([&] {
    pin_thread(placement == Placement::os ? -1 : 0);
    (void)ra.run();
  });
  std::thread tb([&] {
    pin_thread(woken_core(placement));
    (void)rb.run();
  });
  ta.join();
  tb.join();
}

// Spawns n fibers running fn() on the calling fiber's runtime and joins them.
template <class F>
void spawn_and_join(int n, const F& fn) {
  std::vector<FiberId> ids;
  ids.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ids.push_back(*spawn([&fn] { fn(); }));
  for (FiberId id : ids) (void)join(id);
}

// The partner of a ping-pong: sends back each value it receives, until `there` is closed.
void echo_values(Channel<int>& there, Channel<int>& back) {
  for (;;) {
    Result<int> v = there.recv();
    if (!v) return;
    if (!back.send(std::move(*v)).ok()) return;
  }
}

// --- ping-pong ----------------------------------------------------------------------------

// Two fibers of one runtime pass a token through two channels of `capacity` (0: rendezvous):
// ns per round trip, in batches.
std::vector<double> weft_pingpong(const Config& cfg, std::size_t capacity) {
  std::vector<double> out;
  Runtime rt;
  const std::size_t per_batch = pingpong_per_batch(cfg);
  (void)rt.spawn([&] {
    Channel<int> there(capacity), back(capacity);
    FiberId partner = *spawn([&] { echo_values(there, back); });
    for (int i = 0; i < 1000; ++i) {  // warm-up
      (void)there.send(int{i});
      (void)back.recv();
    }
    for (std::size_t b = 0; b < kPingPongBatches; ++b) {
      auto t0 = now_ns();
      for (std::size_t i = 0; i < per_batch; ++i) {
        (void)there.send(static_cast<int>(i));
        (void)back.recv();
      }
      out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(per_batch));
    }
    there.close();
    (void)join(partner);
  });
  (void)rt.run();
  return out;
}

// The same between fibers of two runtimes on two threads: each round trip timed on its own.
std::vector<double> weft_pingpong_cross(const Config& cfg, std::size_t capacity,
                                        Placement placement) {
  std::vector<double> out;
  const std::size_t n = cross_pingpong_samples(cfg);
  out.reserve(n);
  Channel<int> there(capacity), back(capacity);
  on_two_runtimes(
      placement,
      [&] {
        for (int i = 0; i < 100; ++i) {  // warm-up
          (void)there.send(int{i});
          (void)back.recv();
        }
        for (std::size_t i = 0; i < n; ++i) {
          auto t0 = now_ns();
          (void)there.send(static_cast<int>(i));
          (void)back.recv();
          out.push_back(static_cast<double>(now_ns() - t0));
        }
        there.close();
      },
      [&] { echo_values(there, back); });
  return out;
}

// --- throughput ---------------------------------------------------------------------------

// Sends until the sample stops (or the channel is closed).
void send_until_stopped(Channel<int>& ch, FlowSample& fs) {
  fs.start();
  for (int v = 0; !fs.stopped(); ++v) {
    if (!ch.send(int{v}).ok()) return;
  }
}

// Receives until the channel is closed and drained; counts what it received.
void receive_all(Channel<int>& ch, FlowSample& fs) {
  std::uint64_t n = 0;
  while (ch.recv()) ++n;
  fs.finish(n);
}

// One producer and one consumer fiber of one runtime, through a channel of kStreamCapacity:
// messages per second.
std::vector<double> weft_stream_one_runtime(const Config& cfg) {
  return flow_samples(cfg, [](FlowSample& fs) {
    Runtime rt;
    (void)rt.spawn([&] {
      Channel<int> ch(kStreamCapacity);
      FiberId consumer = *spawn([&] { receive_all(ch, fs); });
      send_until_stopped(ch, fs);
      ch.close();
      (void)join(consumer);
    });
    (void)rt.run();
  });
}

// `producers` fibers of one runtime sending into one channel of kStreamCapacity, `consumers`
// fibers of another runtime receiving: messages per second.
std::vector<double> weft_stream_two_runtimes(const Config& cfg, int producers, int consumers) {
  return flow_samples(cfg, [=](FlowSample& fs) {
    Channel<int> ch(kStreamCapacity);
    on_two_runtimes(
        Placement::os,
        [&] {
          spawn_and_join(producers, [&] { send_until_stopped(ch, fs); });
          ch.close();
        },
        [&] { spawn_and_join(consumers, [&] { receive_all(ch, fs); }); });
  });
}

// --- mutex --------------------------------------------------------------------------------

// Takes the mutex in turn with the other fibers until the sample stops: lock, increment the
// counter it guards, yield holding it, unlock.
void take_in_turn(Mutex& m, std::uint64_t& counter, FlowSample& fs) {
  fs.start();
  std::uint64_t mine = 0;
  for (;;) {
    if (!m.lock().ok()) break;
    if (fs.stopped()) {
      (void)m.unlock();
      break;
    }
    ++counter;
    ++mine;
    this_fiber::yield();
    (void)m.unlock();
  }
  fs.finish(mine);
}

// kMutexFibers fibers of one runtime, or half on each of two: acquisitions per second.
std::vector<double> weft_mutex(const Config& cfg, bool two_runtimes) {
  return flow_samples(cfg, [=](FlowSample& fs) {
    Mutex m;
    std::uint64_t counter = 0;
    auto takers = [&](int n) { spawn_and_join(n, [&] { take_in_turn(m, counter, fs); }); };
    if (two_runtimes) {
      on_two_runtimes(
          Placement::os, [&] { takers(kMutexFibers / 2); }, [&] { takers(kMutexFibers / 2); });
    } else {
      Runtime rt;
      (void)rt.spawn([&] { takers(kMutexFibers); });
      (void)rt.run();
    }
  });
}

// --- Go -----------------------------------------------------------------------------------

// GOMAXPROCS=1: in batches, as the same-runtime rows; more: each round trip timed, as the
// cross-runtime rows. `locked`: each goroutine on an OS thread of its own.
std::function<std::vector<double>(const Config&)> go_pingpong(std::size_t capacity, int procs,
                                                              bool locked = false) {
  return [=](const Config& c) {
    const bool batched = procs == 1;
    std::vector<std::string> args = {
        "chan-pingpong", std::to_string(batched ? kPingPongBatches : cross_pingpong_samples(c)),
        std::to_string(batched ? pingpong_per_batch(c) : 1), std::to_string(capacity),
        std::to_string(procs)};
    if (locked) args.push_back("locked");
    return go_samples(args);
  };
}

std::function<std::vector<double>(const Config&)> go_stream(int producers, int consumers,
                                                            int procs) {
  return [=](const Config& c) {
    return go_samples({"chan-stream", std::to_string(kFlowSamples),
                       std::to_string(flow_window(c).count()), std::to_string(kStreamCapacity),
                       std::to_string(producers), std::to_string(consumers),
                       std::to_string(procs)});
  };
}

std::function<std::vector<double>(const Config&)> go_mutex(int procs) {
  return [=](const Config& c) {
    return go_samples({"mutex", std::to_string(kFlowSamples),
                       std::to_string(flow_window(c).count()), std::to_string(kMutexFibers),
                       std::to_string(procs)});
  };
}

// --- tokio --------------------------------------------------------------------------------

// Two tasks of a current_thread runtime through two mpsc channels of capacity 1 (tokio has
// no rendezvous mpsc: capacity 1 is the closest); batch, divided.
std::vector<double> tokio_pingpong(const Config& c) {
  return tokio_samples({"chan-pingpong", std::to_string(kPingPongBatches),
                        std::to_string(pingpong_per_batch(c)), "1"});
}

// The cross-runtime row: two tasks of a multi_thread runtime of 2 workers, placed by tokio's
// scheduler, through two mpsc channels of capacity 1; every round trip timed.
std::vector<double> tokio_pingpong_cross(const Config& c) {
  return tokio_samples({"chan-pingpong", std::to_string(cross_pingpong_samples(c)), "1", "1", "2"});
}

// The same between two current_thread runtimes, each on a thread of its own: every hand-off
// crosses threads, as between weft's two runtimes (Go's go_locked row likewise).
std::vector<double> tokio_pingpong_apart(const Config& c) {
  return tokio_samples({"chan-pingpong-apart", std::to_string(cross_pingpong_samples(c)), "1"});
}

std::vector<double> tokio_stream(const Config& c) {
  return tokio_samples({"chan-stream", std::to_string(kFlowSamples),
                        std::to_string(flow_window(c).count()), std::to_string(kStreamCapacity)});
}

std::function<std::vector<double>(const Config&)> tokio_mutex(int threads) {
  return [=](const Config& c) {
    return tokio_samples({"mutex", std::to_string(kFlowSamples),
                          std::to_string(flow_window(c).count()), std::to_string(kMutexFibers),
                          std::to_string(threads)});
  };
}

}  // namespace

Figure figure_channel_pingpong(const Config& cfg) {
  std::vector<Contender> contenders = {
      {"weft_yield_roundtrip", weft_yield_roundtrip,
       "floor: two fibers ping-ponging with yield; batch, divided"},
      {"weft", [](const Config& c) { return weft_pingpong(c, 0); },
       "rendezvous Channel<int>; batch, divided"},
      {"weft_cap1", [](const Config& c) { return weft_pingpong(c, 1); },
       "Channel<int> of capacity 1; batch, divided"}};
  if (boost_fiber_available()) {
    contenders.push_back({"boost_fiber", [](const Config& c) { return boost_fiber_pingpong(c, 0); },
                          "unbuffered_channel, one thread; batch, divided"});
    contenders.push_back({"boost_fiber_cap1",
                          [](const Config& c) { return boost_fiber_pingpong(c, 1); },
                          "buffered_channel(2), which holds one value; batch, divided"});
  }
  if (go_available()) {
    contenders.push_back(
        {"go", go_pingpong(0, 1), "unbuffered chan, GOMAXPROCS=1; batch, divided"});
    contenders.push_back(
        {"go_cap1", go_pingpong(1, 1), "chan of capacity 1, GOMAXPROCS=1; batch, divided"});
  }
  if (tokio_available()) {
    contenders.push_back({"tokio", tokio_pingpong,
                          "mpsc channels of capacity 1 (tokio has no rendezvous mpsc: the "
                          "closest, compared with weft and weft_cap1 alike), current_thread "
                          "runtime; batch, divided"});
  }
  Figure f = run_interleaved("channel_pingpong", "ns",
                             "two fibers of one runtime pass a token back and forth through two "
                             "channels: one round trip",
                             "same core", contenders, cfg);
  for (const std::string shape : {"", "_cap1"}) {
    const std::string weft = "weft" + shape;
    add_ratio(f, weft + "_over_yield_roundtrip", weft, "weft_yield_roundtrip");
    add_goal(f, weft + "_over_yield_roundtrip", 2.0);
    if (boost_fiber_available()) {
      const std::string ratio = weft + "_over_boost_fiber" + shape;
      add_ratio(f, ratio, weft, "boost_fiber" + shape);
      add_goal(f, ratio, 1.0);
    }
    if (go_available()) {
      const std::string ratio = weft + "_over_go" + shape;
      add_ratio(f, ratio, weft, "go" + shape);
      add_goal(f, ratio, 0.5);
    }
    if (tokio_available()) {
      const std::string ratio = weft + "_over_tokio";
      add_ratio(f, ratio, weft, "tokio");
      add_goal(f, ratio, 1.0);
    }
  }
  return f;
}

Figure figure_channel_cross_runtime(const Config& cfg) {
  std::vector<Contender> contenders = {
      {"raw_eventfd_roundtrip",
       [](const Config& c) { return raw_eventfd_roundtrip(c, Placement::os); },
       "floor: two threads in epoll_wait pass a token by eventfd"},
      {"weft", [](const Config& c) { return weft_pingpong_cross(c, 0, Placement::os); },
       "rendezvous Channel<int>"},
      {"weft_cap1", [](const Config& c) { return weft_pingpong_cross(c, 1, Placement::os); },
       "Channel<int> of capacity 1"}};
  // The floor and weft with both threads pinned, as `placement` says.
  auto pinned = [&](Placement placement, const std::string& suffix, const char* where) {
    contenders.push_back(
        {"raw_eventfd_roundtrip" + suffix,
         [placement](const Config& c) { return raw_eventfd_roundtrip(c, placement); },
         std::string("floor, ") + where});
    contenders.push_back(
        {"weft" + suffix,
         [placement](const Config& c) { return weft_pingpong_cross(c, 0, placement); },
         std::string("rendezvous, ") + where});
  };
  pinned(Placement::same_core, "_same_core", "both threads pinned to core 0");
  const bool two_cores = std::thread::hardware_concurrency() >= 2;
  if (two_cores) pinned(Placement::cross_core, "_cross_core", "the threads pinned to cores 0, 1");
  if (boost_fiber_available()) {
    contenders.push_back(
        {"boost_fiber",
         [](const Config& c) { return boost_fiber_pingpong_cross_thread(c, 0, Placement::os); },
         "unbuffered_channel, a fiber on each of two threads"});
  }
  if (go_available()) {
    contenders.push_back(
        {"go", go_pingpong(0, 2), "unbuffered chan, GOMAXPROCS=2: Go places the two goroutines"});
    contenders.push_back({"go_cap1", go_pingpong(1, 2), "chan of capacity 1, GOMAXPROCS=2"});
    contenders.push_back({"go_locked", go_pingpong(0, 2, true),
                          "unbuffered chan, GOMAXPROCS=2, each goroutine locked to an OS "
                          "thread of its own (runtime.LockOSThread): every hand-off crosses "
                          "threads"});
  }
  if (tokio_available()) {
    contenders.push_back({"tokio", tokio_pingpong_cross,
                          "mpsc of capacity 1, multi_thread runtime of 2 workers: tokio places "
                          "the two tasks"});
    contenders.push_back({"tokio_apart", tokio_pingpong_apart,
                          "mpsc of capacity 1 between two current_thread runtimes, each on a "
                          "thread of its own: every hand-off crosses threads"});
  }
  Figure f = run_interleaved(
      "channel_cross_runtime", "ns",
      "fibers of two runtimes on two threads pass a token back and forth through two "
      "channels: one round trip, each timed",
      "as the scheduler places them; *_same_core, *_cross_core: pinned", contenders, cfg);
  auto over_floor = [&f](const std::string& weft, const std::string& floor,
                         const std::string& prefix, bool goal) {
    for (Stat stat : {Stat::p50, Stat::p99}) {
      const std::string p = stat == Stat::p50 ? "p50" : "p99";
      const std::string name = prefix + "_" + p + "_over_eventfd_" + p;
      add_ratio(f, name, weft, floor, stat);
      if (goal && stat == Stat::p50) add_goal(f, name, 1.25);
    }
  };
  over_floor("weft", "raw_eventfd_roundtrip", "weft", true);
  over_floor("weft_cap1", "raw_eventfd_roundtrip", "weft_cap1", false);
  over_floor("weft_same_core", "raw_eventfd_roundtrip_same_core", "weft_same_core", false);
  if (two_cores) {
    over_floor("weft_cross_core", "raw_eventfd_roundtrip_cross_core", "weft_cross_core", false);
  }
  for (const char* peer : {"boost_fiber", "go", "tokio"}) {
    const std::string p = peer;
    if (p == "go"      ? !go_available()
        : p == "tokio" ? !tokio_available()
                       : !boost_fiber_available()) {
      continue;
    }
    // tokio's row is capacity 1 (it has no rendezvous mpsc): both of weft's rows against it,
    // as in channel_pingpong.
    for (const std::string weft : {"weft", "weft_cap1"}) {
      if (weft == "weft_cap1" && p != "tokio") continue;
      add_ratio(f, weft + "_over_" + p, weft, p, Stat::p50);
      add_ratio(f, weft + "_p99_over_" + p + "_p99", weft, p, Stat::p99);
    }
  }
  if (go_available()) add_ratio(f, "weft_over_go_locked", "weft", "go_locked", Stat::p50);
  if (tokio_available()) {
    add_ratio(f, "weft_cap1_over_tokio_apart", "weft_cap1", "tokio_apart", Stat::p50);
  }
  return f;
}

Figure figure_channel_stream(const Config& cfg) {
  std::vector<Contender> contenders = {
      {"weft", weft_stream_one_runtime, "1 -> 1, one runtime"},
      {"weft_4to4", [](const Config& c) { return weft_stream_two_runtimes(c, 4, 4); },
       "4 producers on one runtime -> 4 consumers on another"}};
  if (boost_fiber_available()) {
    contenders.push_back({"boost_fiber",
                          [](const Config& c) { return boost_fiber_stream(c, 1, 1, false); },
                          "buffered_channel(1024), which holds 1023; 1 -> 1, one thread"});
    contenders.push_back({"boost_fiber_4to4",
                          [](const Config& c) { return boost_fiber_stream(c, 4, 4, true); },
                          "4 fibers on one thread -> 4 on another"});
  }
  if (go_available()) {
    contenders.push_back({"go", go_stream(1, 1, 1), "1 -> 1, GOMAXPROCS=1"});
    contenders.push_back({"go_4to4", go_stream(4, 4, 2), "4 -> 4, GOMAXPROCS=2"});
  }
  if (tokio_available()) {
    contenders.push_back({"tokio", tokio_stream,
                          "mpsc channel of capacity 1024, 1 -> 1, current_thread runtime (an "
                          "mpsc has one receiver: no 4 -> 4)"});
  }
  Figure f = run_interleaved(
      "channel_stream", "messages/s",
      "producers send ints into one channel of capacity 1024 until a window ends, consumers "
      "receive until it is closed and drained: messages per second",
      "1 -> 1 on one thread; 4 -> 4 on two, placed by the scheduler", contenders, cfg);
  for (const char* peer : {"boost_fiber", "go"}) {
    if (std::string(peer) == "go" ? !go_available() : !boost_fiber_available()) continue;
    const std::string one = std::string("weft_over_") + peer;
    const std::string four = std::string("weft_4to4_over_") + peer + "_4to4";
    add_ratio(f, one, "weft", peer);
    add_ratio(f, four, "weft_4to4", std::string(peer) + "_4to4");
    add_goal(f, one, 1.0, false);
    add_goal(f, four, 1.0, false);
  }
  if (tokio_available()) {
    add_ratio(f, "weft_over_tokio", "weft", "tokio");
    add_goal(f, "weft_over_tokio", 1.0, false);
  }
  return f;
}

Figure figure_mutex_contended(const Config& cfg) {
  std::vector<Contender> contenders = {
      {"weft", [](const Config& c) { return weft_mutex(c, false); }, "64 fibers, one runtime"},
      {"weft_2rt", [](const Config& c) { return weft_mutex(c, true); },
       "32 fibers on each of two runtimes"}};
  if (boost_fiber_available()) {
    contenders.push_back({"boost_fiber",
                          [](const Config& c) { return boost_fiber_mutex(c, false); },
                          "boost::fibers::mutex, 64 fibers on one thread"});
    contenders.push_back({"boost_fiber_2threads",
                          [](const Config& c) { return boost_fiber_mutex(c, true); },
                          "32 fibers on each of two threads"});
  }
  if (go_available()) {
    contenders.push_back(
        {"go", go_mutex(1), "sync.Mutex, 64 goroutines, GOMAXPROCS=1, runtime.Gosched"});
    contenders.push_back({"go_2procs", go_mutex(2), "64 goroutines, GOMAXPROCS=2"});
  }
  if (tokio_available()) {
    contenders.push_back({"tokio", tokio_mutex(1),
                          "tokio::sync::Mutex, 64 tasks, yield_now holding it; current_thread "
                          "runtime"});
    contenders.push_back(
        {"tokio_2threads", tokio_mutex(2), "64 tasks, multi_thread runtime of 2 workers"});
  }
  Figure f = run_interleaved(
      "mutex_contended", "acquisitions/s",
      "64 fibers take one mutex in turn: lock, increment, yield, unlock; acquisitions per "
      "second",
      "one runtime on one thread; *_2rt, *_2threads, *_2procs: two, placed by the scheduler",
      contenders, cfg);
  if (boost_fiber_available()) {
    add_ratio(f, "weft_over_boost_fiber", "weft", "boost_fiber");
    add_ratio(f, "weft_2rt_over_boost_fiber_2threads", "weft_2rt", "boost_fiber_2threads");
    add_goal(f, "weft_over_boost_fiber", 1.0, false);
    add_goal(f, "weft_2rt_over_boost_fiber_2threads", 1.0, false);
  }
  if (go_available()) {
    add_ratio(f, "weft_over_go", "weft", "go");
    add_ratio(f, "weft_2rt_over_go_2procs", "weft_2rt", "go_2procs");
    add_goal(f, "weft_over_go", 1.0, false);
    add_goal(f, "weft_2rt_over_go_2procs", 1.0, false);
  }
  if (tokio_available()) {
    add_ratio(f, "weft_over_tokio", "weft", "tokio");
    add_ratio(f, "weft_2rt_over_tokio_2threads", "weft_2rt", "tokio_2threads");
    add_goal(f, "weft_over_tokio", 1.0, false);
  }
  return f;
}

}  // namespace weft::bench
