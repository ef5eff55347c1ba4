// The thread-safe entry points: spawn, post and cancel from other OS threads, with both
// wake-up methods.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;

class CrossThread : public ::testing::TestWithParam<WakeMethod> {
 protected:
  RuntimeOptions options() const {
    RuntimeOptions o;
    o.wake = GetParam();
    return o;
  }
};

// Keeps a runtime's run() going until `done` is set (foreign threads cannot know when a
// runtime would otherwise return).
auto keep_alive_until(std::atomic<bool>& done) {
  return [&done] {
    while (!done.load()) (void)this_fiber::sleep_for(1ms);
  };
}

TEST_P(CrossThread, SpawnFromManyThreadsWhileRunning) {
  constexpr int kThreads = 8, kPerThread = 500;
  Runtime rt(options());
  std::atomic<int> ran{0};
  std::atomic<bool> done{false};
  ASSERT_OK(rt.spawn(keep_alive_until(done)));
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });
  std::vector<std::thread> spawners;
  for (int t = 0; t < kThreads; ++t) {
    spawners.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto id = rt.spawn([&] {
          this_fiber::yield();
          ran.fetch_add(1);
        });
        ASSERT_TRUE(id.ok());
        ASSERT_NE(*id, FiberId::none);
      }
    });
  }
  for (auto& t : spawners) t.join();
  // Every spawn has been queued; the keeper may go once they have all run.
  ASSERT_OK(rt.spawn([&] {
    while (ran.load() < kThreads * kPerThread) this_fiber::yield();
    done = true;
  }));
  runner.join();
  EXPECT_EQ(ran.load(), kThreads * kPerThread);
  EXPECT_EQ(rt.stats().fibers_alive, 0u);
}

TEST_P(CrossThread, SpawnFromAnotherThreadBeforeRunWaitsForRun) {
  Runtime rt(options());
  std::atomic<int> ran{0};
  std::thread t([&] {
    for (int i = 0; i < 100; ++i) ASSERT_OK(rt.spawn([&] { ran.fetch_add(1); }));
  });
  t.join();
  EXPECT_EQ(ran.load(), 0);
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(ran.load(), 100);
}

TEST_P(CrossThread, PostFromManyThreadsKeepsEachThreadsOrder) {
  constexpr int kThreads = 4, kPerThread = 2000;
  Runtime rt(options());
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> posted_done{0};
  std::atomic<bool> done{false};
  ASSERT_OK(rt.spawn(keep_alive_until(done)));
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ASSERT_TRUE(rt.post([&, t, i] { seen[t].push_back(i); }).ok());
      }
      posted_done.fetch_add(1);
    });
  }
  for (auto& t : posters) t.join();
  ASSERT_TRUE(rt.post([&] { done = true; }).ok());
  runner.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(seen[t][i], i);
  }
}

TEST_P(CrossThread, CancelFromAnotherThreadEndsASleep) {
  Runtime rt(options());
  std::atomic<FiberId> sleeper{FiberId::none};
  Status result;
  ASSERT_OK(rt.spawn([&] {
    sleeper = this_fiber::id();
    result = this_fiber::sleep_for(1h);
  }));
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });
  while (sleeper.load() == FiberId::none) std::this_thread::yield();
  // Until the sleep is outstanding, cancel finds no call (WSAEINVAL) and changes nothing.
  Status c;
  while ((c = cancel_blocking_call(sleeper.load())).error() == wsa::einval) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(c.ok()) << c.error().message();
  runner.join();
  EXPECT_EQ(result.error(), wsa::eintr);
}

TEST_P(CrossThread, CancelStormAgainstARepeatedlyBlockingFiber) {
  constexpr int kCancelled = 2000;
  Runtime rt(options());
  std::atomic<FiberId> target{FiberId::none};
  std::atomic<bool> finished{false};
  int interrupted = 0, other = 0;
  ASSERT_OK(rt.spawn([&] {
    target = this_fiber::id();
    while (interrupted < kCancelled) {
      Status s = this_fiber::sleep_for(1h);
      if (s.error() == wsa::eintr) {
        ++interrupted;
      } else {
        ++other;
      }
    }
    finished = true;
  }));
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });
  while (target.load() == FiberId::none) std::this_thread::yield();
  std::atomic<int> bad_replies{0};
  std::vector<std::thread> cancellers;
  for (int t = 0; t < 2; ++t) {
    cancellers.emplace_back([&] {
      while (!finished.load()) {
        Status c = cancel_blocking_call(target.load());
        if (!c.ok() && c.error() != wsa::einval) bad_replies.fetch_add(1);
      }
    });
  }
  for (auto& t : cancellers) t.join();
  runner.join();
  EXPECT_EQ(interrupted, kCancelled);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(bad_replies.load(), 0);
}

TEST_P(CrossThread, CancelFromAFiberOfAnotherRuntime) {
  Runtime a(options()), b(options());
  std::atomic<FiberId> sleeper{FiberId::none};
  Status result, reply;
  ASSERT_OK(a.spawn([&] {
    sleeper = this_fiber::id();
    result = this_fiber::sleep_for(1h);
  }));
  ASSERT_OK(b.spawn([&] {
    while (sleeper.load() == FiberId::none) (void)this_fiber::sleep_for(1ms);
    while ((reply = cancel_blocking_call(sleeper.load())).error() == wsa::einval) {
      (void)this_fiber::sleep_for(1ms);
    }
  }));
  std::thread ta([&] { ASSERT_TRUE(a.run().ok()); });
  std::thread tb([&] { ASSERT_TRUE(b.run().ok()); });
  ta.join();
  tb.join();
  EXPECT_TRUE(reply.ok());
  EXPECT_EQ(result.error(), wsa::eintr);
}

TEST_P(CrossThread, CancelOfAFiberWhoseRuntimeIsGoneIsInvalid) {
  FiberId id;
  {
    Runtime rt(options());
    id = *rt.spawn([] {});
    ASSERT_TRUE(rt.run().ok());
  }
  EXPECT_EQ(cancel_blocking_call(id).error(), wsa::einval);
}

INSTANTIATE_TEST_SUITE_P(WakeMethods, CrossThread,
                         ::testing::Values(WakeMethod::eventfd, WakeMethod::uv_async),
                         [](const ::testing::TestParamInfo<WakeMethod>& p) {
                           return p.param == WakeMethod::eventfd ? "eventfd" : "uv_async";
                         });

}  // namespace
