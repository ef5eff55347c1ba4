// What a fiber dump and the counters say (semantics.md §11), and the debug listener that
// serves them: the counters move by exactly what the calls did; a dump taken from another
// thread, from a fiber of another runtime and from the runtime's own fiber names each fiber's
// call and what it waits on; curl drives the listener and Debian's prometheus_client parses
// /metrics.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <sys/wait.h>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::run_in_fiber;
using weft::test::spawn_call;
using weft::test::wait_until;

const debug::FiberInfo* find_named(const debug::RuntimeDump& r, const std::string& name) {
  for (const auto& f : r.fibers) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// Runs `cmd` through the shell; its standard output, and its exit status in `status`.
std::string shell(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// ---------------------------------------------------------------------------------------
// Counters

TEST(Counters, BlockingCallsByOutcome) {
  RuntimeStats before, after;
  Runtime rt;
  ASSERT_OK(rt.spawn([&] {
    before = Runtime::current()->stats();
    // completed: a sleep's timer.
    ASSERT_OK(this_fiber::sleep_for(1ms));
    // cancelled: a recv cancelled by another fiber.
    auto c = test::connect_to_posix_peer();
    auto r = test::recv_cancelled_while_blocked(c.s);
    EXPECT_EQ(r.error(), wsa::eintr);
    // timed out: a recv whose token's deadline passes.
    char b[8];
    CancelSource deadline(std::chrono::steady_clock::now() + 1ms);
    EXPECT_EQ(recv(c.s, b, sizeof b, 0, deadline.token()).error(), wsa::etimedout);
    ASSERT_OK(close(c.s));
    after = Runtime::current()->stats();
  }));
  ASSERT_OK(rt.run());
  // The join inside recv_cancelled_while_blocked completes too: what is exact is the other
  // rows.
  EXPECT_GE(after.calls_completed - before.calls_completed, 1u);
  EXPECT_EQ(after.calls_cancelled - before.calls_cancelled, 1u);
  EXPECT_EQ(after.calls_timed_out - before.calls_timed_out, 1u);
  EXPECT_EQ(after.calls_stopped - before.calls_stopped, 0u);
}

TEST(Counters, StoppedCallsAndCancelReplies) {
  Runtime rt;
  std::atomic<bool> blocked{false};
  FiberId sleeper = FiberId::none;
  ASSERT_OK(rt.spawn([&] {
    auto s = spawn_call(blocked, [] { (void)this_fiber::sleep_for(1h); });
    ASSERT_OK(s);
    sleeper = *s;
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
    // From this runtime's thread: a fiber with no call (this one) answers WSAEINVAL.
    EXPECT_EQ(cancel_blocking_call(this_fiber::id()).error(), wsa::einval);
    Runtime::current()->stop();
  }));
  ASSERT_OK(rt.run());
  RuntimeStats st = rt.stats();
  EXPECT_EQ(st.calls_stopped, 1u);  // the hour's sleep
  EXPECT_EQ(st.cancels_einval, 1u);
  EXPECT_EQ(st.cancels_ok, 0u);
  EXPECT_EQ(st.cancels_enetdown, 0u);
  EXPECT_EQ(st.fibers_spawned, 2u);
  EXPECT_EQ(st.fibers_high_water, 2u);

  // From a thread that runs no runtime: counted process-wide.
  debug::CancelCounts t0 = debug::thread_cancels();
  EXPECT_EQ(cancel_blocking_call(sleeper).error(), wsa::einval);  // it has ended
  debug::CancelCounts t1 = debug::thread_cancels();
  EXPECT_EQ(t1.einval - t0.einval, 1u);
  EXPECT_EQ(t1.ok, t0.ok);
}

TEST(Counters, CancelRepliesFromAnotherRuntime) {
  Runtime target;
  Runtime asker;
  std::atomic<bool> blocked{false};
  std::atomic<FiberId> sleeper{FiberId::none};
  ASSERT_OK(target.spawn([&] {
    auto s = spawn_call(blocked, [] { (void)this_fiber::sleep_for(1h); });
    ASSERT_OK(s);
    sleeper = *s;
  }));
  std::thread t([&] { ASSERT_OK(target.run()); });
  ASSERT_OK(asker.spawn([&] {
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
    EXPECT_TRUE(cancel_blocking_call(sleeper.load()).ok());
  }));
  ASSERT_OK(asker.run());
  t.join();
  EXPECT_EQ(asker.stats().cancels_ok, 1u);  // counted where it was asked
  EXPECT_EQ(target.stats().cancels_ok, 0u);
  EXPECT_EQ(target.stats().calls_cancelled, 1u);  // and the call ended there
}

TEST(Counters, ResetsByCancelAndHighWater) {
  RuntimeOptions portable;
  portable.portable_mode = true;
  run_in_fiber(
      [] {
        const RuntimeStats before = Runtime::current()->stats();
        auto a = test::connect_to_posix_peer();
        auto b = test::connect_to_posix_peer();
        // Portable mode: a cancelled recv resets its stream.
        auto r = test::recv_cancelled_while_blocked(a.s);
        EXPECT_EQ(r.error(), wsa::eintr);
        const RuntimeStats after = Runtime::current()->stats();
        EXPECT_EQ(after.resets_by_cancel - before.resets_by_cancel, 1u);
        EXPECT_GE(after.sockets_high_water, 2u);
        EXPECT_EQ(after.sockets_open, before.sockets_open + 2);
        ASSERT_OK(close(a.s));
        ASSERT_OK(close(b.s));
        EXPECT_GE(Runtime::current()->stats().sockets_high_water, 2u);
      },
      portable);
}

TEST(Counters, GroupSumsItsRuntimes) {
  RuntimeGroup g(2);
  std::atomic<int> done{0};
  ASSERT_OK(g.spawn_each([&](std::size_t) {
    (void)this_fiber::sleep_for(1ms);
    if (++done == 2) g.finish();  // the group runs until finished
  }));
  ASSERT_OK(g.run());
  RuntimeStats sum = g.stats();
  EXPECT_EQ(sum.fibers_spawned, g[0].stats().fibers_spawned + g[1].stats().fibers_spawned);
  EXPECT_EQ(sum.calls_completed, g[0].stats().calls_completed + g[1].stats().calls_completed);
  EXPECT_GE(sum.calls_completed, 2u);
}

// A loop with no fiber to run watches its mailbox before it sleeps
// (RuntimeOptions::spin_before_sleep) only after its own fibers woke another thread and
// wake-ups from other threads came back, and never with the option at 0; values cross
// between runtimes either way.
TEST(Counters, WatchesOfTheMailboxOnlyWhereWakeUpsComeFromOtherThreads) {
  constexpr int kRounds = 2000;
  for (auto spin : {0us, RuntimeOptions{}.spin_before_sleep}) {
    RuntimeOptions o;
    o.spin_before_sleep = spin;
    Runtime a(o);
    Runtime b(o);
    Channel<int> ping(0);
    Channel<int> pong(0);
    ASSERT_OK(b.spawn([&] {
      for (int i = 0; i < kRounds; ++i) {
        auto v = ping.recv();
        ASSERT_OK(v);
        ASSERT_OK(pong.send(*v + 1));
      }
    }));
    std::thread tb([&] { ASSERT_OK(b.run()); });
    ASSERT_OK(a.spawn([&] {
      for (int i = 0; i < kRounds; ++i) {
        ASSERT_OK(ping.send(int{i}));
        auto v = pong.recv();
        ASSERT_OK(v);
        EXPECT_EQ(*v, i + 1);
      }
    }));
    ASSERT_OK(a.run());
    tb.join();
    for (Runtime* rt : {&a, &b}) {
      const RuntimeStats st = rt->stats();
      EXPECT_LE(st.spin_wakeups, st.wakeups);
      if (spin == 0us) {
        EXPECT_EQ(st.spin_wakeups, 0u);
        EXPECT_EQ(st.spins_timed_out, 0u);
      }
    }
  }

  // Only handed work: a producer on one runtime feeds an unbounded channel that a consumer
  // on another drains, the consumer's runtime never wakes the producer's, and never watches.
  {
    Runtime producer;
    Runtime consumer;
    Channel<int> ch(unbounded);
    ASSERT_OK(consumer.spawn([&] {
      for (int i = 0; i < kRounds; ++i) {
        auto v = ch.recv();
        ASSERT_OK(v);
        EXPECT_EQ(*v, i);
      }
    }));
    std::thread tc([&] { ASSERT_OK(consumer.run()); });
    ASSERT_OK(producer.spawn([&] {
      for (int i = 0; i < kRounds; ++i) {
        ASSERT_OK(ch.send(int{i}));
        if (i % 16 == 0) this_fiber::yield();
      }
    }));
    ASSERT_OK(producer.run());
    tc.join();
    const RuntimeStats st = consumer.stats();
    EXPECT_EQ(st.spin_wakeups, 0u);
    EXPECT_EQ(st.spins_timed_out, 0u);
  }

  // Sockets and timers alone: a fiber's recv waits for a POSIX peer thread that sends a byte
  // at a time, and sleeps between; the loop sleeps each time, and never watches.
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    std::thread peer([fd = c.peer.get()] {
      for (int i = 0; i < 50; ++i) {
        std::this_thread::sleep_for(200us);
        ASSERT_EQ(::send(fd, "x", 1, MSG_NOSIGNAL), 1);
      }
    });
    char b[1];
    for (int i = 0; i < 50; ++i) {
      ASSERT_OK(recv(c.s, b, 1));
      ASSERT_OK(this_fiber::sleep_for(100us));
    }
    peer.join();
    const RuntimeStats st = Runtime::current()->stats();
    EXPECT_EQ(st.spin_wakeups, 0u);
    EXPECT_EQ(st.spins_timed_out, 0u);
    ASSERT_OK(close(c.s));
  });
}

// ---------------------------------------------------------------------------------------
// Fiber dumps

// A server runtime on its own thread with fibers blocked in accept, recv, sleep, a channel, a
// mutex and a join; `ready` once every one is blocked.
struct BlockedServer {
  Runtime rt;
  std::thread thread;
  Address listen_at;
  test::Fd client;
  std::atomic<int> blocked{0};
  std::atomic<bool> all{false};
  CancelSource stop_all;

  void start() {
    ASSERT_OK(rt.spawn(
        [this] {
          Channel<int> ch(1);
          Mutex m;
          ASSERT_OK(m.lock());
          auto ls = socket(AF_INET, SOCK_STREAM);
          ASSERT_OK(ls);
          ASSERT_OK(bind(*ls, Address::loopback_v4(0)));
          ASSERT_OK(listen(*ls, 16));
          listen_at = *local_address(*ls);
          auto conn = socket(AF_INET, SOCK_STREAM);
          ASSERT_OK(conn);
          ASSERT_OK(connect(*conn, listen_at));
          auto accepted = accept(*ls);
          ASSERT_OK(accepted);
          std::vector<std::atomic<bool>> flags(6);
          auto t = stop_all.token();
          auto named = [&](const char* name, std::size_t i, auto call) {
            return spawn(
                [&, i, call] {
                  (void)post(this_fiber::id(), [&, i] { flags[i] = is_blocking(); });
                  call();
                },
                SpawnOptions{.name = name});
          };
          std::vector<FiberId> ids;
          ids.push_back(*named("acceptor", 0, [&, t] { (void)accept(*ls, nullptr, t); }));
          ids.push_back(*named("reader", 1, [&, t] {
            char b[16];
            CancelSource d = CancelSource::linked({t});
            d.set_deadline(std::chrono::steady_clock::now() + 1h);
            (void)recv(*accepted, b, sizeof b, 0, d.token());
          }));
          ids.push_back(*named("sleeper", 2, [t] { (void)this_fiber::sleep_for(1h, t); }));
          ids.push_back(*named("consumer", 3, [&ch, t] { (void)ch.recv(t); }));
          ids.push_back(*named("locker", 4, [&m, t] { (void)m.lock(t); }));
          FiberId sleeper = ids[2];
          ids.push_back(*named("joiner", 5, [sleeper, t] { (void)join(sleeper, t); }));
          ASSERT_TRUE(wait_until([&] {
            for (auto& f : flags) {
              if (!f.load()) return false;
            }
            return true;
          }));
          all = true;
          // "marker" waits with them until the test has looked.
          (void)this_fiber::sleep_for(1h, t);
          for (FiberId id : ids) (void)join(id);
          ASSERT_OK(m.unlock());
          ASSERT_OK(close(*accepted));
          ASSERT_OK(close(*conn));
          ASSERT_OK(close(*ls));
        },
        SpawnOptions{.name = "marker"}));
    thread = std::thread([this] { ASSERT_OK(rt.run()); });
  }
  void finish() {
    stop_all.cancel();
    thread.join();
  }
};

void expect_server_fibers(const debug::RuntimeDump& r) {
  ASSERT_TRUE(r.answered);
  const auto* acceptor = find_named(r, "acceptor");
  ASSERT_NE(acceptor, nullptr);
  EXPECT_EQ(acceptor->state, "blocked");
  EXPECT_EQ(acceptor->call, "accept");
  EXPECT_NE(acceptor->waits_on.find("tcp listening 127.0.0.1:"), std::string::npos)
      << acceptor->waits_on;
  EXPECT_EQ(acceptor->deadline_ms, -1);
  EXPECT_EQ(acceptor->cancel, "none");
  EXPECT_GE(acceptor->blocked_ms, 0);
  EXPECT_EQ(acceptor->spawned_by.rfind("operator()", 0), 0u);  // the lambda that spawned it
  EXPECT_NE(acceptor->spawned_at.find("debug.cpp:"), std::string::npos) << acceptor->spawned_at;

  const auto* reader = find_named(r, "reader");
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->call, "recv");
  EXPECT_NE(reader->waits_on.find("tcp connected 127.0.0.1:"), std::string::npos);
  EXPECT_NE(reader->waits_on.find(" <- 127.0.0.1:"), std::string::npos) << reader->waits_on;
  // Its token's deadline, an hour away.
  EXPECT_GT(reader->deadline_ms, 3'000'000);
  EXPECT_LE(reader->deadline_ms, 3'600'000);

  const auto* sleeper = find_named(r, "sleeper");
  ASSERT_NE(sleeper, nullptr);
  EXPECT_EQ(sleeper->call, "sleep");
  EXPECT_EQ(sleeper->waits_on, "");
  EXPECT_GT(sleeper->deadline_ms, 3'000'000);

  const auto* consumer = find_named(r, "consumer");
  ASSERT_NE(consumer, nullptr);
  EXPECT_EQ(consumer->call, "Channel::recv");
  EXPECT_EQ(consumer->waits_on.rfind("primitive at 0x", 0), 0u) << consumer->waits_on;

  const auto* locker = find_named(r, "locker");
  ASSERT_NE(locker, nullptr);
  EXPECT_EQ(locker->call, "Mutex::lock");
  EXPECT_EQ(locker->waits_on.rfind("primitive at 0x", 0), 0u);

  const auto* joiner = find_named(r, "joiner");
  ASSERT_NE(joiner, nullptr);
  EXPECT_EQ(joiner->call, "join");
  EXPECT_EQ(joiner->waits_on, "fiber " + std::to_string(to_integer(sleeper->id)));
}

TEST(FiberDump, FromAPlainThread) {
  BlockedServer s;
  s.start();
  while (!s.all.load()) std::this_thread::sleep_for(1ms);
  auto dump = debug::fibers();
  const debug::RuntimeDump* r = nullptr;
  for (const auto& d : dump) {
    if (find_named(d, "acceptor")) r = &d;
  }
  ASSERT_NE(r, nullptr) << debug::fibers_text(dump);
  expect_server_fibers(*r);
  EXPECT_EQ(find_named(*r, "marker")->call, "sleep");
  EXPECT_EQ(r->stats.fibers_alive, 7u);

  std::string text = debug::fibers_text(dump);
  EXPECT_NE(text.find("(acceptor) [blocked, accept, "), std::string::npos) << text;
  EXPECT_NE(text.find("waits on: socket "), std::string::npos);
  s.finish();
}

TEST(FiberDump, FromAFiberOfAnotherRuntimeAndOfItsOwn) {
  BlockedServer s;
  s.start();
  Runtime other;
  ASSERT_OK(other.spawn(
      [&] {
        ASSERT_TRUE(wait_until([&] { return s.all.load(); }));
        auto dump = debug::fibers();
        bool seen_server = false, seen_self = false;
        for (const auto& d : dump) {
          if (find_named(d, "acceptor")) {
            seen_server = true;
            expect_server_fibers(d);
          }
          if (const auto* me = find_named(d, "asker")) {
            seen_self = true;
            EXPECT_EQ(me->state, "running");
            EXPECT_EQ(me->call, "");
          }
        }
        EXPECT_TRUE(seen_server);
        EXPECT_TRUE(seen_self);
      },
      SpawnOptions{.name = "asker"}));
  ASSERT_OK(other.run());
  s.finish();
}

TEST(FiberDump, ARuntimeThatDoesNotYieldIsReportedUnanswered) {
  Runtime rt;
  Runtime idle;  // never run: it cannot answer either, and no fiber holds its thread
  std::atomic<bool> spinning{false}, release{false};
  auto hog = rt.spawn([&] {
    spinning = true;
    while (!release.load()) {}
  });
  ASSERT_OK(hog);
  std::thread t([&] { ASSERT_OK(rt.run()); });
  while (!spinning.load()) std::this_thread::sleep_for(1ms);
  auto dump = debug::fibers(50ms);
  release = true;  // only after the dump returned: the runtime could not have answered
  t.join();
  const debug::RuntimeDump* held = nullptr;
  const debug::RuntimeDump* not_running = nullptr;
  for (const auto& d : dump) {
    if (d.index == rt.index()) held = &d;
    if (d.index == idle.index()) not_running = &d;
  }
  ASSERT_NE(held, nullptr);
  EXPECT_FALSE(held->answered);
  EXPECT_TRUE(held->fibers.empty());
  EXPECT_EQ(held->stats.fibers_alive, 1u);  // its counters are read all the same
  // The fiber that held the thread throughout, for at least the wait.
  EXPECT_EQ(held->holder, *hog);
  EXPECT_GE(held->held_ms, 50);
  ASSERT_NE(not_running, nullptr);
  EXPECT_FALSE(not_running->answered);
  EXPECT_EQ(not_running->holder, FiberId::none);
  EXPECT_EQ(not_running->held_ms, -1);
  const std::string text = debug::fibers_text(dump);
  EXPECT_NE(text.find("did not list its fibers in time: fiber " + std::to_string(to_integer(*hog)) +
                      " has run on its thread"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("a fiber that does not yield holds its thread, or the runtime is not "
                      "running"),
            std::string::npos)
      << text;
  const std::string json = debug::fibers_json(dump);
  EXPECT_NE(json.find("\"holder\":" + std::to_string(to_integer(*hog))), std::string::npos) << json;
  EXPECT_NE(json.find("\"holder\":null"), std::string::npos) << json;
}

TEST(FiberDump, CancelStateAndDefaultName) {
  run_in_fiber([] {
    std::atomic<bool> blocked{false};
    CancelSource src;
    auto f = spawn_call(blocked, [&] { (void)this_fiber::sleep_for(1h, src.token()); });
    ASSERT_OK(f);
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
    // Cancelled, not yet resumed: the dump is taken before the fiber runs again.
    ASSERT_OK(cancel_blocking_call(*f));
    auto dump = debug::fibers();
    const debug::FiberInfo* info = nullptr;
    for (const auto& d : dump) {
      for (const auto& fi : d.fibers) {
        if (fi.id == *f) info = &fi;
      }
    }
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->state, "ready");
    EXPECT_EQ(info->cancel, "cancelled");
    EXPECT_EQ(info->call, "sleep");
    // None given: it is known by the function that spawned it.
    EXPECT_FALSE(info->spawned_by.empty());
    EXPECT_EQ(info->name, info->spawned_by);
    ASSERT_OK(join(*f));
  });
}

TEST(FiberDump, GroupMembersAreKnownByTheirSpawnSite) {
  run_in_fiber([] {
    FiberGroup group;
    std::atomic<bool> named_blocked{false}, plain_blocked{false};
    auto blocked_sleep = [](std::atomic<bool>& flag) {
      (void)post(this_fiber::id(), [&flag] { flag = is_blocking(); });
      (void)this_fiber::sleep_for(1h);
    };
    auto named = group.spawn([&] { blocked_sleep(named_blocked); }, SpawnOptions{.name = "member"});
    auto plain = group.spawn([&] { blocked_sleep(plain_blocked); });
    ASSERT_OK(named);
    ASSERT_OK(plain);
    ASSERT_TRUE(wait_until([&] { return named_blocked.load() && plain_blocked.load(); }));
    auto dump = debug::fibers();
    int seen = 0;
    for (const auto& d : dump) {
      for (const auto& f : d.fibers) {
        if (f.id != *named && f.id != *plain) continue;
        ++seen;
        // The site is the group's spawn call here, not inside weft's headers.
        EXPECT_NE(f.spawned_at.find("debug.cpp:"), std::string::npos) << f.spawned_at;
        EXPECT_EQ(f.name, f.id == *named ? std::string("member") : f.spawned_by);
      }
    }
    EXPECT_EQ(seen, 2);
    group.cancel();
    (void)group.join_all();  // the members end cancelled
  });
}

// ---------------------------------------------------------------------------------------
// The debug listener, driven by curl; /metrics parsed by prometheus_client.

struct DebugServer : BlockedServer {
  std::atomic<std::uint16_t> port{0};
  void serve_debug() {
    ASSERT_OK(rt.spawn([this] {
      auto l = debug::serve(Address::loopback_v4(0), stop_all.token());
      ASSERT_OK(l);
      port = l->address.port();
    }));
  }
  std::string url(const char* path) {
    return "http://127.0.0.1:" + std::to_string(port.load()) + path;
  }
};

TEST(DebugListener, ServesTheDumpAndMetricsToCurl) {
  DebugServer s;
  s.serve_debug();
  s.start();
  while (!s.all.load() || s.port.load() == 0) std::this_thread::sleep_for(1ms);

  int status = -1;
  std::string text = shell("curl -sS --max-time 20 " + s.url("/debug/fibers"), &status);
  EXPECT_EQ(status, 0);
  for (const char* want :
       {"(acceptor) [blocked, accept, ", "(reader) [blocked, recv, ", "(sleeper) [blocked, sleep, ",
        "(consumer) [blocked, Channel::recv, ", "(locker) [blocked, Mutex::lock, ",
        "(joiner) [blocked, join, ", "(weft.debug) [running]"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }

  // The JSON, read by Python's json module: the blocked fibers by name and call.
  std::string json_check =
      shell("curl -sS --max-time 20 " + s.url("/debug/fibers.json") +
                " | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); "
                "print(sorted((f[\"name\"], f[\"call\"] or \"\") for r in d[\"runtimes\"] "
                "for f in r[\"fibers\"] if f[\"name\"]))'",
            &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(json_check,
            "[('acceptor', 'accept'), ('consumer', 'Channel::recv'), ('joiner', 'join'), "
            "('locker', 'Mutex::lock'), ('marker', 'sleep'), ('reader', 'recv'), "
            "('sleeper', 'sleep'), ('weft.debug', '')]\n");

  // /metrics through the reference parser: every family typed, the runtime's counters there.
  const char* parse =
      " | /usr/bin/python3 -c '\n"
      "import sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "fams = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}\n"
      "assert fams[\"weft_runtimes\"].type == \"gauge\"\n"
      "alive = max(s.value for s in fams[\"weft_fibers_alive\"].samples)\n"
      "calls = fams[\"weft_blocking_calls\"]\n"
      "assert calls.type == \"counter\", calls.type\n"
      "outcomes = sorted({s.labels[\"outcome\"] for s in calls.samples if "
      "s.name.endswith(\"_total\")})\n"
      "replies = sorted({s.labels[\"reply\"] for s in fams[\"weft_cancel_requests\"].samples})\n"
      "print(int(alive), outcomes, replies, fams[\"weft_fiber_stacks\"].type)\n"
      "'";
  std::string parsed = shell("curl -sS --max-time 20 " + s.url("/metrics") + parse, &status);
  EXPECT_EQ(status, 0) << parsed;
  // The server's 7 fibers and the listener's.
  EXPECT_EQ(parsed, "8 ['cancelled', 'completed', 'stopped', 'timed_out'] "
                    "['0', 'WSAEINVAL', 'WSAENETDOWN'] gauge\n");

  // What is not served.
  std::string codes =
      shell("for p in /nope /metrics; do curl -s -o /dev/null -w '%{http_code} ' "
            "--max-time 20 " +
            s.url("") + "$p; done; curl -s -o /dev/null -w '%{http_code}' -X POST " +
            "--max-time 20 " + s.url("/metrics"));
  EXPECT_EQ(codes, "404 200 405");
  std::string head = shell("curl -sS -I --max-time 20 " + s.url("/metrics"));
  EXPECT_NE(head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << head;

  s.finish();  // the token ends the listener with the rest: run() returns
}

TEST(DebugListener, AHalfRequestDoesNotHoldItForever) {
  DebugServer s;
  s.serve_debug();
  s.start();
  while (s.port.load() == 0) std::this_thread::sleep_for(1ms);
  // A client that sends half a request and waits: the listener gives up on it (within its
  // read limit) and closes, and serves the next.
  test::Fd half = test::posix_connect(*Address::parse("127.0.0.1", s.port.load()));
  test::posix_send_all(half.get(), "GET /metr");
  int status = -1;
  std::string m = shell("curl -sS --max-time 30 " + s.url("/metrics"), &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(m.find("# TYPE weft_fibers_alive gauge"), std::string::npos);
  auto rest = test::posix_read_to_end(half.get(), 20000);
  EXPECT_EQ(rest.data, "");  // closed without an answer
  s.finish();
}

TEST(DebugListener, OffARuntimeThreadIsRefused) { EXPECT_EQ(debug::serve().error(), wsa::einval); }

}  // namespace
