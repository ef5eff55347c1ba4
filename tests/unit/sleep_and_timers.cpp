// Sleeping fibers: ordering by due time, non-blocking zero sleeps, scale, and cancel of sleep.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::run_in_fiber;
using Clock = std::chrono::steady_clock;

TEST(Sleep, FibersWakeInDueTimeOrder) {
  std::vector<int> order;
  run_in_fiber([&] {
    auto base = Clock::now();
    const int due_ms[] = {30, 10, 20, 0, 25};
    std::vector<FiberId> ids;
    for (int i = 0; i < 5; ++i) {
      ids.push_back(*spawn([&, i, when = base + std::chrono::milliseconds(due_ms[i])] {
        ASSERT_TRUE(this_fiber::sleep_until(when).ok());
        order.push_back(due_ms[i]);
      }));
    }
    for (FiberId id : ids) ASSERT_TRUE(join(id).ok());
  });
  EXPECT_EQ(order, (std::vector<int>{0, 10, 20, 25, 30}));
}

TEST(Sleep, ReturnsNoEarlierThanItsDeadline) {
  run_in_fiber([] {
    auto deadline = Clock::now() + 20ms;
    ASSERT_TRUE(this_fiber::sleep_until(deadline).ok());
    EXPECT_GE(Clock::now(), deadline);
  });
}

TEST(Sleep, ZeroOrPastNeverSuspends) {
  run_in_fiber([] {
    bool other_ran = false;
    auto id = spawn([&] { other_ran = true; });
    ASSERT_TRUE(this_fiber::sleep_for(0ns).ok());
    ASSERT_TRUE(this_fiber::sleep_for(-5ms).ok());
    ASSERT_TRUE(this_fiber::sleep_until(Clock::now() - 1s).ok());
    EXPECT_FALSE(other_ran);  // the caller never gave up the thread
    ASSERT_TRUE(join(*id).ok());
  });
}

TEST(Sleep, OutsideAFiberIsInvalid) { EXPECT_EQ(this_fiber::sleep_for(1ms).error(), wsa::einval); }

TEST(Sleep, AHundredThousandFibersSleepAtOnce) {
  constexpr int kFibers = 100'000;
  int woke = 0;
  std::uint64_t max_alive = 0;
  RuntimeOptions options;
  options.stack_size = 16 * 1024;
  Runtime rt(options);
  ASSERT_OK(rt.spawn([&] {
    auto wake_at = Clock::now() + 200ms;
    for (int i = 0; i < kFibers; ++i) {
      auto id = spawn([&, wake_at] {
        if (this_fiber::sleep_until(wake_at).ok()) ++woke;
      });
      ASSERT_TRUE(id.ok()) << "fiber " << i << ": " << id.error().message();
    }
    max_alive = Runtime::current()->stats().fibers_alive;
  }));
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(max_alive, static_cast<std::uint64_t>(kFibers) + 1);
  EXPECT_EQ(woke, kFibers);
  EXPECT_EQ(rt.stats().fibers_alive, 0u);
}

TEST(SleepCancel, ACancelledSleepReturnsWsaeintrAtOnce) {
  run_in_fiber([] {
    Status result;
    auto sleeper = spawn([&] { result = this_fiber::sleep_for(1h); });
    this_fiber::yield();  // let it block
    EXPECT_TRUE(cancel_blocking_call(*sleeper).ok());
    ASSERT_TRUE(join(*sleeper).ok());
    EXPECT_EQ(result.error(), wsa::eintr);
  });
}

TEST(SleepCancel, RepeatedCancelOfOneCallHasNoFurtherEffect) {
  run_in_fiber([] {
    Status first, second;
    auto sleeper = spawn([&] {
      first = this_fiber::sleep_for(1h);
      second = this_fiber::sleep_for(1ms);
    });
    this_fiber::yield();
    EXPECT_TRUE(cancel_blocking_call(*sleeper).ok());
    EXPECT_TRUE(cancel_blocking_call(*sleeper).ok());
    EXPECT_TRUE(cancel_blocking_call(*sleeper).ok());
    ASSERT_TRUE(join(*sleeper).ok());
    EXPECT_EQ(first.error(), wsa::eintr);
    EXPECT_TRUE(second.ok());  // the request was per call
  });
}

TEST(SleepCancel, CancelOfAFiberWithNoOutstandingCallIsInvalidAndNotSticky) {
  run_in_fiber([] {
    Status later;
    auto target = spawn([&] { later = this_fiber::sleep_for(5ms); });
    // Ready but not yet running: no outstanding call.
    EXPECT_EQ(cancel_blocking_call(*target).error(), wsa::einval);
    // Itself, running: no outstanding call either.
    EXPECT_EQ(cancel_blocking_call(this_fiber::id()).error(), wsa::einval);
    ASSERT_TRUE(join(*target).ok());
    EXPECT_TRUE(later.ok());  // the refused cancel left nothing behind
    // Ended and unknown ids.
    EXPECT_EQ(cancel_blocking_call(*target).error(), wsa::einval);
    EXPECT_EQ(cancel_blocking_call(FiberId::none).error(), wsa::einval);
  });
}

TEST(SleepCancel, CancelAfterCompletionReturnsZeroAndTheCallSucceeds) {
  run_in_fiber([] {
    Status result;
    // Equal due times fire in the order they were armed: ours first, then the sleeper's, in
    // one pass. So when we run again, the sleeper's outcome is already fixed by completion
    // and the sleeper has not resumed yet. (The margin only has to cover the sleeper's start.)
    auto due = Clock::now() + 50ms;
    auto sleeper = spawn([&] { result = this_fiber::sleep_until(due); });
    ASSERT_TRUE(this_fiber::sleep_until(due).ok());
    EXPECT_TRUE(cancel_blocking_call(*sleeper).ok());  // found completed: 0
    ASSERT_TRUE(join(*sleeper).ok());
    EXPECT_TRUE(result.ok());  // as if cancel had never been called
  });
}

TEST(JoinCancel, ACancelledJoinReturnsWsaeintrAndTheTargetRunsOn) {
  run_in_fiber([] {
    bool target_finished = false;
    auto target = spawn([&] {
      ASSERT_TRUE(this_fiber::sleep_for(20ms).ok());
      target_finished = true;
    });
    Status first;
    auto joiner = spawn([&] { first = join(*target); });
    this_fiber::yield();
    EXPECT_TRUE(cancel_blocking_call(*joiner).ok());
    ASSERT_TRUE(join(*joiner).ok());
    EXPECT_EQ(first.error(), wsa::eintr);
    EXPECT_FALSE(target_finished);
    EXPECT_TRUE(join(*target).ok());  // join may be called again
    EXPECT_TRUE(target_finished);
  });
}

}  // namespace
