// Waiting on a coordination primitive (waiters.hpp): a fiber's call, a plain thread's futex.
#include "waiters.hpp"

#include <climits>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weft::detail {
namespace {

constexpr std::uint32_t as_word(CallState s) noexcept { return static_cast<std::uint32_t>(s); }

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected,
            nullptr, nullptr, 0);
}

// A thread's wait ends when a cancel of its token fixes the parker first. One that finds it
// completed is remembered, as a fiber's outcome word does, for a rearm.
void cancel_thread_wait(void* ctx, CancelReason why) noexcept {
  auto* p = static_cast<ThreadParker*>(ctx);
  const bool timed_out = why == CancelReason::timed_out;
  std::uint32_t w = p->state.load(std::memory_order_acquire);
  for (;;) {
    switch (state_of(w)) {
      case CallState::pending:
        if (p->state.compare_exchange_weak(
                w, as_word(timed_out ? CallState::timed_out : CallState::cancelled),
                std::memory_order_acq_rel)) {
          Wakes::wake_thread(p);
          return;
        }
        continue;
      case CallState::completed:
        if (w & kCancelRequested) return;
        if (p->state.compare_exchange_weak(
                w, w | kCancelRequested | (timed_out ? kRequestTimedOut : 0),
                std::memory_order_acq_rel)) {
          return;
        }
        continue;
      default: return;
    }
  }
}

}  // namespace

ThreadParker& this_thread_parker() noexcept {
  static thread_local ThreadParker parker;
  return parker;
}

std::uint64_t this_owner() noexcept {
  if (RuntimeImpl* rt = tls_runtime) {
    if (Fiber* f = rt->current()) return to_integer(f->id);
  }
  static std::atomic<std::uint64_t> next_thread{1};
  static thread_local std::uint64_t mine = 0;
  if (mine == 0) mine = (std::uint64_t{1} << 63) | next_thread.fetch_add(1);
  return mine;
}

void Wakes::wake_fiber(FiberId id) noexcept {
  if (FiberSlot* s = fiber_table_slot(id)) wake(id, s);
}

void Wakes::wake_remote(FiberId id, std::uint32_t ri) noexcept {
  if (RuntimeImpl* here = tls_runtime) here->note_woke_elsewhere();
  // If the fiber has moved on meanwhile (another source readied it), the wake is stale and
  // its runtime absorbs it; if the runtime is gone, so is the fiber.
  if (RuntimeMailbox* m = registry_acquire(ri)) {
    (void)m->push_wake(id);
    m->release();
  }
}

void Wakes::wake_thread(ThreadParker* p) noexcept {
  if (RuntimeImpl* here = tls_runtime) here->note_woke_elsewhere();
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&p->state), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
}

void WaitCall::begin_thread(const CancelToken& token) {
  waiter_.owner = this_owner();
  ThreadParker& p = this_thread_parker();
  waiter_.parker = &p;
  p.state.store(as_word(CallState::pending), std::memory_order_release);
  CancelRegistration& r = registration_.emplace();
  r.fn = cancel_thread_wait;
  r.ctx = &p;
  r.borrowed = true;  // the token parameter outlives the call
  r.attach(CancelState::of(token));
}

void WaitCall::end_thread() noexcept {
  registration_->end();
  waiter_.parker->state.store(as_word(CallState::idle), std::memory_order_release);
}

CallState WaitCall::wait_thread() noexcept {
  std::atomic<std::uint32_t>& word = waiter_.parker->state;
  for (;;) {
    std::uint32_t w = word.load(std::memory_order_acquire);
    if (state_of(w) != CallState::pending) return state_of(w);
    futex_wait(word, w);
  }
}

CallState WaitCall::rearm_thread() noexcept {
  std::atomic<std::uint32_t>& word = waiter_.parker->state;
  std::uint32_t w = word.load(std::memory_order_acquire);
  for (;;) {
    CallState instead = (w & kRequestTimedOut)   ? CallState::timed_out
                        : (w & kCancelRequested) ? CallState::cancelled
                                                 : CallState::pending;
    if (instead != CallState::pending) {
      word.store(as_word(instead), std::memory_order_release);
      return instead;
    }
    if (word.compare_exchange_weak(w, as_word(CallState::pending), std::memory_order_acq_rel)) {
      return CallState::pending;
    }
  }
}

void WaitCall::shield() noexcept {
  if (!waiter_.parker) return;  // a fiber: its call's outcome is fixed; nothing readies it
  registration_->end();
  registration_->state = nullptr;
  waiter_.parker->state.store(as_word(CallState::pending), std::memory_order_release);
}

void WaitCall::wait_granted(const WaitNode& n) noexcept {
  if (call_) {
    Fiber* f = call_->fiber();
    while (!n.granted.load(std::memory_order_acquire)) f->rt->suspend();
    return;
  }
  std::atomic<std::uint32_t>& word = waiter_.parker->state;
  while (!n.granted.load(std::memory_order_acquire)) {
    std::uint32_t w = word.load(std::memory_order_acquire);
    if (n.granted.load(std::memory_order_acquire)) break;
    futex_wait(word, w);
  }
}

}  // namespace weft::detail
