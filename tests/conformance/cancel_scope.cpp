// Cancel scopes and deadlines (semantics.md §6): an ambient token for every blocking call
// inside, however deep; nesting; shields; deadlines as WSAETIMEDOUT.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::run_in_fiber;

// Library code that never heard of tokens.
Result<std::size_t> read_some(Socket s) {
  char buf[64];
  return recv(s, buf, sizeof buf);
}

TEST(CancelScope, CancelsACallDeepInsideLibraryCode) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    CancelScope* scope_of_worker = nullptr;
    Result<std::size_t> r = wsa::einval;
    auto worker = spawn([&] {
      CancelScope scope;
      scope_of_worker = &scope;
      r = read_some(c.s);
      scope_of_worker = nullptr;
    });
    this_fiber::yield();
    ASSERT_NE(scope_of_worker, nullptr);
    scope_of_worker->cancel();
    ASSERT_TRUE(join(*worker).ok());
    EXPECT_EQ(r.error(), wsa::eintr);
    // §3 applies: a cancelled recv consumed nothing.
    test::posix_send_all(c.peer.get(), "kept");
    char b[8];
    EXPECT_EQ(recv(c.s, b, sizeof b).value_or(0), 4u);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(CancelScope, IsStickyLaterBlockingCallsFailAtOnce) {
  run_in_fiber([] {
    CancelScope scope;
    scope.cancel();
    EXPECT_TRUE(scope.cancel_requested());
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(this_fiber::sleep_for(1h).error(), wsa::eintr);
    EXPECT_EQ(this_fiber::sleep_for(1h).error(), wsa::eintr);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1h);  // neither suspended
    // Every blocking call is a checkpoint, even one that would not suspend: a zero sleep,
    // a recv with data queued (so a loop over a fast stream stops too).
    EXPECT_EQ(this_fiber::sleep_for(0ms).error(), wsa::eintr);
    test::PeerConnection c;
    PollEntry e;
    {
      CancelScope shield(CancelScope::shield);
      c = test::connect_to_posix_peer();
      test::posix_send_all(c.peer.get(), "data");
      e = {c.s, kPollIn};
      ASSERT_EQ(poll({&e, 1}, 5s).value_or(0), 1);  // the bytes are queued
    }
    EXPECT_EQ(poll({&e, 1}, 0ms).value_or(0), 1);  // a zero-timeout poll is no checkpoint
    char b[8];
    EXPECT_EQ(recv(c.s, b, sizeof b).error(), wsa::eintr);
    {
      CancelScope shield(CancelScope::shield);
      EXPECT_EQ(recv(c.s, b, sizeof b).value_or(0), 4u);  // nothing was consumed
    }
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(CancelScope, ADeadlineEndsCallsWithWsaetimedout) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    {
      CancelScope scope(20ms);
      EXPECT_EQ(read_some(c.s).error(), wsa::etimedout);
      EXPECT_EQ(this_fiber::sleep_for(1h).error(), wsa::etimedout);  // sticky
    }
    {
      // poll's own timeout would be a count of 0; a scope's deadline is an error.
      CancelScope scope(20ms);
      PollEntry e{c.s, kPollIn};
      EXPECT_EQ(poll({&e, 1}, 1h).error(), wsa::etimedout);
    }
    // Outside the scope the socket is as it was.
    test::posix_send_all(c.peer.get(), "late");
    char b[8];
    EXPECT_EQ(recv(c.s, b, sizeof b).value_or(0), 4u);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(CancelScope, ADeadlineMayBeMovedLater) {
  run_in_fiber([] {
    CancelScope scope(std::chrono::steady_clock::now() + 1h);
    scope.set_deadline(std::chrono::steady_clock::now() + 10ms);
    EXPECT_EQ(this_fiber::sleep_for(1h).error(), wsa::etimedout);
  });
}

TEST(CancelScope, ScopesNestAndEveryEnclosingTokenApplies) {
  run_in_fiber([] {
    CancelScope outer;
    Status inner_result;
    {
      CancelScope inner;
      auto canceller = spawn([&] { outer.cancel(); });
      inner_result = this_fiber::sleep_for(1h);
      (void)canceller;
    }
    EXPECT_EQ(inner_result.error(), wsa::eintr);
  });
}

TEST(CancelScope, CancellingAnInnerScopeLeavesTheOuterOne) {
  run_in_fiber([] {
    CancelScope outer;
    {
      CancelScope inner;
      inner.cancel();
      EXPECT_EQ(this_fiber::sleep_for(1h).error(), wsa::eintr);
    }
    EXPECT_FALSE(outer.cancel_requested());
    EXPECT_TRUE(this_fiber::sleep_for(1ms).ok());
  });
}

TEST(CancelScope, AShieldedScopeLetsCleanUpRunUnderACancelledOuterScope) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    CancelScope outer;
    outer.cancel();
    EXPECT_EQ(read_some(c.s).error(), wsa::eintr);
    {
      CancelScope clean_up(CancelScope::shield);
      // A graceful close with linger is a blocking call: it runs to completion here.
      ASSERT_TRUE(set_linger(c.s, 5s).ok());
      ASSERT_TRUE(send(c.s, "bye", 3).ok());
      EXPECT_TRUE(close(c.s).ok());
      EXPECT_TRUE(this_fiber::sleep_for(1ms).ok());
    }
    EXPECT_EQ(this_fiber::sleep_for(1ms).error(), wsa::eintr);  // cancelled again outside
    auto view = test::posix_read_to_end(c.peer.get());
    EXPECT_EQ(view.data, "bye");
    EXPECT_TRUE(view.eof);
  });
}

TEST(CancelScope, AnOutsideTokenMadeAmbientCancelsFromAnotherThread) {
  CancelSource src;
  Runtime rt;
  std::atomic<bool> blocked{false};
  Status r;
  ASSERT_OK(rt.spawn([&] {
    CancelScope scope(src.token());
    blocked = true;
    r = this_fiber::sleep_for(1h);
  }));
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });
  while (!blocked) std::this_thread::yield();
  EXPECT_TRUE(src.cancel());
  runner.join();
  EXPECT_EQ(r.error(), wsa::eintr);
}

TEST(CancelScope, OutsideAFiberDoesNothing) {
  CancelScope scope;
  scope.cancel();
  EXPECT_TRUE(scope.cancel_requested());
  EXPECT_TRUE(scope.token().cancel_requested());
}

}  // namespace
