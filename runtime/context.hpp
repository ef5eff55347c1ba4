// weft::detail — switching between execution contexts (the scheduler and fibers) with
// Boost.Context's fcontext primitives, annotated for AddressSanitizer and ThreadSanitizer so
// that their reports on fiber stacks are real.
//
// The topology is a star: the scheduler switches to a fiber, a fiber switches back to the
// scheduler. So whoever resumes a context is the one it switched to, and the suspended
// context handed back by jump_fcontext always belongs to `to`.
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
  void* asan_fake_stack = nullptr;
  void* tsan_fiber = nullptr;
};

// Switches from `from` (the running context) to `to`, passing `data`; returns the data passed
// by whoever switches back to `from`.
inline void* switch_context([[maybe_unused]] ExecContext& from, ExecContext& to, void* data) noexcept {
#if WEFT_ASAN
  __sanitizer_start_switch_fiber(&from.asan_fake_stack, to.stack_bottom, to.stack_size);
#endif
#if WEFT_TSAN
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  bctx::transfer_t t = bctx::jump_fcontext(to.fctx, data);
  to.fctx = t.fctx;
#if WEFT_ASAN
  __sanitizer_finish_switch_fiber(from.asan_fake_stack, nullptr, nullptr);
#endif
  return t.data;
}

// Leaves a finished fiber for good: its stack may be freed once `to` runs.
[[noreturn]] inline void exit_context(ExecContext& to, void* data) noexcept {
#if WEFT_ASAN
  __sanitizer_start_switch_fiber(nullptr, to.stack_bottom, to.stack_size);
#endif
#if WEFT_TSAN
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  bctx::jump_fcontext(to.fctx, data);
  __builtin_unreachable();
}

// First instructions of a new fiber: records the scheduler's context that started it.
inline void enter_context(ExecContext& scheduler, bctx::transfer_t t) noexcept {
  scheduler.fctx = t.fctx;
#if WEFT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &scheduler.stack_bottom, &scheduler.stack_size);
#endif
}

inline void* sanitizer_fiber_create() noexcept {
#if WEFT_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}

inline void sanitizer_fiber_destroy([[maybe_unused]] void* f) noexcept {
#if WEFT_TSAN
  if (f) __tsan_destroy_fiber(f);
#endif
}

inline void* sanitizer_current_fiber() noexcept {
#if WEFT_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

}  // namespace weft::detail
