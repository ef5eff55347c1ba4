// signal_wait: a fiber waits for a POSIX signal, delivered on the runtime's thread.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <csignal>

namespace {

using namespace weft;
using weft::test::run_in_fiber;

TEST(SignalWait, ReturnsWhenTheSignalArrives) {
  run_in_fiber([] {
    Status waited = wsa::einval;
    auto waiter = spawn([&] { waited = signal_wait(SIGUSR1); });
    this_fiber::yield();  // it waits
    ASSERT_EQ(::raise(SIGUSR1), 0);
    ASSERT_TRUE(join(*waiter).ok());
    EXPECT_TRUE(waited.ok());
  });
}

TEST(SignalWait, ACancelledWaitReturnsWsaeintr) {
  run_in_fiber([] {
    Status waited;
    auto waiter = spawn([&] { waited = signal_wait(SIGUSR2); });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*waiter).ok());
    ASSERT_TRUE(join(*waiter).ok());
    EXPECT_EQ(waited.error(), wsa::eintr);
  });
}

TEST(SignalWait, BadSignalsAndCallsOutsideAFiberAreInvalid) {
  EXPECT_EQ(signal_wait(SIGUSR1).error(), wsa::einval);
  run_in_fiber([] {
    EXPECT_EQ(signal_wait(0).error(), wsa::einval);
    EXPECT_EQ(signal_wait(SIGKILL).error(), wsa::einval);
    EXPECT_EQ(signal_wait(SIGSTOP).error(), wsa::einval);
    EXPECT_EQ(signal_wait(100000).error(), wsa::einval);
  });
}

}  // namespace
