// Fiber stacks: guard pages, the vm.max_map_count fallback, pooling, overflow reports.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

namespace {

using namespace weft;
using namespace std::chrono_literals;

std::size_t max_map_count() {
  std::ifstream in("/proc/sys/vm/max_map_count");
  std::size_t v = 0;
  in >> v;
  return v;
}

TEST(Stacks, PastTheGuardedLimitStacksComeFromUnguardedSlabs) {
  RuntimeOptions options;
  options.guarded_stack_limit = 8;
  Runtime rt(options);
  int woke = 0;
  RuntimeStats during{};
  ASSERT_OK(rt.spawn([&] {
    auto wake_at = std::chrono::steady_clock::now() + 20ms;
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(spawn([&, wake_at] {
                    if (this_fiber::sleep_until(wake_at).ok()) ++woke;
                  }).ok());
    }
    during = Runtime::current()->stats();
  }));
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(woke, 100);
  EXPECT_EQ(during.stacks_guarded, 8u);
  EXPECT_GE(during.stacks_unguarded, 93u);
}

TEST(Stacks, MoreFibersThanGuardedMappingsAllowDoNotCrash) {
  std::size_t maps = max_map_count();
  if (maps == 0 || maps > 200'000) {
    GTEST_SKIP() << "vm.max_map_count is " << maps << ": too large to reach here";
  }
  // Past max_map_count / 2 fibers, guarded stacks alone would exhaust the mappings.
  const int fibers = static_cast<int>(maps / 2 + 8000);
  RuntimeOptions options;
  options.stack_size = 16 * 1024;
  Runtime rt(options);
  int woke = 0;
  RuntimeStats during{};
  ASSERT_OK(rt.spawn([&] {
    auto wake_at = std::chrono::steady_clock::now() + 50ms;
    for (int i = 0; i < fibers; ++i) {
      auto id = spawn([&, wake_at] {
        if (this_fiber::sleep_until(wake_at).ok()) ++woke;
      });
      ASSERT_TRUE(id.ok()) << "fiber " << i << ": " << id.error().message();
    }
    during = Runtime::current()->stats();
  }));
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(woke, fibers);
  EXPECT_LT(during.stacks_guarded, maps / 2);
  EXPECT_GT(during.stacks_unguarded, 0u);
}

TEST(Stacks, FinishedFibersStacksAreReused) {
  Runtime rt;
  RuntimeStats after{};
  ASSERT_OK(rt.spawn([&] {
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(join(*spawn([] {})).ok());
    after = Runtime::current()->stats();
  }));
  ASSERT_TRUE(rt.run().ok());
  // One stack for the spawner, one cycling through the thousand children.
  EXPECT_LE(after.stacks_guarded, 2u);
  EXPECT_GE(after.stacks_pooled, 1u);
}

TEST(Stacks, SpawnOptionsStackSizeIsHonoured) {
  Runtime rt;
  // The locals below must not fit a stack of the default size.
  ASSERT_LT(RuntimeOptions{}.stack_size, 384u * 1024);
  ASSERT_TRUE(rt.spawn([] {
                  // 384 KiB of locals, more than the runtime's default stack: on a stack of the
                  // default size the first page past its end is the guard page, and the process
                  // aborts there. Every page is touched from the top down, as the stack grows, so
                  // none is skipped over.
                  auto id = spawn(
                      [] {
                        volatile char big[384 * 1024];
                        for (std::size_t i = sizeof big; i > 0; i -= 4096) big[i - 1] = 1;
                        big[0] = 1;
                        (void)big[0];
                      },
                      SpawnOptions{.name = "big", .stack_size = 512 * 1024});
                  ASSERT_TRUE(id.ok());
                  ASSERT_TRUE(join(*id).ok());
                }).ok());
  ASSERT_TRUE(rt.run().ok());
}

// Deep enough for any stack here; the bound only keeps the compiler from calling it infinite.
int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (depth > (1 << 30)) return frame[0];
  return recurse(depth + 1) + frame[0];
}

TEST(StacksDeathTest, AnOverflowAbortsWithAMessageNamingTheFiber) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Runtime rt;
        (void)rt.spawn([] { (void)recurse(0); }, SpawnOptions{.name = "deep-recursion"});
        (void)rt.run();
      },
      "stack overflow in fiber [0-9]+ \\(deep-recursion\\)");
}

}  // namespace
