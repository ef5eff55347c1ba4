// weft::detail — the life of one blocking call on the calling fiber.
//
//   Fiber* f; if (auto ec = blocking_precheck(f)) return ec;   // may this fiber block now?
//   ... try the operation; if it can complete at once, return without blocking ...
//   BlockingCall call(f);          // outstanding from here: cancellable
//   ... register interest (timer node, waiter on a socket) ...
//   CallState s = call.wait();     // suspended until the outcome is fixed
//   ... unregister interest (RAII, declared after `call`) and apply the per-operation rule ...
//
// The outcome lives in the fiber's slot word (fiber_table.hpp) and is fixed once, by
// compare-and-swap, by whichever comes first: completion, cancel, deadline, or runtime stop.
#pragma once

#include "fiber.hpp"
#include "runtime_impl.hpp"
#include "scope.hpp"

#include <weft/error.hpp>

namespace weft::detail {

// The current fiber, if it may start a blocking call now; otherwise the error to return:
// WSAEINVAL outside a fiber, WSAEINPROGRESS inside a hook or message of a blocked fiber,
// WSAENETDOWN while the runtime stops.
inline Err blocking_precheck(Fiber*& out) noexcept {
  RuntimeImpl* rt = tls_runtime;
  Fiber* f = rt ? rt->current() : nullptr;
  if (!f) return wsa::einval;
  if (f->pseudo_depth > 0) return wsa::einprogress;
  if (rt->stopping()) return wsa::enetdown;
  if (has_tokens(f)) {
    if (auto ec = cancel_check(f)) return ec;  // a cancelled token: sticky
  }
  out = f;
  return {};
}

// The start of every public blocking call: makes the call's token (its trailing parameter)
// apply to the calling fiber for the call's duration, and is the call's checkpoint.
class CallEntry {
 public:
  explicit CallEntry(const CancelToken& token) noexcept {
    RuntimeImpl* rt = tls_runtime;
    f_ = rt ? rt->current() : nullptr;
    if (f_ && token.state()) {
      prev_ = f_->call_token;
      f_->call_token = &token;
      set_ = true;
    }
  }
  ~CallEntry() {
    if (set_) f_->call_token = prev_;
  }
  CallEntry(const CallEntry&) = delete;
  CallEntry& operator=(const CallEntry&) = delete;

  // WSAEINTR / WSAETIMEDOUT if a token applying to the call (its own, its fiber's scopes') is
  // already cancelled. Every blocking call asks this before it does anything, so that even a
  // call that could finish at once (a recv with data queued) sees a cancelled token: a loop
  // over a fast stream still stops. (Inside a hook or message the call is refused later,
  // with WSAEINPROGRESS, if it would block.)
  Err checkpoint() const noexcept {
    if (!f_ || f_->pseudo_depth > 0 || !has_tokens(f_)) return {};
    return cancel_check(f_);
  }
  // The calling fiber, or nullptr outside a fiber.
  Fiber* fiber() const noexcept { return f_; }

 private:
  Fiber* f_ = nullptr;
  const CancelToken* prev_ = nullptr;
  bool set_ = false;
};

// The outcome a checkpoint's error stands for.
inline CallState checkpoint_state(Err e) noexcept {
  return e.is(wsa::etimedout) ? CallState::timed_out : CallState::cancelled;
}

// The error a fixed outcome means for the call (none for completion).
inline Err outcome_error(CallState s) noexcept {
  switch (s) {
    case CallState::cancelled: return wsa::eintr;
    case CallState::timed_out: return wsa::etimedout;
    case CallState::netdown: return wsa::enetdown;
    default: return {};
  }
}

class BlockingCall {
 public:
  explicit BlockingCall(Fiber* f) : f_(f) {
    f_->slot->word.store(make_word(f_->gen(), CallState::pending), std::memory_order_release);
    // A call given a token, or inside cancel scopes, is cancelled by those tokens too (one
    // registration per token for the call's duration; none at all without tokens).
    if (has_tokens(f_)) scope_register(f_, f_->call_registrations);
  }
  ~BlockingCall() {
    // Deregistered (waiting for one running elsewhere) before the call ends.
    f_->call_registrations.clear();
    f_->slot->word.store(make_word(f_->gen(), CallState::idle), std::memory_order_release);
  }
  BlockingCall(const BlockingCall&) = delete;
  BlockingCall& operator=(const BlockingCall&) = delete;

  // Suspends until the outcome is fixed; returns it. Messages posted to the fiber and its
  // blocking hook run here, on the fiber's stack, while the call is outstanding; other
  // spurious wake-ups (a stale cross-thread wake) are absorbed.
  //
  // Inline, for a call with neither messages nor a hook: a parked fiber's resumption then
  // returns through as few frames as possible (each return after a context switch is one
  // the processor's return predictor gets wrong).
  CallState wait() noexcept {
    Fiber* f = f_;
    bool started = false;
    for (;;) {
      if (f->has_pseudo_work()) return wait_pseudo(started);
      CallState s = f->call_state();
      if (s != CallState::pending) return s;
      started = true;
      f->rt->suspend();
    }
  }

  // After a completion that turned out spurious (readiness, then EAGAIN): makes the call
  // outstanding again. Returns the outcome instead if a cancel arrived meanwhile (it found
  // the call completed and asked for it anyway: no data moved, so the cancel takes effect).
  CallState rearm() noexcept {
    std::uint64_t w = f_->slot->word.load(std::memory_order_acquire);
    for (;;) {
      if (w & kCancelRequested) {
        f_->slot->word.store(make_word(f_->gen(), CallState::cancelled), std::memory_order_release);
        return CallState::cancelled;
      }
      if (f_->rt->stopping()) {
        f_->slot->word.store(make_word(f_->gen(), CallState::netdown), std::memory_order_release);
        return CallState::netdown;
      }
      if (f_->slot->word.compare_exchange_weak(w, make_word(f_->gen(), CallState::pending),
                                               std::memory_order_acq_rel,
                                               std::memory_order_acquire)) {
        return CallState::pending;
      }
    }
  }

  Fiber* fiber() const noexcept { return f_; }

 private:
  // wait() with pseudo-blocking work: messages and the hook (semantics.md §5). `started`:
  // the call has already blocked once (the hook's first run is behind it).
  CallState wait_pseudo(bool started) noexcept;

  Fiber* f_;
};

// A timer that fixes fiber f's outstanding call to `how` when it fires (completion for a
// sleep, timed_out for a call's deadline); removed from the heap when the call's frame ends.
class CallDeadline {
 public:
  CallDeadline(Fiber* f, CallState how) noexcept : timer_(f->rt->timers()), f_(f), how_(how) {}
  void arm(std::int64_t due_ns) {
    timer_.arm(due_ns, [](TimerNode* n) {
      auto* self = static_cast<CallDeadline*>(n->ctx);
      self->fired_ = true;
      self->f_->rt->complete(self->f_, self->how_);
    }, this);
  }
  // True once the timer has fired (whether or not it fixed the outcome).
  bool fired() const noexcept { return fired_; }

 private:
  ScopedTimer timer_;
  Fiber* f_;
  CallState how_;
  bool fired_ = false;
};

// Runs the fiber's queued messages (and its hook after each), as pseudo-blocking code when
// `during_call`. Returns true if any ran.
bool run_fiber_messages(Fiber* f, bool during_call) noexcept;
// Runs the fiber's blocking hook until it returns false or the call's outcome is fixed.
void run_blocking_hook(Fiber* f) noexcept;

// Fixes fiber `id`'s outstanding call to `how` (cancelled or timed_out) from any thread:
// semantics.md §2. Returns 0, WSAEINVAL or WSAENETDOWN.
Status cancel_call(FiberId id, CallState how) noexcept;
// The same for a live fiber of the calling thread's runtime, known by its record.
Status cancel_local(Fiber* f, CallState how) noexcept;

}  // namespace weft::detail
