// Test helpers: run a body in a fiber of a fresh runtime; ASSERT_OK; wait for a condition from a
// fiber; spawn a fiber whose blocking call is known to be outstanding.
#pragma once

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string_view>
#include <utility>

// ASSERT_OK(expr): the weft::Result expr holds a value; if not, the test fails with its
// error's message. Takes the expression whole, commas and all (a fiber's body given to spawn).
#define ASSERT_OK(...) ASSERT_PRED_FORMAT1(::weft::test::holds_value, (__VA_ARGS__))

namespace weft::test {

// ASSERT_OK's predicate: names the expression by its first line.
template <class R>
::testing::AssertionResult holds_value(const char* expr, const R& r) {
  if (r.ok()) return ::testing::AssertionSuccess();
  std::string_view text(expr);
  return ::testing::AssertionFailure()
         << text.substr(0, text.find('\n')) << " failed: " << r.error().message();
}

// Runs fn in a fiber of a new runtime and returns when every fiber has ended.
template <class F>
void run_in_fiber(F&& fn, RuntimeOptions options = {}) {
  Runtime rt(options);
  auto id = rt.spawn(std::forward<F>(fn));
  ASSERT_TRUE(id.ok()) << id.error().message();
  auto r = rt.run();
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(rt.stats().fibers_alive, 0u);
}

// Sleeps the calling fiber a millisecond at a time until pred() holds; false if it still does
// not after 20 s (a hang guard, not a timing assertion).
template <class Pred>
bool wait_until(Pred&& pred) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    (void)this_fiber::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Spawns a fiber running `call`; `blocked` becomes true once its blocking call is outstanding
// (a message posted before the call runs when it blocks, as the matrix does).
template <class F>
Result<FiberId> spawn_call(std::atomic<bool>& blocked, F call) {
  return spawn([&blocked, call] {
    (void)post(this_fiber::id(), [&blocked] { blocked = is_blocking(); });
    call();
  });
}

}  // namespace weft::test
