// RuntimeGroup and Runtime::hold: N runtimes on N threads, one SO_REUSEPORT listener each,
// graceful finish and abrupt stop, work handed across runtimes. Clients are plain POSIX
// sockets on the test's thread.
#include <weft/weft.hpp>

#include "../support/peer.hpp"
#include "../support/process.hpp"
#include "../support/run.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

namespace weft {
namespace {

using namespace std::chrono_literals;
using test::Fd;

// Every wait on another thread is bounded: a broken runtime fails the test, never hangs it.
constexpr auto kBound = 10s;

// A result that does not come within the bound ends the test program (get() would hang).
template <class T>
T get_within(std::future<T>& f) {
  if (f.wait_for(kBound) != std::future_status::ready) {
    ADD_FAILURE() << "no result within " << kBound.count() << " s";
    std::abort();
  }
  return f.get();
}

// Echoes until EOF or an error.
void echo(UniqueSocket c) {
  char buf[4096];
  for (;;) {
    auto n = recv(c.get(), buf, sizeof buf);
    if (!n.ok() || *n == 0) return;
    if (!send(c.get(), buf, *n).ok()) return;
  }
}

TEST(RuntimeHold, AHeldRuntimeWithNoFiberWaitsForWorkFromOtherThreads) {
  Runtime rt;
  rt.hold();
  std::promise<Status> ran;
  auto done = ran.get_future();
  std::thread loop([&] { ran.set_value(rt.run()); });
  // Without the hold, run() would have returned at once and this fiber would wait for a
  // next run() that never comes.
  std::promise<bool> in_fiber;
  auto reached = in_fiber.get_future();
  ASSERT_OK(rt.spawn([&] { in_fiber.set_value(Runtime::current() == &rt); }));
  EXPECT_TRUE(get_within(reached));
  std::promise<bool> posted;
  auto post_seen = posted.get_future();
  ASSERT_TRUE(rt.post([&] { posted.set_value(true); }).ok());
  EXPECT_TRUE(get_within(post_seen));
  rt.release();  // the last release lets the idle run() return
  EXPECT_TRUE(get_within(done).ok());
  loop.join();
}

TEST(RuntimeHold, StopEndsAHeldRuntime) {
  Runtime rt;
  rt.hold();
  rt.hold();
  std::promise<Status> ran;
  auto done = ran.get_future();
  std::thread loop([&] { ran.set_value(rt.run()); });
  rt.stop();
  EXPECT_TRUE(get_within(done).ok());
  loop.join();
  EXPECT_EQ(rt.run().error(), wsa::enetdown);
}

struct RunningGroup {
  RuntimeGroup& group;
  std::promise<Status> ran;
  std::future<Status> done = ran.get_future();
  std::thread thread;
  explicit RunningGroup(RuntimeGroup& g)
      : group(g), thread([this] { ran.set_value(group.run()); }) {}
  Status wait() {
    Status s = get_within(done);
    thread.join();
    return s;
  }
  ~RunningGroup() {
    if (thread.joinable()) {
      group.stop();
      thread.join();
    }
  }
};

TEST(RuntimeGroup, ServesEveryConnectionOnTheRuntimeThatAcceptedIt) {
  RuntimeGroup group(2);
  ASSERT_EQ(group.size(), 2u);
  std::atomic<int> served[2] = {0, 0};
  auto at = group.serve(Address::loopback_v4(0), [&](UniqueSocket c) {
    std::size_t i = group.current_index();
    ASSERT_LT(i, 2u);
    served[i].fetch_add(1);
    echo(std::move(c));
  });
  ASSERT_TRUE(at.ok()) << at.error().message();
  ASSERT_NE(at->port(), 0);  // port 0 was resolved to one port for both listeners
  RunningGroup running(group);

  // 64 connections with distinct source ports: the kernel's hash spreads them over both
  // listeners (all on one would have probability 2^-63).
  std::vector<Fd> clients;
  for (int i = 0; i < 64; ++i) clients.push_back(test::posix_connect(*at));
  for (int i = 0; i < 64; ++i) {
    std::string msg = "connection " + std::to_string(i) + "\n";
    test::posix_send_all(clients[i].get(), msg);
    EXPECT_EQ(test::posix_read_n(clients[i].get(), msg.size()), msg);
  }
  clients.clear();
  group.finish();
  EXPECT_TRUE(running.wait().ok());
  EXPECT_EQ(served[0] + served[1], 64);
  EXPECT_GT(served[0], 0);
  EXPECT_GT(served[1], 0);
}

TEST(RuntimeGroup, FinishClosesTheListenersAndLetsConnectionsEnd) {
  RuntimeGroup group(2);
  std::atomic<int> ended{0};
  auto at = group.serve(Address::loopback_v4(0), [&](UniqueSocket c) {
    echo(std::move(c));
    ended.fetch_add(1);
  });
  ASSERT_TRUE(at.ok());
  RunningGroup running(group);
  Fd a = test::posix_connect(*at);
  test::posix_send_all(a.get(), "before\n");
  ASSERT_EQ(test::posix_read_n(a.get(), 7), "before\n");

  group.finish();
  // The connection being served goes on after finish...
  test::posix_send_all(a.get(), "after\n");
  EXPECT_EQ(test::posix_read_n(a.get(), 6), "after\n");
  EXPECT_EQ(running.done.wait_for(0s), std::future_status::timeout);
  // ...and once it ends, every runtime is idle and run() returns.
  ::shutdown(a.get(), SHUT_WR);
  EXPECT_TRUE(test::posix_read_to_end(a.get()).eof);
  EXPECT_TRUE(running.wait().ok());
  EXPECT_EQ(ended.load(), 1);
  // The listeners are closed: nothing accepts on the port any more.
  Fd late(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_NE(::connect(late.get(), at->data(), at->size()), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_EQ(group.serve(Address::loopback_v4(0), echo).error(), wsa::enetdown);
}

TEST(RuntimeGroup, ServeTokenEndsServingButTheGroupRunsOn) {
  RuntimeGroup group(2);
  CancelSource serving;
  ServeOptions options;
  options.token = serving.token();
  auto at = group.serve(Address::loopback_v4(0), echo, options);
  ASSERT_TRUE(at.ok());
  RunningGroup running(group);
  Fd a = test::posix_connect(*at);
  test::posix_send_all(a.get(), "x");
  ASSERT_EQ(test::posix_read_n(a.get(), 1), "x");
  serving.cancel();
  // Both listeners close; a second serve on a new port works on the same running group.
  auto again = group.serve(Address::loopback_v4(0), echo);
  ASSERT_TRUE(again.ok());
  Fd b = test::posix_connect(*again);
  test::posix_send_all(b.get(), "y");
  EXPECT_EQ(test::posix_read_n(b.get(), 1), "y");
  // The first port stops accepting once each accept loop has seen the cancel: probe until
  // refused (bounded), as the two loops end on their own threads.
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    Fd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    refused = ::connect(probe.get(), at->data(), at->size()) != 0 && errno == ECONNREFUSED;
    if (!refused) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(refused);
  a.reset();
  b.reset();
  group.finish();
  EXPECT_TRUE(running.wait().ok());
}

TEST(RuntimeGroup, StopEndsBlockedHandlersWithNetDown) {
  RuntimeGroup group(2);
  std::promise<std::error_code> seen;
  auto result = seen.get_future();
  std::promise<void> blocked;
  auto is_blocked = blocked.get_future();
  auto at = group.serve(Address::loopback_v4(0), [&](UniqueSocket c) {
    char b;
    blocked.set_value();
    seen.set_value(recv(c.get(), &b, 1).error());
  });
  ASSERT_TRUE(at.ok());
  RunningGroup running(group);
  Fd a = test::posix_connect(*at);
  ASSERT_EQ(is_blocked.wait_for(kBound), std::future_status::ready);
  group.stop();
  EXPECT_EQ(get_within(result), wsa::enetdown);
  EXPECT_TRUE(running.wait().ok());
  // The handler's socket was closed when it returned: the client sees the end.
  auto v = test::posix_read_to_end(a.get());
  EXPECT_TRUE(v.eof || v.error == ECONNRESET);
}

TEST(RuntimeGroup, CancelAndPostReachAFiberOnAnotherRuntime) {
  RuntimeGroup group(2);
  RunningGroup running(group);
  std::promise<FiberId> blocked_fiber;
  auto target_ready = blocked_fiber.get_future();
  std::promise<std::error_code> outcome;
  auto result = outcome.get_future();
  // Runtime 1: a fiber blocked in recv on a connection to a POSIX peer.
  Fd peer;
  ASSERT_OK(group[1].spawn([&] {
    auto c = test::connect_to_posix_peer();
    peer = std::move(c.peer);
    UniqueSocket s(c.s);
    blocked_fiber.set_value(this_fiber::id());
    char b[8];
    auto r = recv(s.get(), b, sizeof b);
    outcome.set_value(r.ok() ? std::error_code{} : r.error());
  }));
  FiberId target = get_within(target_ready);
  // Runtime 0: cancels it, and posts to runtime 1 (the post runs on runtime 1's thread).
  std::promise<std::pair<Status, bool>> from0;
  auto cancelled = from0.get_future();
  ASSERT_OK(group[0].spawn([&] {
    // The id is published just before the recv: until that call blocks, a cancel finds no
    // outstanding call (WSAEINVAL) and is tried again.
    Status st = cancel_blocking_call(target);
    while (st.error() == wsa::einval) {
      (void)this_fiber::sleep_for(1ms);
      st = cancel_blocking_call(target);
    }
    from0.set_value({st, group.current_index() == 0});
  }));
  auto [st, on0] = get_within(cancelled);
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(on0);
  EXPECT_EQ(get_within(result), wsa::eintr);
  std::promise<std::size_t> where;
  auto posted_on = where.get_future();
  ASSERT_TRUE(
      group[0]
          .post([&] { (void)group[1].post([&] { where.set_value(group.current_index()); }); })
          .ok());
  EXPECT_EQ(get_within(posted_on), 1u);
  group.finish();
  EXPECT_TRUE(running.wait().ok());
}

TEST(RuntimeGroup, SpawnEachAndSpawnUseEveryRuntimeOnItsOwnThread) {
  RuntimeGroup group(3);
  std::mutex mu;
  std::set<std::size_t> indices;
  std::set<std::thread::id> threads;
  ASSERT_TRUE(group
                  .spawn_each([&](std::size_t i) {
                    std::lock_guard lock(mu);
                    EXPECT_EQ(group.current_index(), i);
                    indices.insert(i);
                    threads.insert(std::this_thread::get_id());
                  })
                  .ok());
  std::atomic<int> turns[3] = {0, 0, 0};
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK(group.spawn([&] { turns[group.current_index()].fetch_add(1); }));
  }
  group.finish();  // the fibers were spawned before: run() returns when they have ended
  EXPECT_TRUE(group.run().ok());
  EXPECT_EQ(indices, (std::set<std::size_t>{0, 1, 2}));
  EXPECT_EQ(threads.size(), 3u);
  for (auto& t : turns) EXPECT_EQ(t.load(), 2);
  EXPECT_EQ(group.current_index(), 3u);  // not on a group thread
}

TEST(RuntimeGroup, ServeErrorsComeBackAtOnce) {
  RuntimeGroup group(2);
  // A port held by a plain listener without SO_REUSEPORT.
  Address taken;
  Fd holder = test::posix_listener(taken);
  EXPECT_EQ(group.serve(taken, echo).error(), wsa::eaddrinuse);
  EXPECT_EQ(group.serve(Address{}, echo).error(), wsa::eafnosupport);
  EXPECT_EQ(group.serve(Address::loopback_v4(0), nullptr).error(), wsa::einval);
  ServeOptions bad;
  bad.backlog = -1;
  EXPECT_EQ(group.serve(Address::loopback_v4(0), echo, bad).error(), wsa::einval);
  group.finish();
  EXPECT_TRUE(group.run().ok());
}

TEST(RuntimeGroup, RunFromInsideARuntimeIsRefused) {
  RuntimeGroup group(1);
  Runtime rt;
  Status inner;
  (void)rt.spawn([&] { inner = group.run(); });
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(inner.error(), wsa::einval);
  group.finish();
  EXPECT_TRUE(group.run().ok());
}

TEST(RuntimeGroup, AGroupNeverRunClosesWhatServeOpened) {
  int before = test::open_descriptors();
  {
    RuntimeGroup group(2);
    auto at = group.serve(Address::loopback_v6(0), echo);
    ASSERT_TRUE(at.ok());
    EXPECT_EQ(at->family(), AF_INET6);
    EXPECT_GT(test::open_descriptors(), before);
  }
  EXPECT_EQ(test::open_descriptors(), before);
}

}  // namespace
}  // namespace weft
