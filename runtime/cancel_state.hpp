// weft::detail — the state behind sources, tokens and callbacks (weft/cancel_token.hpp), the
// registrations it holds, and the thread that keeps sources' deadlines.
//
// The public header knows the state only as an opaque pointer and a callback's registration
// only as room of a checked size: the state and the registration are the runtime's, so the
// runtime may register a blocking call on a token (CallRegistrations) without the public
// header naming anything of the runtime's.
#pragma once

#include "spin_lock.hpp"

#include <weft/cancel_token.hpp>
#include <weft/error.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace weft::detail {

// What a blocking call observing a token cancelled for `why` returns.
inline std::error_code error_of(CancelReason why) noexcept {
  return why == CancelReason::timed_out ? wsa::etimedout : wsa::eintr;
}

// One function registered on a token: what the state's array holds. A CancelCallback keeps one
// in its room for it; the runtime's registrations of blocking calls are bare ones, in the
// fiber's record (CallRegistrations).
struct CancelRegistration {
  using Fn = void (*)(void* ctx, CancelReason why) noexcept;
  static constexpr std::uint32_t kUnlinked = UINT32_MAX;

  Fn fn = nullptr;
  void* ctx = nullptr;
  // The state it is registered on, or ran on; null when nothing was registered (the token
  // was a default one, could never be cancelled, or was cancelled already and fn ran inline).
  CancelState* state = nullptr;
  // Its place in the state's array, guarded by the state's lock.
  std::uint32_t index = kUnlinked;
  // When not 0, names the runtime whose thread alone ends the registration: a cancel on that
  // thread cancels a run of such registrations under the token's lock (CancelState::request).
  std::uint32_t affinity = 0;
  // Set by the cancelling thread once fn has finished running (for an end on another thread,
  // which waits for it).
  std::atomic<bool> done{false};
  // Holds no reference to the state: whoever registered keeps the state alive for longer
  // (a blocking call's token parameter, or a cancel scope, outlives the call) — two locked
  // instructions fewer per call given a token.
  bool borrowed = false;

  // Registers fn on s (nullptr: nothing to register), or runs it at once if s is cancelled
  // already. std::bad_alloc if the state's array cannot grow.
  void attach(CancelState* s);
  // Deregisters: afterwards fn is not running and never will. If it is running on another
  // thread, waits for it to finish; if on this one (fn ending its own registration), does not.
  // Inline for the commonest end of a runtime registration whose token was cancelled (a
  // fan-out ends 100,000 of them): it ran, and holds no reference to release.
  void end() noexcept {
    if (state && !(borrowed && done.load(std::memory_order_acquire))) detach();
  }

 private:
  void detach() noexcept;
};
static_assert(sizeof(CancelRegistration) == kCancelRegistrationSize &&
                  alignof(CancelRegistration) <= alignof(void*),
              "CancelCallback's room for its registration (weft/cancel_token.hpp) must match");

// The deadlines of sources: one heap (an ordered multimap) and one thread for the process,
// started at the first deadline (runtime/deadline_thread.cpp). An entry holds a source
// reference on its state, so that the state lives, and counts as cancellable, until the
// entry fires or is removed. Never destroyed: its thread may be waiting when the process
// exits.
class DeadlineService {
 public:
  using Clock = std::chrono::steady_clock;
  using Heap = std::multimap<Clock::time_point, CancelState*>;

  static DeadlineService& get();
  // Arms or moves s's deadline (s is not cancelled; the caller holds a reference).
  void set(CancelState* s, Clock::time_point when);
  // Removes s's deadline if it has one; the entry's reference is dropped after the lock.
  void clear(CancelState* s) noexcept;
  // s's deadline (steady-clock nanoseconds), 0 if it has none: for a fiber dump.
  std::int64_t due_ns(CancelState* s) noexcept;

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  Heap heap_;
  bool started_ = false;
};

// The state sources, tokens and callbacks share.
//
// refs, bit by bit: bits 32..63 count sources, bits 0..31 count tokens (registered callbacks
// hold a token reference). The state is freed when both reach zero. `cancelled` is set once,
// under the lock. The lock guards the registrations, `executing` and `executing_thread`; it
// is held to add, remove or pick the next registration, and while the runtime's own
// registrations are cancelled (request()), never while a function of any other kind runs.
struct CancelState {
  static constexpr std::uint64_t kSource = std::uint64_t{1} << 32;
  static constexpr std::uint64_t kToken = 1;
  static constexpr std::uint32_t kRun = 64;  // request(): registrations cancelled per lock
  static constexpr std::uint32_t kInlineSlots = 4;

  std::atomic<std::uint64_t> refs{kSource};
  std::atomic<bool> cancelled{false};
  std::atomic<CancelReason> why{CancelReason::cancelled};  // written before `cancelled`
  SpinLock spin;
  // The registrations in registration order, each knowing its place
  // (CancelRegistration::index). A removed one leaves a null behind, so that adding or
  // removing touches no other registration; the nulls are squeezed out when the array is full
  // and at least half of it, or dropped when it is all nulls, and never once cancelled
  // (request() walks the array by index, letting the lock go between functions). An array
  // rather than a list, so that request() finds the registrations far ahead of the one it
  // runs: a fan-out over 100,000 fibers loads their records ahead instead of one after
  // another. The first few places are in the state: a source made per call allocates nothing
  // more.
  CancelRegistration** slots = inline_slots;
  std::uint32_t used = 0;  // places used: registrations and nulls
  std::uint32_t capacity = kInlineSlots;
  std::uint32_t holes = 0;
  CancelRegistration* inline_slots[kInlineSlots];
  CancelRegistration* executing = nullptr;
  std::thread::id executing_thread;
  // Set by the executing registration's end when it runs inside its own function (on the
  // executing thread): its memory may be gone, so request() leaves it alone.
  bool executing_destroyed = false;
  // Links to parents and other bridges; destroyed with the state, first (their functions may
  // be running elsewhere and touch this state until their destructors return).
  std::mutex attachments_mu;
  std::vector<std::shared_ptr<void>> attachments;
  std::atomic<bool> attached{false};
  // The deadline's entry, guarded by the deadline service's lock; `has_deadline` may be read
  // without it (a hint for request()).
  DeadlineService::Heap::iterator deadline_entry;
  std::atomic<bool> has_deadline{false};

  CancelState() = default;
  CancelState(const CancelState&) = delete;
  CancelState& operator=(const CancelState&) = delete;
  ~CancelState() {
    attachments.clear();
    release_slots();
  }

  // The state behind a token (nullptr for a default token), and a token of a state (which
  // takes a token reference).
  static CancelState* of(const CancelToken& t) noexcept { return t.state_; }
  static CancelToken token_of(CancelState* s) noexcept {
    s->refs.fetch_add(kToken, std::memory_order_relaxed);
    return CancelToken(s);
  }

  void lock() noexcept { spin.lock(); }
  void unlock() noexcept { spin.unlock(); }

  void release(std::uint64_t amount) noexcept {
    if (refs.fetch_sub(amount, std::memory_order_acq_rel) == amount) delete this;
  }
  bool has_sources() const noexcept {
    return (refs.load(std::memory_order_acquire) >> 32) != 0 ||
           attached.load(std::memory_order_acquire);
  }
  // {} while not cancelled, else what a call observing it returns.
  std::error_code reason() const noexcept {
    if (!cancelled.load(std::memory_order_acquire)) return {};
    return error_of(why.load(std::memory_order_relaxed));
  }

  // Keeps `attachment` alive as long as the state, and counts it as something that can still
  // cancel it (a link to a parent, a std::stop_token bridge).
  void attach(std::shared_ptr<void> attachment);

  // Requests cancellation: runs every registered function, on this thread. True if this call
  // made the transition.
  bool request(CancelReason why) noexcept;

  // For CancelRegistration, under the lock.
  void release_slots() noexcept;
  // Appends: functions run in the order they were registered. False if there is no room and
  // no memory for more (not cancelled: the array may be squeezed).
  bool push(CancelRegistration* r) noexcept;
  void unlink(CancelRegistration* r) noexcept;

 private:
  void squeeze() noexcept;
  bool grow() noexcept;
};

}  // namespace weft::detail
