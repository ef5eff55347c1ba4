// Test helpers: run a body in a fiber of a fresh runtime.
#pragma once

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <utility>

namespace weft::test {

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
