// Test helpers: run a body in a fiber of a fresh runtime; ASSERT_OK.
#pragma once

#include <weft/weft.hpp>

#include <gtest/gtest.h>

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

}  // namespace weft::test
