// The scheduler's run queue (runtime/run_queue.hpp): FIFO order, peeking ahead, growth while
// the ring has wrapped and erasure, checked against a reference model; and, through a
// runtime, that fibers readied by one cancel run once each, oldest registration first, and
// that a fiber queued while it runs and then ending leaves the queue.
#include "run_queue.hpp"

#include "../support/peer.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>
#include <vector>

namespace {

using weft::detail::Fiber;
using weft::detail::RunQueue;
using namespace std::chrono_literals;

// Distinct fake pointers: the queue never dereferences what it holds.
Fiber* fake(std::size_t i) { return reinterpret_cast<Fiber*>(0x1000 + 64 * i); }

// Checks q holds model's entries in order (peeking), then drains both, comparing.
void expect_same_then_drain(RunQueue& q, std::deque<Fiber*>& model) {
  ASSERT_EQ(q.size(), model.size());
  for (std::size_t i = 0; i < model.size(); ++i) ASSERT_EQ(q.peek(i), model[i]);
  while (!model.empty()) {
    ASSERT_EQ(q.pop_front(), model.front());
    model.pop_front();
  }
  EXPECT_TRUE(q.empty());
}

TEST(RunQueue, PopsInPushOrderAndPeeksAhead) {
  RunQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop_front(), nullptr);
  EXPECT_EQ(q.peek(0), nullptr);
  ASSERT_TRUE(q.reserve(3));
  for (std::size_t i = 0; i < 3; ++i) q.push_back(fake(i));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.peek(0), fake(0));
  EXPECT_EQ(q.peek(2), fake(2));
  EXPECT_EQ(q.peek(3), nullptr);  // past the back
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(q.pop_front(), fake(i));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop_front(), nullptr);
}

TEST(RunQueue, GrowingAWrappedRingKeepsTheOrder) {
  RunQueue q;
  ASSERT_TRUE(q.reserve(64));
  std::deque<Fiber*> model;
  std::size_t next = 0;
  // Wrap the ring: its front is near the end of the array when it grows.
  for (int round = 0; round < 100; ++round) {
    q.push_back(fake(next));
    model.push_back(fake(next++));
    if (model.size() > 50) {
      EXPECT_EQ(q.pop_front(), model.front());
      model.pop_front();
    }
  }
  // Grows twice with entries on both sides of the wrap.
  ASSERT_TRUE(q.reserve(model.size() + 200));
  for (int i = 0; i < 200; ++i) {
    q.push_back(fake(next));
    model.push_back(fake(next++));
  }
  expect_same_then_drain(q, model);
}

TEST(RunQueue, EraseTakesOneOutAndKeepsTheOrderOfTheRest) {
  RunQueue q;
  ASSERT_TRUE(q.reserve(64));
  // Wrapped: the front near the array's end, the back past its start.
  for (std::size_t i = 0; i < 60; ++i) q.push_back(fake(i));
  for (std::size_t i = 0; i < 60; ++i) ASSERT_EQ(q.pop_front(), fake(i));
  std::deque<Fiber*> model;
  for (std::size_t i = 100; i < 110; ++i) {
    q.push_back(fake(i));
    model.push_back(fake(i));
  }
  EXPECT_FALSE(q.erase(fake(7)));  // not queued
  for (std::size_t victim : {105u, 100u, 109u}) {
    EXPECT_TRUE(q.erase(fake(victim)));
    model.erase(std::find(model.begin(), model.end(), fake(victim)));
    ASSERT_EQ(q.size(), model.size());
    for (std::size_t i = 0; i < model.size(); ++i) ASSERT_EQ(q.peek(i), model[i]);
  }
  q.push_back(fake(200));
  model.push_back(fake(200));
  expect_same_then_drain(q, model);
}

TEST(RunQueue, RandomPushesAndPopsWithinTheReservationMatchAModel) {
  RunQueue q;
  std::deque<Fiber*> model;
  std::mt19937 rng(7);
  std::size_t next = 0, reserved = 0;
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 3 != 0) {
      if (model.size() == reserved) {
        reserved += 1 + rng() % 40;  // as the runtime does: one more place per new fiber
        ASSERT_TRUE(q.reserve(reserved));
      }
      q.push_back(fake(next));
      model.push_back(fake(next++));
    } else {
      Fiber* f = q.pop_front();
      if (model.empty()) {
        ASSERT_EQ(f, nullptr);
      } else {
        ASSERT_EQ(f, model.front());
        model.pop_front();
      }
    }
    ASSERT_EQ(q.size(), model.size());
    ASSERT_EQ(q.peek(8), model.size() > 8 ? model[8] : nullptr);
  }
}

// Through the runtime: 1,000 fibers parked on one token, far more than the ring's first
// size, are readied by one cancel; each resumes exactly once, in the order it registered,
// and a fiber readied twice (a cancel, then a yield) is queued once per readiness.
TEST(RunQueue, AFanOutRunsEveryFiberOnceInRegistrationOrder) {
  weft::Runtime rt;
  std::vector<int> order;
  constexpr int kFibers = 1000;
  (void)rt.spawn([&] {
    weft::CancelSource source;
    weft::CancelToken token = source.token();
    std::vector<weft::FiberId> ids;
    for (int i = 0; i < kFibers; ++i) {
      ids.push_back(*weft::spawn([&, i] {
        EXPECT_EQ(weft::this_fiber::sleep_for(24h, token).error(), weft::wsa::eintr);
        order.push_back(i);
        weft::this_fiber::yield();
        order.push_back(kFibers + i);
      }));
    }
    weft::this_fiber::yield();  // every one is parked
    source.cancel();
    for (weft::FiberId id : ids) EXPECT_TRUE(weft::join(id).ok());
  });
  ASSERT_TRUE(rt.run().ok());
  ASSERT_EQ(order.size(), 2u * kFibers);
  for (int i = 0; i < 2 * kFibers; ++i) EXPECT_EQ(order[i], i) << "at " << i;
}

}  // namespace

namespace {

// A fiber can be made ready while it runs: here its blocking hook stops the runtime and then
// shuts down a socket another fiber waits on, which wakes that waiter, and waking anything
// after a stop first fixes every outstanding call — the hook's own fiber's call among them
// (WSAENETDOWN), which queues that fiber while it is still running. It then ends without
// having parked again: its place in the run queue must go with it (a fiber that ended while
// queued would otherwise be switched to after its record was freed).
TEST(RunQueue, AFiberQueuedWhileRunningThatEndsIsTakenOutOfTheQueue) {
  weft::Runtime rt;
  weft::wsa hook_call = weft::wsa::einval, waiter_call = weft::wsa::einval;
  bool hook_ran = false;
  (void)rt.spawn([&] {
    auto c = weft::test::connect_to_posix_peer();
    weft::Socket s = c.s;
    (void)weft::spawn([&, s] {
      waiter_call = static_cast<weft::wsa>(weft::recv(s, nullptr, 0).error().value());
    });
    weft::this_fiber::yield();  // the waiter is parked in recv
    (void)weft::set_blocking_hook([&, s] {
      if (hook_ran) return false;
      hook_ran = true;
      weft::Runtime::current()->stop();
      EXPECT_TRUE(weft::shutdown(s, weft::Shutdown::receive).ok());
      return false;
    });
    hook_call = static_cast<weft::wsa>(weft::this_fiber::sleep_for(1h).error().value());
    (void)weft::set_blocking_hook({});
  });
  ASSERT_TRUE(rt.run().ok());
  EXPECT_TRUE(hook_ran);
  EXPECT_EQ(hook_call, weft::wsa::enetdown);
  EXPECT_EQ(waiter_call, weft::wsa::enetdown);
}

}  // namespace
