// weft::detail — switching between execution contexts (the scheduler and fibers) with
// Boost.Context's fcontext primitives, annotated for AddressSanitizer and ThreadSanitizer so
// that their reports on fiber stacks are real.
//
// Any context may resume any other: the scheduler switches to a fiber, a fiber that parks or
// yields hands the thread straight to the next ready fiber, and a fiber with nothing to hand
// to (or that has finished) switches back to the scheduler. So the suspended context that
// jump_fcontext hands back belongs to whoever switched here, not necessarily to the context
// this one switched to: every switch passes a pointer to its own record for the resumed side
// to save it in (SwitchHandoff; Boost.Fiber does the same).
#pragma once

#include <boost/context/detail/fcontext.hpp>

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

#if WEFT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace weft::detail {

namespace bctx = boost::context::detail;

struct ExecContext {
  bctx::fcontext_t fctx = nullptr;
  // The stack this context runs on, for ASan (the scheduler's is learnt on first switch).
  const void* stack_bottom = nullptr;
  std::size_t stack_size = 0;
  // The sanitizers' own per-context state, only in their builds: without them the record's
  // first line (fiber.hpp) has room for the run-queue flag a cancel writes.
#if WEFT_ASAN
  void* asan_fake_stack = nullptr;
#endif
#if WEFT_TSAN
  void* tsan_fiber = nullptr;
#endif
};

// What a switch hands the context it resumes: where to save the suspended context (null when
// it has finished for good) and the caller's data. Lives on the switching context's stack,
// which stays intact until the resumed side has read it.
struct SwitchHandoff {
  ExecContext* from;
  void* data;
};

// The resumed side of a switch: saves the context that switched here into its record (any
// context may resume any other: the scheduler a fiber, a fiber the next ready one) and
// returns the data it passed.
inline void* arrive(bctx::transfer_t t) noexcept {
  auto* h = static_cast<SwitchHandoff*>(t.data);
  if (h->from) h->from->fctx = t.fctx;
  return h->data;
}

// Switches from `from` (the running context) to `to`, passing `data`; returns the data passed
// by whoever switches back to `from`.
inline void* switch_context(ExecContext& from, ExecContext& to, void* data) noexcept {
#if WEFT_ASAN
  __sanitizer_start_switch_fiber(&from.asan_fake_stack, to.stack_bottom, to.stack_size);
#endif
#if WEFT_TSAN
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  SwitchHandoff h{&from, data};
  void* back = arrive(bctx::jump_fcontext(to.fctx, &h));
#if WEFT_ASAN
  __sanitizer_finish_switch_fiber(from.asan_fake_stack, nullptr, nullptr);
#endif
  return back;
}

// Leaves a finished fiber for good: its stack may be freed once `to` runs.
[[noreturn]] inline void exit_context(ExecContext& to, void* data) noexcept {
#if WEFT_ASAN
  __sanitizer_start_switch_fiber(nullptr, to.stack_bottom, to.stack_size);
#endif
#if WEFT_TSAN
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  SwitchHandoff h{nullptr, data};
  bctx::jump_fcontext(to.fctx, &h);
  __builtin_unreachable();
}

// First instructions of a new fiber: records the context that started it (the scheduler or
// another fiber) and returns the data it passed.
inline void* enter_context(bctx::transfer_t t) noexcept {
#if WEFT_ASAN
  // The starter's stack, learnt here for the scheduler (a fiber's is known already).
  auto* h = static_cast<SwitchHandoff*>(t.data);
  __sanitizer_finish_switch_fiber(nullptr, &h->from->stack_bottom, &h->from->stack_size);
#endif
  return arrive(t);
}

// ThreadSanitizer's fiber for a new context, and its end.
inline void sanitizer_fiber_create([[maybe_unused]] ExecContext& c) noexcept {
#if WEFT_TSAN
  c.tsan_fiber = __tsan_create_fiber(0);
#endif
}

inline void sanitizer_fiber_destroy([[maybe_unused]] ExecContext& c) noexcept {
#if WEFT_TSAN
  if (c.tsan_fiber) __tsan_destroy_fiber(c.tsan_fiber);
  c.tsan_fiber = nullptr;
#endif
}

// The thread's own context (the scheduler's) as ThreadSanitizer knows it.
inline void sanitizer_adopt_current([[maybe_unused]] ExecContext& c) noexcept {
#if WEFT_TSAN
  c.tsan_fiber = __tsan_get_current_fiber();
#endif
}

}  // namespace weft::detail
