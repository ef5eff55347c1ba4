// Pseudo-blocking (semantics.md §5): fiber messages and blocking hooks run on the blocked
// fiber's stack while its call is outstanding.
#include "blocking.hpp"
#include "log.hpp"

#include <exception>
#include <typeinfo>

namespace weft::detail {
namespace {

// Marks the fiber as running pseudo-blocking code for the lifetime of the guard.
struct PseudoScope {
  explicit PseudoScope(Fiber* fiber) : f(fiber) { ++f->pseudo_depth; }
  ~PseudoScope() { --f->pseudo_depth; }
  Fiber* f;
};

template <class Fn>
void run_guarded(Fiber* f, const char* what, Fn&& fn) noexcept {
  try {
    fn();
  } catch (const std::exception& e) {
    log_critical("runtime {}: {}: uncaught exception in {}: {}: {}", f->rt->index(),
                 fiber_label(*f), what, typeid(e).name(), e.what());
    std::terminate();
  } catch (...) {
    log_critical("runtime {}: {}: uncaught exception in {}", f->rt->index(), fiber_label(*f), what);
    std::terminate();
  }
}

}  // namespace

void run_blocking_hook(Fiber* f) noexcept {
  if (!f->hook) return;
  PseudoScope scope(f);
  // A hook that keeps finding work is called again at once (Winsock's default hook loop); it
  // stops when the hook is idle or the call's outcome has been fixed (by a cancel from the
  // hook, say).
  run_guarded(f, "a blocking hook", [&] {
    while (f->hook && f->hook() && f->call_state() == CallState::pending) {}
  });
}

bool run_fiber_messages(Fiber* f, bool during_call) noexcept {
  bool ran = false;
  while (!f->messages.empty()) {
    TaskPtr m = f->messages.pop_front();
    ran = true;
    if (during_call) {
      PseudoScope scope(f);
      run_guarded(f, "a fiber message", [&] { m->run(); });
    } else {
      run_guarded(f, "a fiber message", [&] { m->run(); });
    }
    if (during_call) run_blocking_hook(f);  // "after every message"
  }
  return ran;
}

CallState BlockingCall::wait_pseudo(bool started) noexcept {
  Fiber* f = f_;
  RuntimeImpl* rt = f->rt;
  // The hook's interval timer: it only wakes the fiber (never completes the call).
  ScopedTimer hook_timer(rt->timers());
  for (;;) {
    if (f->call_state() != CallState::pending) return f->call_state();
    if (!started) {
      started = true;
      run_blocking_hook(f);  // once when the call starts to block
      continue;
    }
    if (run_fiber_messages(f, true)) continue;
    if (f->hook && !hook_timer.armed()) {
      hook_timer.arm(
          RuntimeImpl::now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      rt->options().blocking_hook_interval)
                                      .count(),
          [](TimerNode* n) {
            auto* fiber = static_cast<Fiber*>(n->ctx);
            fiber->rt->make_ready(fiber);
          },
          f);
    }
    rt->suspend();
    if (f->hook && !hook_timer.armed() && f->call_state() == CallState::pending &&
        f->messages.empty()) {
      run_blocking_hook(f);  // the interval passed
    }
  }
}

}  // namespace weft::detail
