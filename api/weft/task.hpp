// weft — the type-erased, move-only callable that spawn and post take.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace weft::detail {

// A callable run once. Unlike std::function it accepts move-only captures (unique_ptr,
// sockets), so a fiber can own what it works on.
struct Task {
  virtual ~Task() = default;
  virtual void run() = 0;
};

template <class F>
struct TaskOf final : Task {
  explicit TaskOf(F&& fn) : f(std::move(fn)) {}
  explicit TaskOf(const F& fn) : f(fn) {}
  void run() override { f(); }
  F f;
};

using TaskPtr = std::unique_ptr<Task>;

template <class F>
TaskPtr make_task(F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>, "a weft task is called with no arguments");
  return std::make_unique<TaskOf<std::decay_t<F>>>(std::forward<F>(f));
}

}  // namespace weft::detail
