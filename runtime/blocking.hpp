// weft::detail — THE blocking call: the one way every public call that can suspend starts,
// waits and ends (semantics.md §7a, §2, §3).
//
// The recipe. Every blocking call, today's and every later one, is written this way:
//
//   Result<T> some_call(Handle h, Args a, const CancelToken& token) {
//     detail::BlockingEntry entry(token);            // the call's token applies from here on
//     if (auto ec = entry.need_fiber()) return ec;    // §7a 1: WSAEINVAL off a fiber
//     ... look the handle up, check the arguments ... // §7a 1-2: WSAENOTSOCK, WSAEFAULT, ...
//     if (auto ec = entry.admit()) return ec;         // §7a 3-5: WSAEINPROGRESS in a hook,
//                                                     // WSAENETDOWN at stop, a cancelled
//                                                     // token's WSAEINTR / WSAETIMEDOUT
//     ... try: if it completes at once, return its result ...          // §7a 6
//     detail::BlockingCall call(entry);               // outstanding from here: cancellable
//     ... register interest: a waiter on a socket or a queue, a timer (RAII, after `call`) ...
//     CallState how = call.wait();                    // parked until the outcome is fixed
//     if (how != CallState::completed) {
//       leave_after_cancel(...);                      // the one table (cancel_rule.hpp)
//       return outcome_error(how);
//     }
//     ... the result the completion delivered ...
//   }
//
// A socket call that retries its syscall on readiness runs `BlockingCall ... wait` in a loop:
// park_until_done (park.hpp). A non-blocking form (MSG_DONTWAIT, a zero timeout, a try_
// form) is not a blocking call: it may run outside a fiber, skips admit() and never parks.
//
// The outcome lives in the fiber's slot word (fiber_table.hpp) and is fixed once, by
// compare-and-swap, by whichever comes first: completion, cancel, deadline, or runtime stop.
#pragma once

#include "fiber.hpp"
#include "runtime_impl.hpp"
#include "scope.hpp"

#include <weft/error.hpp>

namespace weft::detail {

// The start of every public blocking call. Makes the call's token (its trailing parameter)
// apply to the calling fiber for the call's duration — calls it makes internally (recv_exact's
// recvs, a lingering close's waits) observe it too — and answers the checks of semantics.md
// §7a in their order: need_fiber() is step 1, admit() steps 3 to 5; the call checks its own
// handle and arguments (steps 1 and 2) between the two.
class BlockingEntry {
 public:
  // `call` names the call and (`obj`, `value`) what it waits on, for a fiber dump.
  explicit BlockingEntry(const CancelToken& token, const char* call = nullptr,
                         WaitObj obj = WaitObj::none, std::uint64_t value = 0) noexcept
      : call_(call), value_(value), obj_(obj) {
    enter(token);
  }
  // For a call that names itself only once it waits (BlockingCall's second form, which the
  // socket calls' park_until_done uses): the entry holds no description, so that the fast
  // path of a call that does not wait stores nothing for a dump. Only that form of
  // BlockingCall may be made from such an entry.
  struct DescribedAtWait {};
  BlockingEntry(const CancelToken& token, DescribedAtWait) noexcept { enter(token); }
  ~BlockingEntry() {
    if (set_) f_->call_token = prev_;
  }
  BlockingEntry(const BlockingEntry&) = delete;
  BlockingEntry& operator=(const BlockingEntry&) = delete;

  // Step 1: WSAEINVAL unless the call is made on a fiber of a running runtime.
  Err need_fiber() const noexcept { return f_ ? Err() : Err(wsa::einval); }

  // Steps 3 to 5, for a fiber (need_fiber() passed): WSAEINPROGRESS inside a blocking hook
  // or a message of a blocked fiber (one blocking call per fiber, semantics.md §5);
  // WSAENETDOWN once the runtime stops; WSAEINTR / WSAETIMEDOUT if a token applying to the
  // call (its own, its fiber's scopes') is already cancelled. Every blocking call asks this
  // before it tries anything, so the answer never depends on whether the call would have had
  // to wait: even a recv with data queued fails under a cancelled token, and a loop over a
  // fast stream still stops.
  Err admit() const noexcept {
    if (f_->pseudo_depth > 0) return wsa::einprogress;
    if (rt_->stopping()) return wsa::enetdown;
    if (has_tokens(f_)) return cancel_check(f_);
    return {};
  }

  // The calling fiber (nullptr outside a fiber) and the runtime of this thread (nullptr on
  // a thread that runs none).
  Fiber* fiber() const noexcept { return f_; }
  RuntimeImpl* runtime() const noexcept { return rt_; }

  // Records what the call waits on in its fiber, as it becomes outstanding: the entry's
  // description, or the one given (a socket call's, told only once it waits: its fast path
  // then stores nothing).
  void describe(Fiber* f) const noexcept { describe(f, call_, obj_, value_); }
  void describe(Fiber* f, const char* call, WaitObj obj, std::uint64_t value) const noexcept {
    f->wait_call = call;
    f->wait_obj = obj;
    f->wait_value = value;
    f->wait_since_ms = static_cast<std::int64_t>(rt_->loop()->time);
    f->wait_deadline_ns = 0;
  }

 private:
  void enter(const CancelToken& token) noexcept {
    rt_ = tls_runtime;
    f_ = rt_ ? rt_->current() : nullptr;
    if (f_ && CancelState::of(token)) {
      prev_ = f_->call_token;
      f_->call_token = &token;
      set_ = true;
    }
  }

  RuntimeImpl* rt_ = nullptr;
  Fiber* f_ = nullptr;
  const CancelToken* prev_ = nullptr;
  // The description (unset with DescribedAtWait).
  const char* call_;
  std::uint64_t value_;
  WaitObj obj_;
  bool set_ = false;
};

// The error a fixed outcome means for the call (none for completion).
inline Err outcome_error(CallState s) noexcept {
  switch (s) {
    case CallState::cancelled: return wsa::eintr;
    case CallState::timed_out: return wsa::etimedout;
    case CallState::netdown: return wsa::enetdown;
    default: return {};
  }
}

// One outstanding blocking call of the calling fiber, from its constructor (the call may be
// cancelled from here on) to its destructor (the fiber has no outstanding call again).
class BlockingCall {
 public:
  // For a call admitted by `entry` (BlockingEntry::admit() returned no error).
  explicit BlockingCall(const BlockingEntry& entry) : BlockingCall(entry.fiber()) {
    entry.describe(f_);
  }
  // The same, for a call that names itself and what it waits on only now.
  BlockingCall(const BlockingEntry& entry, const char* call, WaitObj obj, std::uint64_t value)
      : BlockingCall(entry.fiber()) {
    entry.describe(f_, call, obj, value);
  }
  explicit BlockingCall(Fiber* f) : f_(f) {
    f_->slot->word.begin(f_->gen());
    // A call given a token, or inside cancel scopes, is cancelled by those tokens too (one
    // registration per token for the call's duration; none at all without tokens).
    if (has_tokens(f_)) scope_register(f_, f_->call_registrations);
  }
  ~BlockingCall() {
    // Deregistered (waiting for one running elsewhere) before the call ends.
    f_->call_registrations.clear();
    // Counted by how it ended (semantics.md §11): completed, cancelled, timed out, stopped.
    auto s = static_cast<unsigned>(f_->call_state());
    if (s >= static_cast<unsigned>(CallState::completed)) {
      bump(f_->rt->counters().outcomes[s - static_cast<unsigned>(CallState::completed)]);
    }
    f_->slot->word.end(f_->gen());
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
  CallState rearm() noexcept { return f_->slot->word.rearm(f_->gen(), f_->rt->stopping()); }

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
    f_->wait_deadline_ns = due_ns;
    timer_.arm(
        due_ns,
        [](TimerNode* n) {
          auto* self = static_cast<CallDeadline*>(n->ctx);
          self->fired_ = true;
          self->f_->rt->complete(self->f_, self->how_);
        },
        this);
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

// join() of fiber `id` (slot `s`, still alive when asked) of another runtime, for a call that
// `entry` admitted: waits for its end like a local join. (Returns wsa codes.)
Status join_remote(const BlockingEntry& entry, FiberSlot* s, FiberId id);

// The registration of `joiner`'s outstanding call for the end of fiber `target` (slot `s`) of
// another runtime (remote_join.cpp): that end completes the call. If the target ends before
// the registration is seen, the constructor completes the call itself.
class RemoteJoin {
 public:
  RemoteJoin(FiberSlot* s, FiberId target, Fiber* joiner) noexcept;
  ~RemoteJoin();
  RemoteJoin(const RemoteJoin&) = delete;
  RemoteJoin& operator=(const RemoteJoin&) = delete;

 private:
  friend void remote_joiners_notify(FiberSlot* s, FiberId id) noexcept;
  FiberSlot* slot_;
  FiberId target_;
  FiberId joiner_;
  ListHook<RemoteJoin> hook_{this};
};

// Fixes fiber `id`'s outstanding call to `how` (cancelled or timed_out) from any thread:
// semantics.md §2. Returns 0, WSAEINVAL or WSAENETDOWN.
Status cancel_call(FiberId id, CallState how) noexcept;
// The same for a live fiber of the calling thread's runtime, known by its record.
Status cancel_local(Fiber* f, CallState how) noexcept;

}  // namespace weft::detail
