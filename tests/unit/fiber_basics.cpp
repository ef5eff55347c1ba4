// Fibers: spawn, join, yield, ids, and where each call may be made.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace weft;
using weft::test::run_in_fiber;

TEST(Runtime, RunWithNoFibersReturnsAtOnce) {
  Runtime rt;
  EXPECT_TRUE(rt.run().ok());
  EXPECT_TRUE(rt.run().ok());  // and may run again
}

TEST(Runtime, RunReturnsWhenEveryFiberHasEnded) {
  Runtime rt;
  int ended = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(rt.spawn([&] {
      this_fiber::yield();
      ++ended;
    }));
  }
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(ended, 10);
  EXPECT_EQ(rt.stats().fibers_alive, 0u);
}

TEST(Runtime, CurrentNamesTheRuntimeOnThisThreadOnly) {
  EXPECT_EQ(Runtime::current(), nullptr);
  Runtime rt;
  Runtime* seen = nullptr;
  ASSERT_OK(rt.spawn([&] { seen = Runtime::current(); }));
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(seen, &rt);
  EXPECT_EQ(Runtime::current(), nullptr);
}

TEST(Runtime, RunFromInsideARunningRuntimeIsInvalid) {
  Runtime outer;
  Status nested;
  ASSERT_OK(outer.spawn([&] {
    Runtime inner;
    nested = inner.run();
  }));
  ASSERT_TRUE(outer.run().ok());
  EXPECT_EQ(nested.error(), wsa::einval);
}

TEST(Fiber, IdsAreUniqueAndNeverZero) {
  std::set<std::uint64_t> ids;
  run_in_fiber([&] {
    ids.insert(to_integer(this_fiber::id()));
    for (int round = 0; round < 3; ++round) {
      std::vector<FiberId> batch;
      for (int i = 0; i < 100; ++i) {
        auto id = spawn([] {});
        ASSERT_TRUE(id.ok());
        batch.push_back(*id);
      }
      for (FiberId id : batch) {
        EXPECT_TRUE(join(id).ok());
        ids.insert(to_integer(id));
      }
    }
  });
  EXPECT_EQ(ids.size(), 301u);  // slots are reused, ids never are
  EXPECT_EQ(ids.count(0), 0u);
}

TEST(Fiber, IdOutsideAFiberIsNone) { EXPECT_EQ(this_fiber::id(), FiberId::none); }

TEST(Fiber, SpawnedFibersRunInFifoOrderAfterTheSpawnerYields) {
  std::vector<int> order;
  run_in_fiber([&] {
    for (int i = 0; i < 5; ++i) {
      ASSERT_OK(spawn([&, i] { order.push_back(i); }));
    }
    order.push_back(-1);
    this_fiber::yield();
    order.push_back(-2);
  });
  EXPECT_EQ(order, (std::vector<int>{-1, 0, 1, 2, 3, 4, -2}));
}

TEST(Fiber, YieldInterleavesReadyFibers) {
  std::string trace;
  run_in_fiber([&] {
    auto a = spawn([&] {
      for (int i = 0; i < 3; ++i) {
        trace += 'a';
        this_fiber::yield();
      }
    });
    auto b = spawn([&] {
      for (int i = 0; i < 3; ++i) {
        trace += 'b';
        this_fiber::yield();
      }
    });
    ASSERT_TRUE(join(*a).ok());
    ASSERT_TRUE(join(*b).ok());
  });
  EXPECT_EQ(trace, "ababab");
}

// A yield hands the thread straight to the next ready fiber; those hand-offs count against
// the scheduler's budget between two polls of the loop, so fibers that never stop yielding
// cannot keep timers, sockets or other threads' posts from being served. (Without the count
// this test never ends.)
TEST(Fiber, FibersThatNeverStopYieldingStillLetTimersSocketsAndPostsThrough) {
  Runtime rt;
  std::atomic<int> served{0};
  std::atomic<std::uint16_t> port{0};
  std::thread peer;
  ASSERT_OK(rt.spawn([&] {
    for (int i = 0; i < 2; ++i) {
      (void)spawn([&] {
        while (served.load() < 3) this_fiber::yield();
      });
    }
    (void)spawn([&] {
      EXPECT_TRUE(this_fiber::sleep_for(std::chrono::milliseconds(5)).ok());
      ++served;
    });
    auto l = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(*l, 1).ok());
    port = local_address(*l)->port();
    peer = std::thread([&] {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port.load());
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
      ASSERT_EQ(::send(fd, "x", 1, 0), 1);
      ASSERT_TRUE(rt.post([&] { ++served; }).ok());
      char c;
      (void)::recv(fd, &c, 1, 0);  // until the server closes
      ::close(fd);
    });
    auto c = accept(*l);
    ASSERT_TRUE(c.ok());
    char b;
    EXPECT_EQ(recv(*c, &b, 1).value(), 1u);
    ++served;
    EXPECT_TRUE(close(*c).ok());
    EXPECT_TRUE(close(*l).ok());
  }));
  ASSERT_TRUE(rt.run().ok());
  peer.join();
  EXPECT_EQ(served.load(), 3);
}

TEST(Fiber, SpawnTakesMoveOnlyCaptures) {
  int seen = 0;
  run_in_fiber([&] {
    auto p = std::make_unique<int>(41);
    auto id = spawn([&seen, p = std::move(p)] { seen = *p + 1; });
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(join(*id).ok());
  });
  EXPECT_EQ(seen, 42);
}

TEST(Fiber, CapturesAreDestroyedWhenTheFiberEnds) {
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> watch = token;
  run_in_fiber([&, token = std::move(token)]() mutable {
    auto id = spawn([t = std::move(token)] {});
    ASSERT_TRUE(join(*id).ok());
    EXPECT_TRUE(watch.expired());
  });
}

TEST(Join, WaitsForTheFiberToEnd) {
  std::vector<std::string> log;
  run_in_fiber([&] {
    auto id = spawn([&] {
      this_fiber::yield();
      this_fiber::yield();
      log.push_back("child done");
    });
    ASSERT_TRUE(join(*id).ok());
    log.push_back("joined");
  });
  EXPECT_EQ(log, (std::vector<std::string>{"child done", "joined"}));
}

TEST(Join, OfAnEndedFiberReturnsAtOnce) {
  run_in_fiber([&] {
    auto id = spawn([] {});
    ASSERT_TRUE(join(*id).ok());
    EXPECT_TRUE(join(*id).ok());
  });
}

TEST(Join, ManyJoinersAreAllReleased) {
  int released = 0;
  run_in_fiber([&] {
    auto target = spawn([] {
      for (int i = 0; i < 3; ++i) this_fiber::yield();
    });
    std::vector<FiberId> joiners;
    for (int i = 0; i < 10; ++i) {
      joiners.push_back(*spawn([&, t = *target] {
        if (join(t).ok()) ++released;
      }));
    }
    for (FiberId j : joiners) ASSERT_TRUE(join(j).ok());
  });
  EXPECT_EQ(released, 10);
}

TEST(Join, OfItselfIsInvalid) {
  run_in_fiber([] { EXPECT_EQ(join(this_fiber::id()).error(), wsa::einval); });
}

TEST(Join, OfAnIdNeverIssuedIsInvalid) {
  run_in_fiber([] {
    EXPECT_EQ(join(FiberId::none).error(), wsa::einval);
    EXPECT_EQ(join(static_cast<FiberId>(~std::uint64_t{0})).error(), wsa::einval);
  });
}

TEST(Join, OutsideAFiberIsInvalid) { EXPECT_EQ(join(FiberId::none).error(), wsa::einval); }

TEST(Spawn, OutsideARuntimeIsInvalid) {
  EXPECT_EQ(spawn([] {}).error(), wsa::einval);
}

TEST(Spawn, FromAPostedFunctionStartsAFiber) {
  Runtime rt;
  bool ran = false;
  ASSERT_TRUE(rt.post([&] { ASSERT_OK(spawn([&] { ran = true; })); }).ok());
  ASSERT_OK(rt.spawn([] {}));
  ASSERT_TRUE(rt.run().ok());
  EXPECT_TRUE(ran);
}

TEST(Post, RunsOutsideAnyFiberWhereBlockingIsInvalid) {
  Runtime rt;
  Status sleep_result;
  FiberId inside = FiberId::none;
  ASSERT_TRUE(rt.post([&] {
                  inside = this_fiber::id();
                  sleep_result = this_fiber::sleep_for(std::chrono::milliseconds(1));
                }).ok());
  ASSERT_OK(rt.spawn([] {}));
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(inside, FiberId::none);
  EXPECT_EQ(sleep_result.error(), wsa::einval);
}

TEST(FiberDeathTest, AnUncaughtExceptionTerminatesWithAMessage) {
  EXPECT_DEATH(
      {
        Runtime rt;
        (void)rt.spawn([] { throw std::runtime_error("boom in fiber"); },
                       SpawnOptions{.name = "thrower"});
        (void)rt.run();
      },
      "thrower.*boom in fiber");
}

}  // namespace
