// CancelSource / CancelToken / CancelCallback: the guarantees of weft/cancel_token.hpp.
#include <weft/cancel_token.hpp>
#include <weft/stop_token.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;

TEST(CancelToken, ADefaultTokenNeverCancelsAndCannotBe) {
  CancelToken t;
  EXPECT_FALSE(t.cancel_requested());
  EXPECT_FALSE(t.can_be_cancelled());
  int ran = 0;
  {
    CancelCallback cb(t, [&] { ++ran; });
  }
  EXPECT_EQ(ran, 0);
}

TEST(CancelToken, SeesItsSourceCancelled) {
  CancelSource src;
  CancelToken t = src.token();
  CancelToken copy = t;
  EXPECT_TRUE(t.can_be_cancelled());
  EXPECT_FALSE(t.cancel_requested());
  EXPECT_TRUE(src.cancel());
  EXPECT_TRUE(t.cancel_requested());
  EXPECT_TRUE(copy.cancel_requested());
  EXPECT_TRUE(src.cancel_requested());
  EXPECT_EQ(t, copy);
}

TEST(CancelToken, CancellationIsStickyAndCancelSaysWhoMadeTheTransition) {
  CancelSource src;
  CancelSource other_handle = src;  // copies share the state
  EXPECT_TRUE(other_handle.cancel());
  EXPECT_FALSE(src.cancel());
  EXPECT_FALSE(other_handle.cancel());
  EXPECT_TRUE(src.token().cancel_requested());
}

TEST(CancelToken, OnlyOneOfManyRacingCancelsMakesTheTransition) {
  for (int round = 0; round < 200; ++round) {
    CancelSource src;
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        if (src.cancel()) winners.fetch_add(1);
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(winners.load(), 1);
  }
}

TEST(CancelToken, ATokenWhoseSourcesAreAllGoneCanNeverBeCancelled) {
  CancelToken t;
  {
    CancelSource src;
    t = src.token();
    EXPECT_TRUE(t.can_be_cancelled());
  }
  EXPECT_FALSE(t.can_be_cancelled());
  EXPECT_FALSE(t.cancel_requested());
}

TEST(CancelToken, AMovedFromSourceCancelsNothing) {
  CancelSource a;
  CancelSource b = std::move(a);
  EXPECT_FALSE(a.cancel());  // NOLINT(bugprone-use-after-move): the documented behaviour
  EXPECT_TRUE(b.cancel());
}

TEST(CancelCallback, RunsOnceWhenCancelled) {
  CancelSource src;
  int ran = 0;
  CancelCallback cb(src.token(), [&] { ++ran; });
  EXPECT_EQ(ran, 0);
  src.cancel();
  EXPECT_EQ(ran, 1);
  src.cancel();
  EXPECT_EQ(ran, 1);
}

TEST(CancelCallback, RunsInlineWhenTheTokenIsAlreadyCancelled) {
  CancelSource src;
  src.cancel();
  int ran = 0;
  CancelCallback cb(src.token(), [&] { ++ran; });
  EXPECT_EQ(ran, 1);
}

// The plain-function form (no allocation): runs once, told the reason; inline when the token
// is already cancelled; never after its destruction.
struct PlainRecord {
  int runs = 0;
  bool timed_out = false;
};
void record_plain(void* ctx, CancelReason why) noexcept {
  auto* r = static_cast<PlainRecord*>(ctx);
  ++r->runs;
  r->timed_out = why == CancelReason::timed_out;
}

TEST(CancelCallback, APlainFunctionRunsOnceAndLearnsTheReason) {
  CancelSource by_cancel, by_deadline;
  PlainRecord a, b;
  CancelCallback ca(by_cancel.token(), &record_plain, &a);
  CancelCallback cb(by_deadline.token(), &record_plain, &b);
  EXPECT_EQ(a.runs, 0);
  by_cancel.cancel();
  by_cancel.cancel();
  by_deadline.cancel(CancelReason::timed_out);
  EXPECT_EQ(a.runs, 1);
  EXPECT_FALSE(a.timed_out);
  EXPECT_EQ(b.runs, 1);
  EXPECT_TRUE(b.timed_out);

  PlainRecord late;
  CancelCallback inline_run(by_deadline.token(), &record_plain, &late);
  EXPECT_EQ(late.runs, 1);  // already cancelled: in the constructor
  EXPECT_TRUE(late.timed_out);

  CancelSource never;
  PlainRecord gone;
  { CancelCallback c(never.token(), &record_plain, &gone); }
  never.cancel();
  EXPECT_EQ(gone.runs, 0);
}

TEST(CancelCallback, CallbacksRunInTheOrderTheyWereRegistered) {
  CancelSource source;
  std::vector<int> order;
  CancelCallback first(source.token(), [&] { order.push_back(1); });
  std::optional<CancelCallback> second;
  second.emplace(source.token(), [&] { order.push_back(2); });
  {
    CancelCallback gone(source.token(), [&] { order.push_back(99); });  // the last, removed
  }
  second.reset();  // one in the middle, removed
  CancelCallback third(source.token(), [&] { order.push_back(3); });
  CancelCallback fourth(source.token(), [&] { order.push_back(4); });
  source.cancel();
  EXPECT_EQ(order, (std::vector<int>{1, 3, 4}));
}

// A token's callbacks live in an array that grows, and whose removed places are squeezed out
// once it is full: through both, and through many registrations made and removed beside
// long-lived ones (a server-wide token every call registers on), the order holds and only
// the registered callbacks run.
TEST(CancelCallback, OrderHoldsThroughGrowthAndRemovalsBetweenLongLivedCallbacks) {
  CancelSource source;
  std::vector<int> order, expected;
  std::vector<std::unique_ptr<CancelCallback>> kept;
  int removed_ran = 0;
  for (int i = 0; i < 300; ++i) {
    if (i % 3 == 0) {
      kept.push_back(
          std::make_unique<CancelCallback>(source.token(), [&order, i] { order.push_back(i); }));
      expected.push_back(i);
    }
    for (int j = 0; j < 1 + i % 7; ++j) {
      CancelCallback churn(source.token(), [&] { ++removed_ran; });
    }
    if (i % 30 == 29) {  // one from the middle goes
      const auto middle = static_cast<std::ptrdiff_t>(kept.size() / 2);
      kept.erase(kept.begin() + middle);
      expected.erase(expected.begin() + middle);
    }
  }
  source.cancel();
  EXPECT_EQ(removed_ran, 0);
  EXPECT_EQ(order, expected);
  EXPECT_EQ(expected.size(), 90u);
}

// A callback that removes one registered after it, while the cancel is under way: the removed
// one never runs, the others do, in order.
TEST(CancelCallback, OneRemovedByAnEarlierCallbackDuringTheCancelNeverRuns) {
  CancelSource source;
  std::vector<int> order;
  std::optional<CancelCallback> third;
  CancelCallback first(source.token(), [&] {
    order.push_back(1);
    third.reset();
  });
  CancelCallback second(source.token(), [&] { order.push_back(2); });
  third.emplace(source.token(), [&] { order.push_back(3); });
  CancelCallback fourth(source.token(), [&] { order.push_back(4); });
  source.cancel();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 4}));
}

TEST(CancelCallback, ADestroyedCallbackNeverRuns) {
  CancelSource src;
  int ran = 0;
  {
    CancelCallback cb(src.token(), [&] { ++ran; });
  }
  src.cancel();
  EXPECT_EQ(ran, 0);
}

TEST(CancelCallback, EveryRegisteredCallbackRunsOnTheCancellingThread) {
  CancelSource src;
  std::thread::id seen[3];
  std::vector<std::unique_ptr<CancelCallback>> cbs;
  for (int i = 0; i < 3; ++i) {
    cbs.push_back(std::make_unique<CancelCallback>(
        src.token(), [&, i] { seen[i] = std::this_thread::get_id(); }));
  }
  std::thread t([&] { src.cancel(); });
  auto canceller = t.get_id();
  t.join();
  for (auto id : seen) EXPECT_EQ(id, canceller);
}

TEST(CancelCallback, ItsDestructorWaitsForItsCallbackRunningOnAnotherThread) {
  CancelSource src;
  std::atomic<bool> started{false}, finished{false};
  auto cb = std::make_unique<CancelCallback>(src.token(), [&] {
    started = true;
    std::this_thread::sleep_for(50ms);
    finished = true;
  });
  std::thread t([&] { src.cancel(); });
  while (!started) std::this_thread::yield();
  cb.reset();  // must not return before the callback has finished
  EXPECT_TRUE(finished.load());
  t.join();
}

TEST(CancelCallback, ACallbackMayDestroyItsOwnRegistration) {
  CancelSource src;
  std::optional<CancelCallback> cb;
  bool ran = false;
  cb.emplace(src.token(), [&] {
    ran = true;
    cb.reset();  // same thread: the destructor does not wait for itself
  });
  src.cancel();
  EXPECT_TRUE(ran);
  EXPECT_FALSE(cb.has_value());
}

TEST(CancelCallback, StateOutlivesWhicheverGoesLast) {
  int ran = 0;
  auto cb = std::make_unique<CancelCallback>(CancelSource().token(),
                                             [&] { ++ran; });  // source gone at once
  cb.reset();
  CancelToken t;
  {
    CancelSource src;
    t = src.token();
    src.cancel();
  }
  EXPECT_TRUE(t.cancel_requested());
  EXPECT_EQ(ran, 0);
}

// Registering and deregistering on several threads while another cancels: every callback
// runs at most once, those alive at the cancel run exactly once, those registered after it
// run inline.
TEST(CancelCallback, StormOfRegistrationsAgainstACancel) {
  for (int round = 0; round < 50; ++round) {
    CancelSource src;
    std::atomic<int> ran{0}, registered_after{0}, inline_runs{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        while (!go) std::this_thread::yield();
        for (int i = 0; i < 200; ++i) {
          bool before = src.cancel_requested();
          int mine = 0;
          {
            CancelCallback cb(src.token(), [&] {
              ++mine;
              ran.fetch_add(1);
            });
            if (before) {
              registered_after.fetch_add(1);
              if (mine == 1) inline_runs.fetch_add(1);
            }
          }
          ASSERT_LE(mine, 1);
        }
      });
    }
    go = true;
    std::this_thread::sleep_for(std::chrono::microseconds(100 * (round % 5)));
    src.cancel();
    for (auto& t : threads) t.join();
    EXPECT_EQ(inline_runs.load(), registered_after.load());
  }
}

// Deadlines set, moved and cleared on many threads while cancels race them and sources are
// dropped with deadlines pending: every callback runs at most once, a moved deadline fires
// with WSAETIMEDOUT, and nothing leaks (LeakSanitizer) or races (ThreadSanitizer).
TEST(SourceDeadlineStorm, SetMoveClearAndCancelRaceCleanly) {
  std::atomic<int> runs_over_one{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        CancelSource s(std::chrono::microseconds(50 + (i * 37 + t * 11) % 400));
        std::atomic<int> mine{0};
        CancelCallback cb(s.token(), [&] {
          if (mine.fetch_add(1) > 0) runs_over_one.fetch_add(1);
        });
        switch (i % 4) {
          case 0: s.set_timeout(std::chrono::microseconds(i % 200)); break;
          case 1: s.clear_deadline(); break;
          case 2: s.cancel(); break;
          default: break;  // dropped with its deadline pending
        }
        if (i % 4 == 0) {  // a moved deadline still fires, once, with its reason
          // The deadline thread marks the token cancelled first and runs its callbacks
          // after: wait for the callback, not for the mark.
          for (int w = 0; w < 50'000 && mine.load() == 0; ++w) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
          EXPECT_TRUE(s.cancel_requested());
          EXPECT_EQ(s.token().reason(), wsa::etimedout);
          EXPECT_EQ(mine.load(), 1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(runs_over_one.load(), 0);
}

TEST(LinkedSource, IsCancelledWhenAnyParentIs) {
  CancelSource a, b;
  CancelSource child = CancelSource::linked({a.token(), b.token()});
  EXPECT_FALSE(child.cancel_requested());
  b.cancel();
  EXPECT_TRUE(child.cancel_requested());
  EXPECT_FALSE(a.cancel_requested());
}

TEST(LinkedSource, CancellingTheChildNeverCancelsAParent) {
  CancelSource parent;
  CancelSource child = CancelSource::linked({parent.token()});
  EXPECT_TRUE(child.cancel());
  EXPECT_FALSE(parent.cancel_requested());
}

TEST(LinkedSource, TakesItsParentsReason) {
  CancelSource parent;
  CancelSource child = CancelSource::linked({parent.token()});
  parent.cancel(CancelReason::timed_out);
  EXPECT_EQ(child.token().reason(), wsa::etimedout);
}

TEST(LinkedSource, OfAnAlreadyCancelledParentStartsCancelled) {
  CancelSource parent;
  parent.cancel();
  EXPECT_TRUE(CancelSource::linked({parent.token()}).cancel_requested());
}

TEST(LinkedSource, ChildrenAndParentsMayOutliveEachOther) {
  CancelToken child_token;
  {
    CancelSource parent;
    CancelSource child = CancelSource::linked({parent.token()});
    child_token = child.token();
    // The child's only source goes; the link to the living parent keeps it cancellable.
  }
  EXPECT_TRUE(child_token.can_be_cancelled());  // the parent's state lives in the link
  CancelSource parent2;
  { CancelSource child2 = CancelSource::linked({parent2.token()}); }
  parent2.cancel();  // the child is gone; its link was deregistered with it
  EXPECT_TRUE(parent2.cancel_requested());
}

TEST(StopTokenAdapter, FollowsItsStopSource) {
  std::stop_source ss;
  CancelToken t = to_cancel_token(ss.get_token());
  EXPECT_TRUE(t.can_be_cancelled());
  EXPECT_FALSE(t.cancel_requested());
  int ran = 0;
  CancelCallback cb(t, [&] { ++ran; });
  ss.request_stop();
  EXPECT_TRUE(t.cancel_requested());
  EXPECT_EQ(t.reason(), wsa::eintr);
  EXPECT_EQ(ran, 1);
}

TEST(StopTokenAdapter, AnAlreadyStoppedTokenGivesACancelledToken) {
  std::stop_source ss;
  ss.request_stop();
  EXPECT_TRUE(to_cancel_token(ss.get_token()).cancel_requested());
}

TEST(StopTokenAdapter, AStopTokenThatCannotStopGivesADefaultToken) {
  EXPECT_FALSE(to_cancel_token(std::stop_token{}).can_be_cancelled());
}

TEST(StopTokenAdapter, StopFromAnotherThreadWhileTheTokenIsDropped) {
  for (int i = 0; i < 200; ++i) {
    std::stop_source ss;
    auto t = std::make_unique<CancelToken>(to_cancel_token(ss.get_token()));
    std::thread stopper([&] { ss.request_stop(); });
    t.reset();  // the bridge goes with the token's state, racing the stop
    stopper.join();
  }
}

}  // namespace
