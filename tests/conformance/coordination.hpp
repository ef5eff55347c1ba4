// What the coordination conformance tests (coordination.cpp, channels.cpp) share: a waiter
// known to be parked, and a token cancelled before the call.
//
// Fibers of one runtime take turns on one thread, so a test knows a waiter is parked: a fiber
// that sets `started` and then calls a blocking form hands the thread back only by parking
// (or ending); a test that has seen `started` after yielding sees it parked.
#pragma once

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <system_error>

namespace weft::test {

// Yields until `flag` is set (a guard against a hang, not a timing assertion).
inline void yield_until(const bool& flag) {
  for (int i = 0; i < 1000000 && !flag; ++i) this_fiber::yield();
  ASSERT_TRUE(flag);
}

// A fiber that runs `call` and records what it returned; `started` once it is about to call.
struct Waiting {
  bool started = false;
  bool done = false;
  std::error_code result;
  FiberId id = FiberId::none;

  template <class Call>
  void start(Call call) {
    id = *spawn([this, call]() mutable {
      started = true;
      result = call().error();
      done = true;
    });
    yield_until(started);
    ASSERT_FALSE(done) << "the call did not wait";
  }
  void finish() {
    ASSERT_TRUE(join(id).ok());
    ASSERT_TRUE(done);
  }
};

inline CancelToken cancelled_token() {
  CancelSource s;
  s.cancel();
  return s.token();
}

}  // namespace weft::test
