// Runtime stop: outstanding calls return WSAENETDOWN, fibers unwind, run() returns.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;

TEST(Stop, EveryBlockedFiberSeesWsaenetdownAndRunReturns) {
  constexpr int kSleepers = 3000, kJoiners = 1000;
  RuntimeOptions options;
  options.stack_size = 16 * 1024;
  Runtime rt(options);
  std::atomic<int> netdown{0}, other{0}, blocked{0};
  ASSERT_OK(rt.spawn([&] {
    auto forever = spawn([&] {
      ++blocked;
      (this_fiber::sleep_for(24h).error() == wsa::enetdown ? netdown : other)++;
    });
    for (int i = 0; i < kSleepers - 1; ++i) {
      ASSERT_TRUE(spawn([&] {
                    ++blocked;
                    (this_fiber::sleep_for(24h).error() == wsa::enetdown ? netdown : other)++;
                  }).ok());
    }
    for (int i = 0; i < kJoiners; ++i) {
      ASSERT_TRUE(spawn([&, f = *forever] {
                    ++blocked;
                    (join(f).error() == wsa::enetdown ? netdown : other)++;
                  }).ok());
    }
  }));
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });
  while (blocked.load() < kSleepers + kJoiners) std::this_thread::sleep_for(1ms);
  rt.stop();
  runner.join();
  EXPECT_EQ(netdown.load() + other.load(), kSleepers + kJoiners);
  // A joiner may be released by its target's end rather than by the stop: both are correct
  // outcomes of the race, so only sleepers are counted exactly.
  EXPECT_GE(netdown.load(), kSleepers);
  EXPECT_EQ(rt.stats().fibers_alive, 0u);
}

TEST(Stop, FromInsideAFiber) {
  Runtime rt;
  Status sleeper_result;
  ASSERT_OK(rt.spawn([&] {
    auto s = spawn([&] { sleeper_result = this_fiber::sleep_for(1h); });
    this_fiber::yield();
    Runtime::current()->stop();
    (void)join(*s);
  }));
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(sleeper_result.error(), wsa::enetdown);
}

TEST(Stop, BlockingCallsWhileStoppingFailAtOnceButFibersUnwindNormally) {
  Runtime rt;
  Status first, cleanup;
  bool unwound = false;
  ASSERT_TRUE(rt.spawn([&] {
                  struct Cleanup {
                    Status& out;
                    bool& done;
                    ~Cleanup() {
                      out = this_fiber::sleep_for(
                          1ms);  // a destructor's blocking call: refused, not hung
                      done = true;
                    }
                  } c{cleanup, unwound};
                  first = this_fiber::sleep_for(1h);
                }).ok());
  ASSERT_TRUE(rt.spawn([] { Runtime::current()->stop(); }).ok());
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(first.error(), wsa::enetdown);
  EXPECT_EQ(cleanup.error(), wsa::enetdown);
  EXPECT_TRUE(unwound);
}

TEST(Stop, IsFinal) {
  Runtime rt;
  rt.stop();
  rt.stop();  // idempotent
  EXPECT_EQ(rt.spawn([] {}).error(), wsa::enetdown);
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(rt.run().error(), wsa::enetdown);
  EXPECT_EQ(rt.post([] {}).error(), wsa::enetdown);  // nothing would ever run it
}

TEST(Stop, CancelWhileStoppingReturnsWsaenetdown) {
  Runtime rt;
  Status reply, result;
  ASSERT_TRUE(rt.spawn([&] {
                  auto s = spawn([&] { result = this_fiber::sleep_for(1h); });
                  this_fiber::yield();
                  Runtime::current()->stop();
                  reply = cancel_blocking_call(*s);
                  (void)join(*s);
                }).ok());
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(reply.error(), wsa::enetdown);
  EXPECT_EQ(result.error(), wsa::enetdown);
}

TEST(Stop, CancelFromAnotherThreadWhileStoppingReturnsWsaenetdown) {
  Runtime rt;
  std::atomic<FiberId> sleeper{FiberId::none};
  std::atomic<bool> stop_called{false}, replied{false};
  Status result;
  ASSERT_TRUE(rt.spawn([&] {
                  sleeper = this_fiber::id();
                  result = this_fiber::sleep_for(1h);
                  // Keep the runtime in its stopping phase until the foreign cancel has replied.
                  while (!replied.load()) this_fiber::yield();
                }).ok());
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });
  while (sleeper.load() == FiberId::none) std::this_thread::yield();
  rt.stop();
  Status reply = cancel_blocking_call(sleeper.load());
  replied = true;
  runner.join();
  EXPECT_EQ(reply.error(), wsa::enetdown);
  EXPECT_EQ(result.error(), wsa::enetdown);
}

TEST(Stop, FibersQueuedBeforeRunStillRunAndSeeWsaenetdown) {
  Runtime rt;
  Status result;
  bool ran = false;
  std::thread([&] {
    ASSERT_TRUE(rt.spawn([&] {
                    ran = true;
                    result = this_fiber::sleep_for(1h);
                  }).ok());
  }).join();
  rt.stop();
  ASSERT_TRUE(rt.run().ok());
  EXPECT_TRUE(ran);
  EXPECT_EQ(result.error(), wsa::enetdown);
}

TEST(Stop, DestroyingARuntimeDiscardsFibersThatNeverRan) {
  std::weak_ptr<int> watch;
  {
    Runtime rt;
    auto owned = std::make_shared<int>(1);
    watch = owned;
    std::thread([&] { ASSERT_TRUE(rt.spawn([o = std::move(owned)] {}).ok()); }).join();
  }
  EXPECT_TRUE(watch.expired());  // the fiber's captures were destroyed, not leaked
}

}  // namespace
