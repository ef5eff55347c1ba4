// The outcome word's transitions (runtime/fiber_table.hpp): one outcome per call, fixed once,
// and a request that arrives after completion kept, with its reason, for a re-arm.
#include "fiber_table.hpp"

#include <gtest/gtest.h>

namespace weft::detail {
namespace {

using Fix = OutcomeWord::Fix;
constexpr std::uint64_t kGen = 7;

// A slot of generation kGen whose fiber's call is outstanding.
void start_call(OutcomeWord& w) {
  w.open(kGen);
  w.begin(kGen);
}

// ... and whose completion has been fixed (a readiness, say).
void complete_call(OutcomeWord& w) {
  start_call(w);
  ASSERT_TRUE(w.complete(kGen, CallState::completed));
}

TEST(OutcomeWord, ACallIsFixedOnceTheLoserDoesNothing) {
  OutcomeWord w;
  w.open(kGen);
  EXPECT_EQ(w.state(), CallState::idle);
  w.begin(kGen);
  EXPECT_EQ(w.state(), CallState::pending);
  EXPECT_EQ(w.fix(kGen, CallState::cancelled), Fix::won);
  EXPECT_FALSE(w.complete(kGen, CallState::completed));          // the completion lost
  EXPECT_EQ(w.fix(kGen, CallState::timed_out), Fix::no_effect);  // a repeated cancel
  EXPECT_EQ(w.state(), CallState::cancelled);
  w.end(kGen);
  EXPECT_EQ(w.state(), CallState::idle);
}

TEST(OutcomeWord, ACancelWithNoCallOrOfAnEndedFiberFindsNoCall) {
  OutcomeWord w;
  w.open(kGen);
  EXPECT_EQ(w.fix(kGen, CallState::cancelled), Fix::no_call);  // idle
  w.begin(kGen);
  EXPECT_EQ(w.fix(kGen - 1, CallState::cancelled), Fix::no_call);  // another generation
  w.retire(kGen + 1);
  EXPECT_EQ(w.gen(), kGen + 1);
  EXPECT_EQ(w.fix(kGen, CallState::cancelled), Fix::no_call);
}

TEST(OutcomeWord, AStoppedCallAnswersStopped) {
  OutcomeWord w;
  start_call(w);
  EXPECT_TRUE(w.complete(kGen, CallState::netdown));
  EXPECT_EQ(w.fix(kGen, CallState::cancelled), Fix::stopped);
}

TEST(OutcomeWord, ACompletionWithoutARequestReArmsToPending) {
  OutcomeWord w;
  complete_call(w);
  EXPECT_EQ(w.rearm(kGen, false), CallState::pending);
  EXPECT_EQ(w.state(), CallState::pending);
  EXPECT_TRUE(w.complete(kGen, CallState::completed));
  EXPECT_EQ(w.rearm(kGen, true), CallState::netdown);  // the runtime stops meanwhile
}

TEST(OutcomeWord, ACancelAfterASpuriousCompletionEndsTheCallAtReArm) {
  OutcomeWord w;
  complete_call(w);
  EXPECT_EQ(w.fix(kGen, CallState::cancelled), Fix::no_effect);  // completion won...
  EXPECT_EQ(w.state(), CallState::completed);             // ...and the call may return its result
  EXPECT_EQ(w.rearm(kGen, false), CallState::cancelled);  // unless it would wait again
}

TEST(OutcomeWord, ADeadlineAfterASpuriousCompletionKeepsItsReason) {
  OutcomeWord w;
  complete_call(w);
  EXPECT_EQ(w.fix(kGen, CallState::timed_out), Fix::no_effect);
  EXPECT_EQ(w.fix(kGen, CallState::cancelled), Fix::no_effect);  // the first request stays
  EXPECT_EQ(w.rearm(kGen, true), CallState::timed_out);          // before stop, as a fixed outcome
}

TEST(OutcomeWord, AnOutcomeCompletedOverKeepsTheCancelAsARequestForTheNextWait) {
  for (CallState how : {CallState::cancelled, CallState::timed_out}) {
    OutcomeWord w;
    start_call(w);
    ASSERT_EQ(w.fix(kGen, how), Fix::won);
    w.complete_over(kGen, how);  // what the call waited for completed all the same
    EXPECT_EQ(w.state(), CallState::completed);
    EXPECT_EQ(w.fix(kGen, CallState::cancelled), Fix::no_effect);
    EXPECT_EQ(w.rearm(kGen, false), how);  // the next wait ends in it, with its reason
  }
  OutcomeWord stopped;
  start_call(stopped);
  ASSERT_TRUE(stopped.complete(kGen, CallState::netdown));
  stopped.complete_over(kGen, CallState::netdown);
  EXPECT_EQ(stopped.rearm(kGen, true), CallState::netdown);
}

}  // namespace
}  // namespace weft::detail
