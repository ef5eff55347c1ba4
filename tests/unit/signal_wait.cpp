// signal_wait and SignalWatch: a fiber waits for a POSIX signal, delivered on the runtime's
// thread; a watch counts every delivery from its start to its end.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <optional>
#include <thread>

#include <unistd.h>

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

// The signal's disposition: whether a handler (libuv's) has replaced the default action.
bool handled(int signum) {
  struct sigaction now {};
  EXPECT_EQ(::sigaction(signum, nullptr, &now), 0);
  return now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN;
}

TEST(SignalWatch, DeliveriesWithNobodyWaitingAreCountedAndTakenByTheNextWait) {
  run_in_fiber([] {
    auto w = SignalWatch::start(SIGUSR1);
    ASSERT_OK(w);
    EXPECT_EQ(w->signum(), SIGUSR1);
    // raise() runs the handler before it returns: three deliveries, none merged.
    for (int i = 0; i < 3; ++i) ASSERT_EQ(::raise(SIGUSR1), 0);
    auto n = w->wait();
    ASSERT_OK(n);
    EXPECT_EQ(*n, 3u);
    // And a waiter is woken by the next one, from another thread.
    std::thread sender;
    auto waiter = spawn([&] {
      auto m = w->wait();
      ASSERT_OK(m);
      EXPECT_EQ(*m, 1u);
    });
    ASSERT_OK(waiter);
    this_fiber::yield();  // it waits
    sender = std::thread([] { ::kill(::getpid(), SIGUSR1); });
    EXPECT_TRUE(join(*waiter).ok());
    sender.join();
  });
}

// The gap signal_wait leaves between two waits is what a watch closes: a thread sends SIGUSR1
// (default action: end the process) as fast as it can while a fiber takes the deliveries in a
// loop. With any moment of the default action in between, this test's process would end.
TEST(SignalWatch, RapidDeliveriesNeverMeetTheDefaultAction) {
  run_in_fiber([] {
    auto w = SignalWatch::start(SIGUSR1);
    ASSERT_OK(w);
    CancelSource done;
    std::atomic<std::uint64_t> taken{0};
    auto taker = spawn([&] {
      for (;;) {
        auto n = w->wait(done.token());
        if (!n.ok()) {
          EXPECT_EQ(n.error(), wsa::eintr);
          return;
        }
        taken += *n;
        this_fiber::yield();  // a slow consumer: deliveries pile up between waits
      }
    });
    ASSERT_OK(taker);
    this_fiber::yield();
    std::thread sender([&] {
      for (int i = 0; i < 2000; ++i) ::kill(::getpid(), SIGUSR1);
      // The cancel only once a delivery has been taken: a cancel that reached the loop in
      // the same poll as the signals could otherwise end the wait first. (A hang guard of
      // 20 s, not a timing assertion.)
      for (int i = 0; i < 20'000 && taken.load() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      done.cancel();
    });
    EXPECT_TRUE(join(*taker).ok());
    sender.join();
    EXPECT_GE(taken.load(), 1u);
    EXPECT_LE(taken.load(), 2000u);  // the kernel merges a pending standard signal's deliveries
  });
}

TEST(SignalWatch, ADeliveryRacingACancelIsTakenByTheNextWait) {
  run_in_fiber([] {
    auto w = SignalWatch::start(SIGUSR2);
    ASSERT_OK(w);
    std::optional<Result<std::uint64_t>> first;
    auto waiter = spawn([&] { first = w->wait(); });
    ASSERT_OK(waiter);
    this_fiber::yield();  // it waits
    // The delivery reaches the loop only at its next turn; the cancel is fixed now, first.
    ASSERT_EQ(::raise(SIGUSR2), 0);
    ASSERT_TRUE(cancel_blocking_call(*waiter).ok());
    ASSERT_TRUE(join(*waiter).ok());
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->error(), wsa::eintr);
    auto next = w->wait();  // the cancelled wait's delivery, not lost
    ASSERT_OK(next);
    EXPECT_EQ(*next, 1u);
  });
}

TEST(SignalWatch, TheDefaultActionIsReplacedForTheWatchsLifeAndRestoredAfter) {
  ASSERT_FALSE(handled(SIGUSR2));
  run_in_fiber([] {
    {
      auto w = SignalWatch::start(SIGUSR2);
      ASSERT_OK(w);
      EXPECT_TRUE(handled(SIGUSR2));
      SignalWatch moved = std::move(*w);
      EXPECT_EQ(w->signum(), 0);
      EXPECT_EQ(w->wait().error(), wsa::einval);  // a moved-from watch is empty
      EXPECT_TRUE(handled(SIGUSR2));
    }
    EXPECT_FALSE(handled(SIGUSR2));  // destroyed on its runtime: watching stopped at once
    EXPECT_TRUE(SignalWatch::start(SIGUSR2).ok());
  });
  EXPECT_FALSE(handled(SIGUSR2));
}

TEST(SignalWatch, MisuseIsWsaeinval) {
  EXPECT_EQ(SignalWatch::start(SIGUSR1).error(), wsa::einval);  // not on a fiber
  SignalWatch empty;
  EXPECT_EQ(empty.wait().error(), wsa::einval);
  run_in_fiber([] {
    for (int bad : {0, SIGKILL, SIGSTOP, NSIG, -1}) {
      EXPECT_EQ(SignalWatch::start(bad).error(), wsa::einval) << bad;
    }
    auto w = SignalWatch::start(SIGUSR1);
    ASSERT_OK(w);
    // One waiter at a time.
    auto waiter = spawn([&] { EXPECT_EQ(w->wait().error(), wsa::eintr); });
    ASSERT_OK(waiter);
    this_fiber::yield();
    EXPECT_EQ(w->wait().error(), wsa::einval);
    ASSERT_TRUE(cancel_blocking_call(*waiter).ok());
    ASSERT_TRUE(join(*waiter).ok());
    // From a fiber of another runtime.
    Runtime other;
    std::error_code from_other;
    ASSERT_OK(other.spawn([&] { from_other = w->wait().error(); }));
    std::thread([&] { (void)other.run(); }).join();
    EXPECT_EQ(from_other, wsa::einval);
  });
}

// A watch that outlives its runtime answers WSAEINVAL; one destroyed on another thread keeps
// watching until its runtime ends, which closes it (ASan would see a leaked or freed handle).
TEST(SignalWatch, AWatchOutlivingItsRuntimeIsInvalidAndOneLeftToTheRuntimeIsClosedByIt) {
  std::optional<SignalWatch> outlives;
  {
    Runtime rt;
    ASSERT_OK(rt.spawn([&] {
      auto a = SignalWatch::start(SIGUSR1);
      ASSERT_OK(a);
      outlives.emplace(std::move(*a));
    }));
    ASSERT_TRUE(rt.run().ok());
    EXPECT_TRUE(handled(SIGUSR1));  // not on the runtime's thread: still watching
  }
  EXPECT_FALSE(handled(SIGUSR1));  // the runtime's end closed it
  run_in_fiber([&] { EXPECT_EQ(outlives->wait().error(), wsa::einval); });
  outlives.reset();
}

TEST(SignalWatch, StopEndsAWaitWithWsaenetdown) {
  run_in_fiber([] {
    auto w = SignalWatch::start(SIGUSR1);
    ASSERT_OK(w);
    auto waiter = spawn([&] { EXPECT_EQ(w->wait().error(), wsa::enetdown); });
    ASSERT_OK(waiter);
    this_fiber::yield();
    Runtime::current()->stop();
  });
}

}  // namespace
