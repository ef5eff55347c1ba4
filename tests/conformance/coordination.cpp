// Coordination between fibers (semantics.md §8): each row of the table of what a cancelled
// wait leaves behind, the race rule both ways, no lost wake-up, FIFO with a cancelled middle
// waiter, the other rows (unlock by a non-owner, close, try_ forms, hooks), wait_any's
// "exactly one", and the primitives across runtimes and with plain OS threads.
//
// Fibers of one runtime take turns on one thread, so a test knows a waiter is parked: a fiber
// that sets `started` and then calls a blocking form hands the thread back only by parking
// (or ending); a test that has seen `started` after yielding sees it parked.
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
using test::run_in_fiber;

// Yields until `flag` is set (a guard against a hang, not a timing assertion).
void yield_until(const bool& flag) {
  for (int i = 0; i < 1000000 && !flag; ++i) this_fiber::yield();
  ASSERT_TRUE(flag);
}

// A fiber that runs `call` and records what it returned; `started` once it is about to call.
struct Waiting {
  bool started = false;
  bool done = false;
  std::error_code result;
  FiberId id = FiberId::none;

  template <class Call>
  void start(Call call) {
    id = *spawn([this, call]() mutable {
      started = true;
      result = call().error();
      done = true;
    });
    yield_until(started);
    ASSERT_FALSE(done) << "the call did not wait";
  }
  void finish() {
    ASSERT_TRUE(join(id).ok());
    ASSERT_TRUE(done);
  }
};

CancelToken cancelled_token() {
  CancelSource s;
  s.cancel();
  return s.token();
}

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

// --- Channel -------------------------------------------------------------------------------

TEST(Channel, ACancelledSendLeavesTheValueWithTheCaller) {
  run_in_fiber([] {
    Channel<std::unique_ptr<std::string>> ch(0);  // rendezvous: a send waits for a receiver
    auto value = std::make_unique<std::string>("kept");
    Waiting w;
    w.start([&] { return ch.send(std::move(value)); });
    ASSERT_TRUE(cancel_blocking_call(w.id).ok());
    w.finish();
    EXPECT_EQ(w.result, wsa::eintr);
    ASSERT_TRUE(value) << "the value was moved from";
    EXPECT_EQ(*value, "kept");
    EXPECT_EQ(ch.size(), 0u);
    EXPECT_EQ(ch.try_recv().error(), wsa::ewouldblock);  // nothing was enqueued
  });
}

TEST(Channel, ACancelledRecvTakesNothingAndTheValueStaysForTheNextReceiver) {
  run_in_fiber([] {
    Channel<int> ch(1);
    Waiting w;
    w.start([&] { return ch.recv(); });
    ASSERT_TRUE(cancel_blocking_call(w.id).ok());
    ASSERT_TRUE(ch.send(7).ok());  // the receiver is cancelled: the value is buffered
    w.finish();
    EXPECT_EQ(w.result, wsa::eintr);
    EXPECT_EQ(ch.size(), 1u);
    EXPECT_EQ(ch.recv().value_or(0), 7);
  });
}

TEST(Channel, AValueDeliveredBeforeTheCancelIsTheRecvsResult) {
  run_in_fiber([] {
    Channel<int> ch(0);
    std::optional<int> got;
    bool started = false;
    FiberId r = *spawn([&] {
      started = true;
      auto v = ch.recv();
      if (v.ok()) got = *v;
    });
    yield_until(started);
    ASSERT_TRUE(ch.send(42).ok());  // handed to the waiting receiver
    EXPECT_TRUE(cancel_blocking_call(r).ok());
    ASSERT_TRUE(join(r).ok());
    EXPECT_EQ(got, 42);
  });
}

TEST(Channel, SendersAndReceiversAreServedInOrder) {
  run_in_fiber([] {
    Channel<int> ch(0);
    std::vector<int> got;
    Waiting r[3];
    for (Waiting& x : r) {
      x.start([&] {
        auto v = ch.recv();
        if (v.ok()) got.push_back(*v);
        return v.ok() ? Status() : Status(v.error());
      });
    }
    ASSERT_TRUE(cancel_blocking_call(r[1].id).ok());
    ASSERT_TRUE(ch.send(1).ok());
    ASSERT_TRUE(ch.send(2).ok());
    for (Waiting& x : r) x.finish();
    EXPECT_EQ(r[1].result, wsa::eintr);
    EXPECT_EQ(got, (std::vector<int>{1, 2}));  // r[0] took 1, r[2] took 2
  });
}

TEST(Channel, CloseFailsSendersWithTheirValuesAndReceiversDrainFirst) {
  run_in_fiber([] {
    Channel<std::string> ch(2);
    ASSERT_TRUE(ch.send("a").ok());
    ASSERT_TRUE(ch.send("b").ok());
    std::string waiting_value = "c";
    Waiting w;
    w.start([&] { return ch.send(std::move(waiting_value)); });
    ch.close();
    w.finish();
    EXPECT_EQ(w.result, wsa::eshutdown);
    EXPECT_EQ(waiting_value, "c");
    EXPECT_TRUE(ch.closed());
    std::string later = "d";
    EXPECT_EQ(ch.send(std::move(later)).error(), wsa::eshutdown);
    EXPECT_EQ(later, "d");
    EXPECT_EQ(ch.try_send("e").error(), wsa::eshutdown);
    EXPECT_EQ(ch.recv().value_or(""), "a");
    EXPECT_EQ(ch.try_recv().value_or(""), "b");
    EXPECT_EQ(ch.recv().error(), wsa::eshutdown);
    EXPECT_EQ(ch.try_recv().error(), wsa::eshutdown);
  });
}

TEST(Channel, CloseEndsAWaitingReceiver) {
  run_in_fiber([] {
    Channel<int> ch(4);
    Waiting w;
    w.start([&] { return ch.recv(); });
    ch.close();
    w.finish();
    EXPECT_EQ(w.result, wsa::eshutdown);
  });
}

TEST(Channel, TryFormsNeverWaitAndARendezvousTryNeedsACounterpart) {
  run_in_fiber([] {
    Channel<int> ch(0);
    EXPECT_EQ(ch.try_send(1).error(), wsa::ewouldblock);
    EXPECT_EQ(ch.try_recv().error(), wsa::ewouldblock);
    Waiting w;
    w.start([&] { return ch.recv(); });
    EXPECT_TRUE(ch.try_send(5).ok());  // a receiver waits
    w.finish();
    EXPECT_FALSE(w.result);
    Channel<int> bounded(1);
    EXPECT_TRUE(bounded.try_send(1).ok());
    EXPECT_EQ(bounded.try_send(2).error(), wsa::ewouldblock);
    EXPECT_EQ(bounded.size(), 1u);
    Channel<int> unbounded_ch(unbounded);
    for (int i = 0; i < 10000; ++i) ASSERT_TRUE(unbounded_ch.try_send(int(i)).ok());
    EXPECT_EQ(unbounded_ch.size(), 10000u);
  });
}

TEST(Channel, ABlockedSenderRefillsTheBufferWhenAReceiverMakesRoom) {
  run_in_fiber([] {
    Channel<int> ch(1);
    ASSERT_TRUE(ch.send(1).ok());
    Waiting w;
    w.start([&] { return ch.send(2); });
    EXPECT_EQ(ch.recv().value_or(0), 1);
    w.finish();
    EXPECT_FALSE(w.result);
    EXPECT_EQ(ch.size(), 1u);
    EXPECT_EQ(ch.recv().value_or(0), 2);
  });
}

// The buffer is a ring that grows when full and, once large, shrinks as it drains: values keep
// their order and each is moved out exactly once across every growth, every shrink and every
// wrap-around; what is still buffered when the last handle goes is destroyed (ASan's leak
// check holds the test to that).
TEST(Channel, ValuesKeepTheirOrderThroughTheBuffersGrowthShrinkingAndWrapAround) {
  run_in_fiber([] {
    Channel<std::unique_ptr<int>> ch(unbounded);
    int sent = 0, received = 0;
    auto send = [&] {
      auto v = std::make_unique<int>(sent);
      ASSERT_TRUE(ch.send(std::move(v)).ok());
      ASSERT_EQ(v, nullptr);  // moved from only on success
      ++sent;
    };
    auto recv = [&] {
      Result<std::unique_ptr<int>> v = ch.recv();
      ASSERT_TRUE(v.ok());
      ASSERT_NE(*v, nullptr);
      ASSERT_EQ(**v, received);
      ++received;
    };
    // Three in, one out: the ring wraps at every size it grows through, up to 20,000 held.
    while (sent < 30000) {
      send();
      send();
      send();
      recv();
    }
    EXPECT_EQ(ch.size(), 20000u);
    // Drain to a few (the ring shrinks on the way), then wrap the smaller ring again.
    while (sent - received > 10) recv();
    for (int i = 0; i < 5000; ++i) {
      send();
      recv();
    }
    EXPECT_EQ(ch.size(), 10u);
    while (received < sent) recv();
    EXPECT_EQ(ch.try_recv().error(), wsa::ewouldblock);
    // A bounded channel wraps in place; values left in it are freed with it.
    Channel<std::string> small(5);
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(small.try_send(std::string(40, static_cast<char>('a' + i % 26))).ok());
      if (i >= 4) {
        Result<std::string> s = small.try_recv();
        ASSERT_TRUE(s.ok());
        EXPECT_EQ(*s, std::string(40, static_cast<char>('a' + (i - 4) % 26)));
      }
    }
    EXPECT_EQ(small.size(), 4u);
    for (int i = 0; i < 100; ++i) send();  // left in `ch` for its destructor
  });
}

// --- wait_any ------------------------------------------------------------------------------

TEST(WaitAny, PerformsExactlyOneTheFirstInArgumentOrder) {
  run_in_fiber([] {
    Channel<int> a(1), b(1);
    ASSERT_TRUE(a.send(1).ok());
    ASSERT_TRUE(b.send(2).ok());
    std::optional<int> x, y;
    auto which = wait_any({on_recv(a, x), on_recv(b, y)});
    ASSERT_TRUE(which.ok());
    EXPECT_EQ(*which, 0u);
    EXPECT_EQ(x, 1);
    EXPECT_FALSE(y);
    EXPECT_EQ(b.size(), 1u);  // b's value was not taken
  });
}

TEST(WaitAny, OnlyTheOperationThatCompletedIsPerformed) {
  run_in_fiber([] {
    Channel<std::string> jobs(0);
    Event quit(Event::Reset::automatic);
    Semaphore permits(0);
    std::optional<std::string> job;
    std::optional<std::size_t> which;
    bool started = false;
    FiberId w = *spawn([&] {
      started = true;
      auto r = wait_any({on_recv(jobs, job), on_event(quit), on_acquire(permits)});
      if (r.ok()) which = *r;
    });
    yield_until(started);
    quit.set();
    permits.release();  // after the wait_any completed: stays for someone else
    ASSERT_TRUE(join(w).ok());
    EXPECT_EQ(which, 1u);
    EXPECT_FALSE(job);
    EXPECT_FALSE(quit.is_set()) << "the automatic event's signal was taken";
    EXPECT_EQ(permits.available(), 1u);
    EXPECT_EQ(jobs.try_send("later").error(), wsa::ewouldblock) << "no receiver is left";
  });
}

TEST(WaitAny, AnOnSendNotPerformedLeavesTheValue) {
  run_in_fiber([] {
    Channel<std::string> out(0);
    Event go;
    go.set();
    std::string value = "mine";
    auto which = wait_any({on_send(out, value), on_event(go)});
    ASSERT_TRUE(which.ok());
    EXPECT_EQ(*which, 1u);
    EXPECT_EQ(value, "mine");
  });
}

TEST(WaitAny, ACancelledWaitAnyPerformedNothing) {
  run_in_fiber([] {
    Channel<int> a(0);
    Semaphore s(0);
    std::optional<int> x;
    CancelSource deadline(20ms);
    auto which = wait_any({on_recv(a, x), on_acquire(s)}, deadline.token());
    EXPECT_EQ(which.error(), wsa::etimedout);
    // Nothing is left linked: a value sent now is for a later receiver, not the dead one.
    EXPECT_EQ(a.try_send(1).error(), wsa::ewouldblock);
    s.release();
    EXPECT_EQ(s.available(), 1u);
  });
}

TEST(WaitAny, ASendToAWaitingWaitAnyReceiverGoesToExactlyOneOfItsOperations) {
  run_in_fiber([] {
    Channel<int> a(0), b(0);
    std::optional<int> x, y;
    std::optional<std::size_t> which;
    bool started = false;
    FiberId w = *spawn([&] {
      started = true;
      auto r = wait_any({on_recv(a, x), on_recv(b, y)});
      if (r.ok()) which = *r;
    });
    yield_until(started);
    ASSERT_TRUE(b.send(9).ok());
    // The wait_any completed with b: it no longer waits on a.
    EXPECT_EQ(a.try_send(1).error(), wsa::ewouldblock);
    ASSERT_TRUE(join(w).ok());
    EXPECT_EQ(which, 1u);
    EXPECT_EQ(y, 9);
    EXPECT_FALSE(x);
  });
}

TEST(WaitAny, TheEndOfAFiberAndSocketReadiness) {
  run_in_fiber([] {
    FiberId sleeper = *spawn([] { (void)this_fiber::sleep_for(10ms); });
    Event never;
    auto which = wait_any({on_event(never), on_join(sleeper)});
    ASSERT_TRUE(which.ok()) << which.error().message();
    EXPECT_EQ(*which, 1u);

    auto l = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(*l, 4).ok());
    Address at = *local_address(*l);
    auto c = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(connect(*c, at).ok());
    auto s = accept(*l);
    ASSERT_TRUE(s.ok());
    FiberId writer = *spawn([&] {
      (void)this_fiber::sleep_for(10ms);
      (void)send(*c, "x", 1);
    });
    which = wait_any({on_event(never), on_readable(*s)});
    ASSERT_TRUE(which.ok()) << which.error().message();
    EXPECT_EQ(*which, 1u);
    char b[4];
    EXPECT_EQ(recv(*s, b, sizeof b).value_or(0), 1u);  // the byte was observed, not consumed
    ASSERT_TRUE(join(writer).ok());
    which = wait_any({on_writable(*s)});
    EXPECT_EQ(which.value_or(9), 0u);
    for (Socket x : {*l, *c, *s}) (void)close(x);
  });
}

TEST(WaitAny, BadArguments) {
  run_in_fiber([] {
    EXPECT_EQ(wait_any({}).error(), wsa::einval);
    EXPECT_EQ(wait_any({on_join(FiberId::none)}).error(), wsa::einval);
    EXPECT_EQ(wait_any({on_readable(static_cast<Socket>(12345))}).error(), wsa::enotsock);
  });
  // Off a fiber: readiness and joins need one.
  EXPECT_EQ(wait_any({on_readable(static_cast<Socket>(1))}).error(), wsa::einval);
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
