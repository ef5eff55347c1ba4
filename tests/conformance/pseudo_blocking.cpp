// Pseudo-blocking (semantics.md §5): fiber messages and blocking hooks, Winsock's two
// situations for a cancel from the blocked fiber itself.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::run_in_fiber;

TEST(FiberMessage, RunsOnTheBlockedFiberDuringItsCall) {
  run_in_fiber([] {
    FiberId ran_on = FiberId::none;
    bool blocking_inside = false;
    Status sleep_result;
    auto sleeper = spawn([&] { sleep_result = this_fiber::sleep_for(50ms); });
    this_fiber::yield();
    ASSERT_TRUE(post(*sleeper, [&] {
                  ran_on = this_fiber::id();
                  blocking_inside = is_blocking();
                }).ok());
    ASSERT_TRUE(join(*sleeper).ok());
    EXPECT_EQ(ran_on, *sleeper);
    EXPECT_TRUE(blocking_inside);
    EXPECT_TRUE(sleep_result.ok());  // the message did not disturb the call
  });
}

TEST(FiberMessage, CancelFromAMessageCancelsTheCallItInterrupts) {
  run_in_fiber([] {
    Result<std::size_t> recv_result = wsa::einval;
    Address addr;
    test::Fd l = test::posix_listener(addr);
    auto s = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(connect(*s, addr).ok());
    test::Fd peer = test::posix_accept(l.get());
    auto reader = spawn([&] {
      char b[8];
      recv_result = recv(*s, b, sizeof b);
    });
    this_fiber::yield();
    Status from_message;
    ASSERT_TRUE(post(*reader, [&] { from_message = cancel_blocking_call(); }).ok());
    ASSERT_TRUE(join(*reader).ok());
    EXPECT_TRUE(from_message.ok());
    EXPECT_EQ(recv_result.error(), wsa::eintr);
    // Precise mode: the socket is intact.
    test::posix_send_all(peer.get(), "ok");
    char b[4];
    EXPECT_EQ(recv(*s, b, sizeof b).value_or(0), 2u);
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST(FiberMessage, FromAnotherThreadRunsDuringTheCall) {
  Runtime rt;
  std::atomic<FiberId> target{FiberId::none};
  std::atomic<bool> was_blocking{false};
  Status result;
  ASSERT_OK(rt.spawn([&] {
    target = this_fiber::id();
    result = this_fiber::sleep_for(1h);
  }));
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });
  while (target.load() == FiberId::none) std::this_thread::yield();
  ASSERT_TRUE(post(target.load(), [&] {
                was_blocking = is_blocking();
                EXPECT_TRUE(cancel_blocking_call().ok());
              }).ok());
  runner.join();
  EXPECT_EQ(result.error(), wsa::eintr);
  EXPECT_TRUE(was_blocking.load());
}

TEST(FiberMessage, ToAFiberThatIsNotBlockedRunsWhenItYields) {
  run_in_fiber([] {
    int order = 0, message_at = -1;
    auto worker = spawn([&] {
      order = 1;
      this_fiber::yield();
      order = 2;
    });
    ASSERT_TRUE(post(*worker, [&] {
                  message_at = order;
                  EXPECT_FALSE(is_blocking());  // not during a blocking call
                }).ok());
    ASSERT_TRUE(join(*worker).ok());
    EXPECT_EQ(message_at, 1);
  });
}

TEST(FiberMessage, ToAnEndedOrUnknownFiberIsInvalid) {
  run_in_fiber([] {
    auto f = spawn([] {});
    ASSERT_TRUE(join(*f).ok());
    EXPECT_EQ(post(*f, [] {}).error(), wsa::einval);
    EXPECT_EQ(post(FiberId::none, [] {}).error(), wsa::einval);
  });
}

TEST(FiberMessage, BlockingCallsInsideAMessageReturnWsaeinprogress) {
  run_in_fiber([] {
    Status inner_sleep;
    Result<Socket> inner_socket = wsa::einval;
    auto sleeper = spawn([&] { (void)this_fiber::sleep_for(20ms); });
    this_fiber::yield();
    ASSERT_TRUE(post(*sleeper, [&] {
                  inner_sleep = this_fiber::sleep_for(1ms);
                  inner_socket = socket(AF_INET, SOCK_DGRAM);  // non-blocking calls are fine
                }).ok());
    ASSERT_TRUE(join(*sleeper).ok());
    EXPECT_EQ(inner_sleep.error(), wsa::einprogress);
    ASSERT_TRUE(inner_socket.ok());
    EXPECT_TRUE(close(*inner_socket).ok());
  });
}

TEST(BlockingHook, RunsWhenTheCallBlocksAndAtItsInterval) {
  RuntimeOptions options;
  options.blocking_hook_interval = 5ms;
  run_in_fiber(
      [] {
        int calls = 0;
        bool inside = false;
        (void)set_blocking_hook([&] {
          ++calls;
          inside = is_blocking();
          return false;
        });
        auto t0 = std::chrono::steady_clock::now();
        ASSERT_TRUE(this_fiber::sleep_for(60ms).ok());
        auto elapsed = std::chrono::steady_clock::now() - t0;
        (void)set_blocking_hook({});
        EXPECT_TRUE(inside);
        // Once at block start, then at most once per 5 ms interval: never a busy loop.
        EXPECT_GE(calls, 2);
        EXPECT_LE(calls, elapsed / 5ms + 2);
      },
      options);
}

TEST(BlockingHook, ACancelFromTheHookEndsTheCallWithWsaeintr) {
  run_in_fiber([] {
    int seen = 0;
    (void)set_blocking_hook([&] {
      if (++seen == 1) {
        EXPECT_TRUE(cancel_blocking_call().ok());
      }
      return false;
    });
    EXPECT_EQ(this_fiber::sleep_for(1h).error(), wsa::eintr);
    // The hook did not cancel the next call: the request is per call.
    EXPECT_TRUE(this_fiber::sleep_for(1ms).ok());
    (void)set_blocking_hook({});
  });
}

TEST(BlockingHook, AHookThatProcessedSomethingIsCalledAgainUntilIdle) {
  run_in_fiber([] {
    int backlog = 3, calls = 0;
    (void)set_blocking_hook([&] {
      ++calls;
      if (backlog == 0) return false;
      --backlog;
      return true;
    });
    ASSERT_TRUE(this_fiber::sleep_for(1ms).ok());
    (void)set_blocking_hook({});
    EXPECT_EQ(backlog, 0);
    EXPECT_GE(calls, 4);
  });
}

TEST(BlockingHook, SetReturnsThePreviousHook) {
  run_in_fiber([] {
    int which = 0;
    EXPECT_FALSE(set_blocking_hook([&] {
      which = 1;
      return false;
    }));
    BlockingHook previous = set_blocking_hook({});
    ASSERT_TRUE(previous);
    (void)previous();
    EXPECT_EQ(which, 1);
  });
}

// A blocking call looks at the hook and the messages only while a hint says either may be
// there; the hint clears when both are empty and is set again by the next message.
TEST(BlockingHook, ARemovedHookNoLongerRunsAndALaterMessageStillDoes) {
  run_in_fiber([] {
    int hook_runs = 0;
    FiberId ran_on = FiberId::none;
    bool blocking_inside = false;
    Status first, second;
    auto f = spawn([&] {
      (void)set_blocking_hook([&] {
        ++hook_runs;
        return false;
      });
      (void)set_blocking_hook({});
      first = this_fiber::sleep_for(24h);
      second = this_fiber::sleep_for(24h);
    });
    this_fiber::yield();  // f is blocked in its first sleep, without a hook
    ASSERT_TRUE(cancel_blocking_call(*f).ok());
    this_fiber::yield();  // f is blocked in its second sleep
    ASSERT_TRUE(post(*f, [&] {
                  ran_on = this_fiber::id();
                  blocking_inside = is_blocking();
                }).ok());
    this_fiber::yield();  // the message runs inside the second sleep, which goes on
    EXPECT_EQ(ran_on, *f);
    EXPECT_TRUE(blocking_inside);
    ASSERT_TRUE(cancel_blocking_call(*f).ok());
    ASSERT_TRUE(join(*f).ok());
    EXPECT_EQ(hook_runs, 0);
    EXPECT_EQ(first.error(), wsa::eintr);
    EXPECT_EQ(second.error(), wsa::eintr);
  });
}

TEST(BlockingCallback, KeepsWaitingUntilTheHookCancels) {
  run_in_fiber([] {
    int rounds = 0;
    (void)set_blocking_hook([&] {
      if (++rounds == 3) (void)cancel_blocking_call();
      return false;
    });
    int waits = 0;
    for (;;) {
      auto keep = blocking_callback();
      ASSERT_TRUE(keep.ok());
      if (!*keep) break;
      ++waits;
    }
    EXPECT_EQ(waits, 2);
    (void)set_blocking_hook({});
    EXPECT_FALSE(is_blocking());
  });
}

TEST(BlockingCallback, OutsideAFiberIsInvalid) {
  EXPECT_EQ(blocking_callback().error(), wsa::einval);
}

TEST(IsBlocking, IsFalseInOrdinaryFiberCode) {
  run_in_fiber([] { EXPECT_FALSE(is_blocking()); });
  EXPECT_FALSE(is_blocking());
  EXPECT_EQ(cancel_blocking_call().error(), wsa::einval);  // outside any fiber
}

}  // namespace
