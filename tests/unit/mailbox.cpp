// The runtime's mailbox (runtime/mailbox.hpp): cancel wakes kept in its own cache line while
// nothing else is queued, the order of messages across the inline slots and the vector, the
// wake-up flag against a late read of the eventfd, and wakes pushed from other threads.
#include "mailbox.hpp"

#include <weft/weft.hpp>

#include "../support/run.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <poll.h>

namespace {

using weft::FiberId;
using weft::detail::Message;
using weft::detail::RuntimeMailbox;
using namespace std::chrono_literals;

FiberId id(std::uint64_t n) { return static_cast<FiberId>(n); }

// A shared block as a runtime holds it, with the eventfd wake-up; closed and released at the
// end of the test.
struct Block {
  RuntimeMailbox* s = RuntimeMailbox::create(weft::WakeMethod::eventfd);
  ~Block() {
    std::vector<Message> leftover;
    s->close(leftover);
    s->release();
  }
  // True if the eventfd is readable now (a wake-up not yet read back).
  bool readable() const {
    pollfd p{s->event_fd(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }
};

// The wakes a batch holds, inline ones first, then those among its messages, in order; a
// post shows as 0.
std::vector<std::uint64_t> order_of(const RuntimeMailbox::Batch& b) {
  std::vector<std::uint64_t> out;
  for (unsigned i = 0; i < b.wake_count; ++i) out.push_back(to_integer(b.wakes[i]));
  for (const Message& m : b.messages) {
    out.push_back(m.kind == Message::Kind::wake ? to_integer(m.id) : 0);
  }
  return out;
}

Message post_message() {
  Message m{Message::Kind::post};
  m.task = weft::detail::make_task([] {});
  return m;
}

TEST(Mailbox, WakesBeyondTheInlineSlotsGoToTheQueueInOrder) {
  Block b;
  ASSERT_NE(b.s, nullptr);
  const unsigned n = RuntimeMailbox::kInlineWakes + 3;
  for (unsigned i = 1; i <= n; ++i) ASSERT_TRUE(b.s->push_wake(id(i)));
  RuntimeMailbox::Batch batch;
  b.s->take(batch);
  EXPECT_EQ(batch.wake_count, RuntimeMailbox::kInlineWakes);
  std::vector<std::uint64_t> want;
  for (unsigned i = 1; i <= n; ++i) want.push_back(i);
  EXPECT_EQ(order_of(batch), want);
}

TEST(Mailbox, AWakeBehindAnotherMessageStaysBehindIt) {
  Block b;
  ASSERT_TRUE(b.s->push_wake(id(1)));
  ASSERT_TRUE(b.s->push(post_message()));
  // The inline slots have room, but the post is queued: this wake must follow it.
  ASSERT_TRUE(b.s->push_wake(id(2)));
  RuntimeMailbox::Batch batch;
  b.s->take(batch);
  EXPECT_EQ(batch.wake_count, 1u);
  EXPECT_EQ(order_of(batch), (std::vector<std::uint64_t>{1, 0, 2}));

  // Once the queue is taken, wakes are kept inline again.
  batch.messages.clear();
  ASSERT_TRUE(b.s->push_wake(id(3)));
  b.s->take(batch);
  EXPECT_EQ(batch.wake_count, 1u);
  EXPECT_TRUE(batch.messages.empty());
  EXPECT_EQ(order_of(batch), (std::vector<std::uint64_t>{3}));
}

TEST(Mailbox, APushWhoseWakeUpALateReadSwallowedLeavesTheFlagRaised) {
  Block b;
  ASSERT_TRUE(b.s->push_wake(id(1)));
  EXPECT_TRUE(b.s->wake_pending());
  EXPECT_TRUE(b.readable());
  // The loop drains (its eventfd read comes later, after the woken fibers ran)...
  b.s->begin_drain();
  RuntimeMailbox::Batch batch;
  b.s->take(batch);
  EXPECT_FALSE(b.s->wake_pending());
  // ...another thread pushes meanwhile and writes the eventfd again...
  ASSERT_TRUE(b.s->push_wake(id(2)));
  // ...and the late read takes both writes. The flag still says a message waits, which is
  // what the loop checks after the read before it may sleep.
  b.s->reset_wake();
  EXPECT_FALSE(b.readable());
  EXPECT_TRUE(b.s->wake_pending());
  b.s->begin_drain();
  RuntimeMailbox::Batch again;
  b.s->take(again);
  EXPECT_EQ(order_of(again), (std::vector<std::uint64_t>{2}));
}

TEST(Mailbox, AClosedMailboxRefusesWakes) {
  RuntimeMailbox* s = RuntimeMailbox::create(weft::WakeMethod::eventfd);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->push_wake(id(1)));
  std::vector<Message> leftover;
  s->close(leftover);
  EXPECT_FALSE(s->push_wake(id(2)));
  EXPECT_FALSE(s->push(post_message()));
  s->release();
}

// Many fibers blocked in sleep, all cancelled in one burst from another thread while their
// loop is busy with one fiber that spins: the wakes pile up beyond the inline slots, and
// every fiber must still be woken (and only once each).
TEST(Mailbox, ABurstOfForeignCancelsWakesEveryFiber) {
  constexpr int kFibers = 64;
  weft::Runtime rt;
  std::vector<FiberId> ids(kFibers);
  std::atomic<int> blocked{0}, woke{0}, eintr{0};
  std::atomic<bool> burst_done{false};
  for (int i = 0; i < kFibers; ++i) {
    auto f = rt.spawn([&] {
      ++blocked;
      auto r = weft::this_fiber::sleep_for(24h);
      if (r.error() == weft::wsa::eintr) ++eintr;
      ++woke;
    });
    ASSERT_TRUE(f.ok());
    ids[static_cast<std::size_t>(i)] = *f;
  }
  // Keeps the loop away from its mailbox until the burst is queued.
  ASSERT_OK(rt.spawn([&] {
    while (blocked.load() < kFibers) weft::this_fiber::yield();
    while (!burst_done.load()) std::this_thread::yield();
  }));
  std::thread canceller([&] {
    while (blocked.load() < kFibers) std::this_thread::yield();
    // A fiber counts itself before it blocks: retry until its sleep is outstanding.
    for (FiberId f : ids) {
      while (weft::cancel_blocking_call(f).error() == weft::wsa::einval) std::this_thread::yield();
    }
    burst_done = true;
  });
  ASSERT_TRUE(rt.run().ok());
  canceller.join();
  EXPECT_EQ(woke.load(), kFibers);
  EXPECT_EQ(eintr.load(), kFibers);
}

}  // namespace
