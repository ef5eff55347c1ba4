// Coordination between fibers (semantics.md §8): each row of the table of what a cancelled
// wait leaves behind for the mutex, the condition variable, the semaphore, the event and the
// latch; the race rule both ways, no lost wake-up, FIFO with a cancelled middle waiter, the
// other rows (unlock by a non-owner, hooks, stop), and the primitives — channels and wait_any
// among them — across runtimes and with plain OS threads. Channels and wait_any on one
// runtime: channels.cpp.
#include "coordination.hpp"

#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using test::cancelled_token;
using test::run_in_fiber;
using test::Waiting;
using test::yield_until;

// --- Mutex -------------------------------------------------------------------------------

TEST(Mutex, ACancelledLockLeavesTheMutexAsIfNeverCalled) {
  run_in_fiber([] {
    Mutex m;
    ASSERT_TRUE(m.lock().ok());
    Waiting w;
    w.start([&] { return m.lock(); });
    ASSERT_TRUE(cancel_blocking_call(w.id).ok());
    w.finish();
    EXPECT_EQ(w.result, wsa::eintr);
    // Not the waiter's: the owner unlocks, and the mutex is free.
    ASSERT_TRUE(m.unlock().ok());
    EXPECT_TRUE(m.try_lock());
    ASSERT_TRUE(m.unlock().ok());
  });
}

TEST(Mutex, AnUnlockThatFindsItsWaiterCancelledGoesToTheNextOne) {
  run_in_fiber([] {
    Mutex m;
    ASSERT_TRUE(m.lock().ok());
    Waiting a, b;
    a.start([&] { return m.lock(); });
    b.start([&] { return m.lock(); });
    // The cancel fixes a's outcome first; the unlock then finds a cancelled and goes on to b.
    ASSERT_TRUE(cancel_blocking_call(a.id).ok());
    ASSERT_TRUE(m.unlock().ok());
    EXPECT_FALSE(m.try_lock()) << "the unlock gave the mutex away directly";
    a.finish();
    b.finish();
    EXPECT_EQ(a.result, wsa::eintr);
    EXPECT_FALSE(b.result) << b.result.message();
    // b owns it: b's fiber has ended holding it, so nobody else may unlock it.
    EXPECT_EQ(m.unlock().error(), wsa::einval);
  });
}

TEST(Mutex, AHandOverBeforeTheCancelWinsTheRace) {
  run_in_fiber([] {
    Mutex m;
    ASSERT_TRUE(m.lock().ok());
    bool owned_by_waiter = false;
    bool started = false;
    FiberId w = *spawn([&] {
      started = true;
      Status st = m.lock();
      owned_by_waiter = st.ok();
      if (st.ok()) (void)m.unlock();
    });
    yield_until(started);
    ASSERT_TRUE(m.unlock().ok());  // hands the mutex to w: its outcome is fixed
    // The cancel comes after: it has no effect, and the lock succeeds as if never cancelled.
    EXPECT_TRUE(cancel_blocking_call(w).ok());
    ASSERT_TRUE(join(w).ok());
    EXPECT_TRUE(owned_by_waiter);
    EXPECT_TRUE(m.try_lock());
    ASSERT_TRUE(m.unlock().ok());
  });
}

TEST(Mutex, WaitersAreServedInArrivalOrderAndACancelledOneLeavesItsPlace) {
  run_in_fiber([] {
    Mutex m;
    ASSERT_TRUE(m.lock().ok());
    std::vector<int> order;
    Waiting w[4];
    for (int i = 0; i < 4; ++i) {
      w[i].start([&m, &order, i] {
        Status st = m.lock();
        if (st.ok()) {
          order.push_back(i);
          (void)m.unlock();
        }
        return st;
      });
    }
    ASSERT_TRUE(cancel_blocking_call(w[1].id).ok());
    ASSERT_TRUE(m.unlock().ok());
    for (Waiting& x : w) x.finish();
    EXPECT_EQ(order, (std::vector<int>{0, 2, 3}));
    EXPECT_EQ(w[1].result, wsa::eintr);
  });
}

TEST(Mutex, MisuseIsAnErrorNotUndefinedBehaviour) {
  run_in_fiber([] {
    Mutex m;
    EXPECT_EQ(m.unlock().error(), wsa::einval);  // not locked
    ASSERT_TRUE(m.lock().ok());
    EXPECT_EQ(m.lock().error(), wsa::einval);  // not recursive
    EXPECT_FALSE(m.try_lock());
    bool checked = false;
    FiberId other = *spawn([&] {
      EXPECT_EQ(m.unlock().error(), wsa::einval);  // not the owner
      checked = true;
    });
    ASSERT_TRUE(join(other).ok());
    EXPECT_TRUE(checked);
    ASSERT_TRUE(m.unlock().ok());
  });
}

TEST(Mutex, ACancelledTokenFailsEvenAFreeMutexAndTakesNothing) {
  run_in_fiber([] {
    Mutex m;
    EXPECT_EQ(m.lock(cancelled_token()).error(), wsa::eintr);  // §7a: before trying
    EXPECT_TRUE(m.try_lock());
    ASSERT_TRUE(m.unlock().ok());
  });
}

TEST(Mutex, LockGuardUnlocksAndATokenDeadlineTimesTheLockOut) {
  run_in_fiber([] {
    Mutex m;
    {
      auto g = lock(m);
      ASSERT_TRUE(g.ok());
      EXPECT_EQ(g->mutex(), &m);
      EXPECT_FALSE(m.try_lock());
      CancelSource deadline(20ms);
      bool started = false;
      std::error_code r;
      FiberId w = *spawn([&] {
        started = true;
        r = m.lock(deadline.token()).error();
      });
      yield_until(started);
      ASSERT_TRUE(join(w).ok());
      EXPECT_EQ(r, wsa::etimedout);
    }
    EXPECT_TRUE(m.try_lock());  // the guard unlocked it
    ASSERT_TRUE(m.unlock().ok());
  });
}

// --- ConditionVariable -------------------------------------------------------------------

TEST(ConditionVariable, ACancelledWaitReturnsWithTheMutexHeldAgain) {
  run_in_fiber([] {
    Mutex m;
    ConditionVariable cv;
    bool held_after = false;
    Waiting w;
    w.start([&] {
      EXPECT_TRUE(m.lock().ok());
      Status st = cv.wait(m);
      held_after = !m.try_lock() && m.unlock().ok();
      return st;
    });
    // The waiter released m while it waits; take it, so its re-acquisition must wait for us.
    ASSERT_TRUE(m.lock().ok());
    ASSERT_TRUE(cancel_blocking_call(w.id).ok());
    this_fiber::yield();
    EXPECT_FALSE(w.done) << "it returned without m";
    // A cancel during the re-acquisition is shielded from: it does not end the wait.
    (void)cancel_blocking_call(w.id);
    this_fiber::yield();
    EXPECT_FALSE(w.done) << "it returned without m";
    ASSERT_TRUE(m.unlock().ok());
    w.finish();
    EXPECT_EQ(w.result, wsa::eintr);
    EXPECT_TRUE(held_after);
  });
}

TEST(ConditionVariable, ANotifyThatRacedACancelWakesAnotherWaiter) {
  run_in_fiber([] {
    Mutex m;
    ConditionVariable cv;
    Waiting a, b;
    for (Waiting* w : {&a, &b}) {
      w->start([&] {
        EXPECT_TRUE(m.lock().ok());
        Status st = cv.wait(m);
        EXPECT_TRUE(m.unlock().ok());
        return st;
      });
    }
    ASSERT_TRUE(cancel_blocking_call(a.id).ok());
    cv.notify_one();  // a is cancelled: b is notified
    a.finish();
    b.finish();
    EXPECT_EQ(a.result, wsa::eintr);
    EXPECT_FALSE(b.result) << b.result.message();
  });
}

TEST(ConditionVariable, WaitNeedsTheMutexAndNotifyAllWakesEveryWaiter) {
  run_in_fiber([] {
    Mutex m;
    ConditionVariable cv;
    EXPECT_EQ(cv.wait(m).error(), wsa::einval);  // m not held: nothing released
    Waiting w[3];
    for (Waiting& x : w) {
      x.start([&] {
        EXPECT_TRUE(m.lock().ok());
        Status st = cv.wait(m);
        EXPECT_TRUE(m.unlock().ok());
        return st;
      });
    }
    cv.notify_all();
    for (Waiting& x : w) {
      x.finish();
      EXPECT_FALSE(x.result) << x.result.message();
    }
  });
}

// --- Semaphore, Event, Latch ---------------------------------------------------------------

TEST(Semaphore, ACancelledAcquireLeavesTheCountAndAReleaseGoesToTheNextWaiter) {
  run_in_fiber([] {
    Semaphore s(0);
    Waiting a, b;
    a.start([&] { return s.acquire(); });
    b.start([&] { return s.acquire(); });
    ASSERT_TRUE(cancel_blocking_call(a.id).ok());
    s.release();  // a is cancelled: the permit goes to b
    a.finish();
    b.finish();
    EXPECT_EQ(a.result, wsa::eintr);
    EXPECT_FALSE(b.result);
    EXPECT_EQ(s.available(), 0u);
    s.release(2);
    EXPECT_EQ(s.available(), 2u);
    EXPECT_TRUE(s.try_acquire());
    EXPECT_EQ(s.available(), 1u);
  });
}

TEST(Event, AnAutomaticEventStaysSetIfItWasSetForNobodyElse) {
  run_in_fiber([] {
    Event e(Event::Reset::automatic);
    Waiting w;
    w.start([&] { return e.wait(); });
    ASSERT_TRUE(cancel_blocking_call(w.id).ok());
    e.set();  // its only waiter is cancelled: the signal stays
    w.finish();
    EXPECT_EQ(w.result, wsa::eintr);
    EXPECT_TRUE(e.is_set());
    EXPECT_TRUE(e.wait().ok());  // takes it
    EXPECT_FALSE(e.is_set());
  });
}

TEST(Event, AnAutomaticSetRacingACancelGoesToTheNextWaiter) {
  run_in_fiber([] {
    Event e(Event::Reset::automatic);
    Waiting a, b;
    a.start([&] { return e.wait(); });
    b.start([&] { return e.wait(); });
    ASSERT_TRUE(cancel_blocking_call(a.id).ok());
    e.set();
    a.finish();
    b.finish();
    EXPECT_EQ(a.result, wsa::eintr);
    EXPECT_FALSE(b.result);
    EXPECT_FALSE(e.is_set()) << "b took the signal";
  });
}

TEST(Event, AManualEventWakesEveryWaiterAndStaysSet) {
  run_in_fiber([] {
    Event e;
    Waiting w[3];
    for (Waiting& x : w) x.start([&] { return e.wait(); });
    e.set();
    for (Waiting& x : w) {
      x.finish();
      EXPECT_FALSE(x.result);
    }
    EXPECT_TRUE(e.is_set());
    EXPECT_TRUE(e.try_wait());
    EXPECT_TRUE(e.is_set());  // manual: waiting does not reset it
    e.reset();
    EXPECT_FALSE(e.try_wait());
  });
}

TEST(Latch, ACancelledWaitLeavesTheCount) {
  run_in_fiber([] {
    Latch l(2);
    Waiting a, b;
    a.start([&] { return l.wait(); });
    b.start([&] { return l.wait(); });
    ASSERT_TRUE(cancel_blocking_call(a.id).ok());
    l.count_down();
    EXPECT_FALSE(l.try_wait());
    l.count_down();
    a.finish();
    b.finish();
    EXPECT_EQ(a.result, wsa::eintr);
    EXPECT_FALSE(b.result);
    EXPECT_TRUE(l.try_wait());
    l.count_down(5);  // at most to zero
    EXPECT_TRUE(l.wait().ok());
  });
}

// --- the other rows ------------------------------------------------------------------------

TEST(Coordination, InsideABlockingHookEveryBlockingFormIsInProgressAndTryFormsWork) {
  run_in_fiber([] {
    Mutex m;
    Channel<int> ch(1);
    bool ran = false;
    set_blocking_hook([&] {
      if (ran) return false;
      ran = true;
      EXPECT_EQ(m.lock().error(), wsa::einprogress);  // even a free mutex
      EXPECT_EQ(ch.send(1).error(), wsa::einprogress);
      EXPECT_TRUE(m.try_lock());
      EXPECT_TRUE(m.unlock().ok());
      EXPECT_TRUE(ch.try_send(2).ok());
      return false;
    });
    (void)this_fiber::sleep_for(5ms);
    set_blocking_hook({});
    EXPECT_TRUE(ran);
    EXPECT_EQ(ch.try_recv().value_or(0), 2);
  });
}

TEST(Coordination, StopEndsEveryWaitWithNetDown) {
  Runtime rt;
  Mutex m;
  Channel<int> ch(0);
  std::error_code lock_result, recv_result;
  ASSERT_OK(rt.spawn([&] {
    ASSERT_TRUE(m.lock().ok());
    (void)this_fiber::sleep_for(1h);
  }));
  ASSERT_OK(rt.spawn([&] { lock_result = m.lock().error(); }));
  ASSERT_OK(rt.spawn([&] { recv_result = ch.recv().error(); }));
  ASSERT_OK(rt.spawn([&] {
    this_fiber::yield();
    rt.stop();
  }));
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(lock_result, wsa::enetdown);
  EXPECT_EQ(recv_result, wsa::enetdown);
}

TEST(Coordination, ARuntimeThreadOutsideAnyFiberCannotWait) {
  Runtime rt;
  Mutex m;
  std::error_code r;
  ASSERT_TRUE(rt.post([&] { r = m.lock().error(); }).ok());
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(r, wsa::einval);
}

// --- anywhere: across runtimes and with plain threads ----------------------------------

TEST(Anywhere, AChannelBetweenTwoRuntimesAndAPlainThread) {
  Channel<int> to_b(0), to_thread(4);
  constexpr int kRounds = 2000;
  Runtime a, b;
  ASSERT_OK(a.spawn([&] {
    for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(to_b.send(int(i)).ok());
    to_b.close();
  }));
  ASSERT_OK(b.spawn([&] {
    for (int i = 0; i < kRounds; ++i) {
      auto v = to_b.recv();
      ASSERT_TRUE(v.ok()) << v.error().message();
      ASSERT_EQ(*v, i);
      ASSERT_TRUE(to_thread.send(*v * 2).ok());
    }
    EXPECT_EQ(to_b.recv().error(), wsa::eshutdown);
    to_thread.close();
  }));
  std::thread ta([&] { EXPECT_TRUE(a.run().ok()); });
  std::thread tb([&] { EXPECT_TRUE(b.run().ok()); });
  long sum = 0;
  int count = 0;
  for (;;) {
    auto v = to_thread.recv();  // a plain thread: blocks the thread
    if (!v.ok()) {
      EXPECT_EQ(v.error(), wsa::eshutdown);
      break;
    }
    sum += *v;
    ++count;
  }
  ta.join();
  tb.join();
  EXPECT_EQ(count, kRounds);
  EXPECT_EQ(sum, long(kRounds) * (kRounds - 1));
}

TEST(Anywhere, AMutexSharedByAFiberAndAThreadAndAThreadsWaitIsCancellable) {
  Mutex m;
  Runtime rt;
  std::atomic<bool> fiber_holds{false};
  CancelSource release_fiber;
  ASSERT_OK(rt.spawn([&] {
    ASSERT_TRUE(m.lock().ok());
    fiber_holds = true;
    (void)this_fiber::sleep_for(1h, release_fiber.token());
    EXPECT_TRUE(m.unlock().ok());
  }));
  std::thread runner([&] { EXPECT_TRUE(rt.run().ok()); });
  while (!fiber_holds) std::this_thread::yield();
  // This thread waits on the fiber's mutex; a token cancelled from another thread ends it.
  CancelSource cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(20ms);
    cancel.cancel();
  });
  EXPECT_EQ(m.lock(cancel.token()).error(), wsa::eintr);
  canceller.join();
  // A deadline on a plain thread.
  EXPECT_EQ(m.lock(CancelSource(20ms).token()).error(), wsa::etimedout);
  // And then the hand-over from the fiber to this thread.
  std::thread releaser([&] { release_fiber.cancel(); });
  EXPECT_TRUE(m.lock().ok());
  EXPECT_TRUE(m.unlock().ok());
  releaser.join();
  runner.join();
}

TEST(Anywhere, JoinAndWaitAnyAcrossRuntimes) {
  Runtime a, b;
  CancelSource end;
  CancelToken t = end.token();
  FiberId far = *b.spawn([t] { (void)this_fiber::sleep_for(1h, t); });
  std::optional<std::size_t> which;
  ASSERT_OK(a.spawn([&] {
    Event never;
    auto r = wait_any({on_event(never), on_join(far)});
    if (r.ok()) which = *r;
  }));
  std::thread tb([&] { EXPECT_TRUE(b.run().ok()); });
  std::thread ta([&] { EXPECT_TRUE(a.run().ok()); });
  std::this_thread::sleep_for(20ms);
  end.cancel();
  ta.join();
  tb.join();
  EXPECT_EQ(which, 1u);
}

}  // namespace
