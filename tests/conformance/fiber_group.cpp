// Fiber groups (semantics.md §6): cancelling a group cancels every member's calls; the group
// does not end before its members; an error can cancel the siblings.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::run_in_fiber;

TEST(FiberGroup, CancellingTheGroupCancelsTenThousandBlockedMembers) {
  constexpr int kMembers = 10'000;
  int interrupted = 0, other = 0;
  RuntimeOptions options;
  options.stack_size = 16 * 1024;
  run_in_fiber(
      [&] {
        FiberGroup group;
        for (int i = 0; i < kMembers; ++i) {
          ASSERT_OK(group.spawn(
              [&] { (this_fiber::sleep_for(1h).error() == wsa::eintr ? interrupted : other)++; }));
        }
        this_fiber::yield();  // they all block
        group.cancel();
        ASSERT_TRUE(group.join_all().ok());
      },
      options);
  EXPECT_EQ(interrupted, kMembers);
  EXPECT_EQ(other, 0);
}

TEST(FiberGroup, TheGroupsScopeDoesNotEndBeforeItsMembers) {
  run_in_fiber([] {
    int finished = 0;
    {
      FiberGroup group;
      for (int i = 0; i < 5; ++i) {
        ASSERT_OK(group.spawn([&, i] {
          (void)this_fiber::sleep_for(std::chrono::milliseconds(5 * i));
          ++finished;
        }));
      }
    }  // the destructor joins
    EXPECT_EQ(finished, 5);
  });
}

TEST(FiberGroup, AnErrorCancelsTheSiblingsWhenAskedTo) {
  run_in_fiber([] {
    Status sibling;
    FiberGroup group(FiberGroup::Options{.cancel_on_error = true});
    ASSERT_OK(group.spawn([&] { sibling = this_fiber::sleep_for(1h); }));
    ASSERT_OK(group.spawn([]() -> Status { return wsa::econnreset; }));
    ASSERT_TRUE(group.join_all().ok());
    EXPECT_EQ(sibling.error(), wsa::eintr);
    EXPECT_EQ(group.first_error(), wsa::econnreset);
    // Cancelled: spawning more is refused.
    EXPECT_EQ(group.spawn([] {}).error(), wsa::eintr);
  });
}

TEST(FiberGroup, WithoutTheOptionAnErrorIsOnlyRecorded) {
  run_in_fiber([] {
    Status sibling;
    FiberGroup group;
    ASSERT_OK(group.spawn([&] { sibling = this_fiber::sleep_for(10ms); }));
    ASSERT_OK(group.spawn([]() -> Status { return wsa::econnreset; }));
    ASSERT_TRUE(group.join_all().ok());
    EXPECT_TRUE(sibling.ok());
    EXPECT_EQ(group.first_error(), wsa::econnreset);
  });
}

TEST(FiberGroup, ACancelledJoinAllLeavesTheMembersRunning) {
  run_in_fiber([] {
    bool done = false;
    FiberGroup group;
    ASSERT_OK(group.spawn([&] {
      (void)this_fiber::sleep_for(20ms);
      done = true;
    }));
    Status joined;
    auto waiter = spawn([&] { joined = group.join_all(); });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*waiter).ok());
    ASSERT_TRUE(join(*waiter).ok());
    EXPECT_EQ(joined.error(), wsa::eintr);
    EXPECT_FALSE(done);
    ASSERT_TRUE(group.join_all().ok());
    EXPECT_TRUE(done);
  });
}

TEST(FiberGroup, ALongLivedGroupForgetsMembersThatHaveEnded) {
  run_in_fiber([] {
    FiberGroup group;
    std::vector<FiberId> live;
    for (int i = 0; i < 10'000; ++i) {
      ASSERT_OK(group.spawn([] {}));  // ends at its first turn
      if (i % 100 == 0) {
        live.push_back(*group.spawn([] { (void)this_fiber::sleep_for(24h); }));
      }
      this_fiber::yield();
    }
    // 100 members still live; the 9,900 that ended are not all kept.
    EXPECT_GE(group.size(), live.size());
    EXPECT_LT(group.size(), 2 * live.size() + 64);
    group.cancel();
    EXPECT_TRUE(group.join_all().ok());
  });
}

TEST(FiberGroup, RuntimeStopUnwindsTheGroup) {
  Runtime rt;
  int netdown = 0;
  ASSERT_OK(rt.spawn([&] {
    FiberGroup group;
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(group
                      .spawn([&] {
                        if (this_fiber::sleep_for(1h).error() == wsa::enetdown) ++netdown;
                      })
                      .ok());
    }
    this_fiber::yield();
    Runtime::current()->stop();
  }));  // the group's destructor waits for the members to unwind
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(netdown, 100);
}

}  // namespace

namespace {

TEST(FiberGroup, CancellingTheOuterGroupCancelsANestedGroupsMembers) {
  run_in_fiber([] {
    std::error_code inner_result;
    bool inner_spawned = false;
    FiberGroup outer;
    ASSERT_OK(outer.spawn([&] {
      FiberGroup inner;  // created by a member: linked to the outer group
      inner_spawned = inner.spawn([&] { inner_result = this_fiber::sleep_for(1h).error(); }).ok();
    }));
    this_fiber::yield();  // the member creates its group; the inner member blocks
    ASSERT_TRUE(inner_spawned);
    outer.cancel();
    ASSERT_TRUE(outer.join_all().ok());  // the member's group joined the inner member
    EXPECT_EQ(inner_result, wsa::eintr);
  });
}

TEST(FiberGroup, CancellingTheInnerGroupLeavesTheOuterOne) {
  run_in_fiber([] {
    std::error_code sibling_result;
    FiberGroup outer;
    ASSERT_OK(outer.spawn([&] {
      FiberGroup inner;
      (void)inner.spawn([] { (void)this_fiber::sleep_for(1h); });
      this_fiber::yield();
      inner.cancel();
    }));
    ASSERT_OK(outer.spawn([&] { sibling_result = this_fiber::sleep_for(1ms).error(); }));
    ASSERT_TRUE(outer.join_all().ok());
    EXPECT_FALSE(outer.token().cancel_requested());
    EXPECT_FALSE(sibling_result);
  });
}

TEST(FiberGroup, AGroupCreatedInsideACancelledScopeTakesNoMember) {
  run_in_fiber([] {
    CancelScope scope;
    scope.cancel();
    FiberGroup group;
    EXPECT_TRUE(group.token().cancel_requested());
    EXPECT_EQ(group.spawn([] {}).error(), wsa::eintr);
  });
}

TEST(FiberGroup, AGroupCreatedInsideAScopeIsCancelledWithItsDeadline) {
  run_in_fiber([] {
    std::error_code member_result;
    {
      CancelScope scope(std::chrono::nanoseconds(10ms));
      FiberGroup group;
      ASSERT_OK(group.spawn([&] { member_result = this_fiber::sleep_for(1h).error(); }));
    }  // the group's destructor joins its member, which the deadline ended
    EXPECT_EQ(member_result, wsa::etimedout);
  });
}

TEST(FiberGroup, JoinAllTakesATokenLikeEveryBlockingCall) {
  run_in_fiber([] {
    FiberGroup group;
    ASSERT_OK(group.spawn([] { (void)this_fiber::sleep_for(1h); }));
    this_fiber::yield();
    CancelSource source;
    auto canceller = spawn([&] { source.cancel(); });
    EXPECT_EQ(group.join_all(source.token()).error(), wsa::eintr);
    EXPECT_EQ(group.join_all(source.token()).error(), wsa::eintr);  // sticky
    ASSERT_TRUE(join(*canceller).ok());
    EXPECT_EQ(group.join_all(CancelSource(5ms).token()).error(), wsa::etimedout);
    group.cancel();
    EXPECT_TRUE(group.join_all().ok());
  });
}

TEST(ThisFiber, CancelTokenMergesTheScopesThatApply) {
  run_in_fiber([] {
    EXPECT_FALSE(this_fiber::cancel_token().can_be_cancelled());  // none applies
    CancelScope outer;
    {
      CancelScope inner;
      CancelToken t = this_fiber::cancel_token();
      EXPECT_TRUE(t.can_be_cancelled());
      outer.cancel();  // the outer of the two scopes: the merged token follows it
      EXPECT_TRUE(t.cancel_requested());
      EXPECT_EQ(t.reason(), wsa::eintr);
      CancelScope shielded(CancelScope::shield);
      CancelToken s = this_fiber::cancel_token();
      EXPECT_FALSE(s.cancel_requested());  // a shield stops the walk
    }
  });
}

TEST(ThisFiber, CancelTokenInAMemberFollowsItsGroup) {
  run_in_fiber([] {
    FiberGroup group;
    CancelToken seen;
    ASSERT_OK(group.spawn([&] { seen = this_fiber::cancel_token(); }));
    ASSERT_TRUE(group.join_all().ok());
    EXPECT_TRUE(seen.can_be_cancelled());
    EXPECT_FALSE(seen.cancel_requested());
    group.cancel();
    EXPECT_TRUE(seen.cancel_requested());
    EXPECT_EQ(seen.reason(), wsa::eintr);
  });
  EXPECT_FALSE(this_fiber::cancel_token().can_be_cancelled());  // outside a fiber
}

}  // namespace
