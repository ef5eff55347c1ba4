// Channels and wait_any between fibers (semantics.md §8): the rows of the table of what a
// cancelled send, recv or wait_any leaves behind, the race rule both ways, order, close, the
// try_ forms, the buffer's growth, and wait_any's "exactly one" over channels, events, the end
// of a fiber and socket readiness. Across runtimes and with plain threads: coordination.cpp.
#include "coordination.hpp"

#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using test::cancelled_token;
using test::run_in_fiber;
using test::Waiting;
using test::yield_until;

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

}  // namespace
