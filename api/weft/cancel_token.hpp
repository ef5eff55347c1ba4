// weft — cancellation tokens: three small types, each one job (semantics.md §6).
//
//   CancelSource    requests cancellation (an owner holds it)
//   CancelToken     observes it (functions take it; cheap to copy)
//   CancelCallback  registers a function to run when it is requested (RAII, not movable)
//
// Guarantees:
//   * A default-constructed CancelToken never cancels, allocates nothing, and costs one
//     pointer test to ask.
//   * cancel() is thread-safe and returns true only for the call that made the transition.
//     Cancellation is sticky: once requested it stays requested.
//   * Each callback runs exactly once if cancellation is requested while it is registered, on
//     the thread that called cancel(), in the order the callbacks were registered; it runs
//     inline, in the constructor, if the token was already cancelled.
//   * ~CancelCallback deregisters. If the callback is running on another thread at that
//     moment, the destructor waits for it to finish, so its captures may be destroyed right
//     after; if it is running on this thread (a callback destroying its own registration),
//     the destructor does not wait.
//   * Sources and tokens share one state with reference counts; any may outlive the others.
//   * A source may have a deadline: when it passes, the source cancels with WSAETIMEDOUT.
//     Deadlines of sources are kept by one process-wide timer thread (started at the first
//     one): a heap, one entry per source, not per call; the cancel then reaches blocked
//     fibers as any cross-thread cancel does. (A CancelScope's deadline uses its runtime's
//     own timer instead: the better choice for one fiber's calls.)
#pragma once

#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/task.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <utility>

namespace weft {

class CancelToken;
class CancelCallback;

namespace detail {
struct CancelState;
class CallRegistrations;
WEFT_API void cancel_state_add_token_ref(CancelState* s) noexcept;
WEFT_API void cancel_state_release_token_ref(CancelState* s) noexcept;
WEFT_API bool cancel_state_requested(const CancelState* s) noexcept;
WEFT_API std::error_code cancel_state_reason(const CancelState* s) noexcept;
// Keeps `attachment` alive as long as the state, and counts it as something that can still
// cancel it (a link to a parent, a std::stop_token bridge).
WEFT_API void cancel_state_attach(CancelState* s, std::shared_ptr<void> attachment);
// Requests cancellation of the state directly (for attachments, which hold no source).
WEFT_API bool cancel_state_request(CancelState* s, bool by_deadline) noexcept;
}  // namespace detail

class WEFT_API CancelToken {
 public:
  CancelToken() noexcept = default;
  CancelToken(const CancelToken& o) noexcept : state_(o.state_) {
    if (state_) detail::cancel_state_add_token_ref(state_);
  }
  CancelToken(CancelToken&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  CancelToken& operator=(CancelToken o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~CancelToken() {
    if (state_) detail::cancel_state_release_token_ref(state_);
  }

  // True once the source has been cancelled.
  bool cancel_requested() const noexcept {
    return state_ && detail::cancel_state_requested(state_);
  }
  // False for a default token (and for one whose sources are all gone uncancelled): such a
  // token can never be cancelled, and a caller may skip registering anything.
  bool can_be_cancelled() const noexcept;
  // What a blocking call observing this token returns once it is cancelled: WSAEINTR, or
  // WSAETIMEDOUT for a deadline. {} while not cancelled.
  std::error_code reason() const noexcept {
    return state_ ? detail::cancel_state_reason(state_) : std::error_code{};
  }

  friend bool operator==(const CancelToken& a, const CancelToken& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  friend class CancelSource;
  friend class CancelCallback;

 public:
  // For adapters: the state behind the token (nullptr for a default token).
  detail::CancelState* state() const noexcept { return state_; }

 private:
  explicit CancelToken(detail::CancelState* s) noexcept : state_(s) {}
  detail::CancelState* state_ = nullptr;
};

class WEFT_API CancelSource {
 public:
  // A new, uncancelled source (allocates its shared state; std::bad_alloc if that fails).
  CancelSource();
  // A new source with a deadline (a time point, or a timeout from now): see set_deadline.
  explicit CancelSource(std::chrono::steady_clock::time_point deadline);
  explicit CancelSource(std::chrono::nanoseconds timeout);
  // A child source, cancelled when any parent token is (with that parent's reason), or by its
  // own cancel(). Cancelling the child never cancels a parent. The child holds its parents'
  // state while it lives; parents hold nothing of the child: either may outlive the other.
  static CancelSource linked(std::initializer_list<CancelToken> parents);
  static CancelSource linked(std::span<const CancelToken> parents);
  CancelSource(const CancelSource& o) noexcept;
  CancelSource(CancelSource&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  CancelSource& operator=(CancelSource o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~CancelSource();

  CancelToken token() const noexcept;
  // Requests cancellation: runs every registered callback, on this thread. Thread-safe.
  // Returns true if this call made the transition, false if it was already requested (or
  // this source was moved from).
  bool cancel() noexcept;
  // The same, recording why: calls observing the token return `reason` (WSAEINTR or
  // WSAETIMEDOUT; anything else is taken as WSAEINTR).
  bool cancel(wsa reason) noexcept;
  bool cancel_requested() const noexcept {
    return state_ && detail::cancel_state_requested(state_);
  }

  // Sets or moves the deadline: when it passes, the source cancels with WSAETIMEDOUT (a
  // deadline already past cancels now, on this thread). Thread-safe; no effect once
  // cancelled. A pending deadline counts as something that can still cancel the tokens
  // (CancelToken::can_be_cancelled) and keeps the state alive until it passes or is cleared.
  void set_deadline(std::chrono::steady_clock::time_point deadline);
  void set_timeout(std::chrono::nanoseconds timeout);
  // Removes the deadline, if any. Thread-safe.
  void clear_deadline() noexcept;

 private:
  detail::CancelState* state_;
};

class WEFT_API CancelCallback {
 public:
  // Registers fn to run once when token is cancelled; runs it now if it already is. A token
  // that can never be cancelled registers nothing.
  template <class F>
  CancelCallback(const CancelToken& token, F&& fn)
      : fn_(detail::make_task(std::forward<F>(fn))) {
    attach(token);
  }
  // The same for a plain function: fn(ctx, timed_out) runs once when token is cancelled
  // (timed_out: the reason is a deadline). Allocates nothing: the runtime registers each
  // blocking call given a token this way.
  using PlainFn = void (*)(void* ctx, bool timed_out) noexcept;
  CancelCallback(const CancelToken& token, PlainFn fn, void* ctx) : plain_(fn), ctx_(ctx) {
    attach(token);
  }
  // Inline for the commonest end of a runtime registration whose token was cancelled (a
  // fan-out ends 100,000 of them): it ran, and holds no reference to release.
  ~CancelCallback() {
    if (state_ && !(borrowed_ && done_.load(std::memory_order_acquire))) detach();
  }
  CancelCallback(const CancelCallback&) = delete;
  CancelCallback& operator=(const CancelCallback&) = delete;
  CancelCallback(CancelCallback&&) = delete;
  CancelCallback& operator=(CancelCallback&&) = delete;

 private:
  friend struct detail::CancelState;
  friend class detail::CallRegistrations;
  struct Borrowed {};
  // The runtime's registration of one blocking call: the token's state is kept alive by
  // whoever registered (the call's token parameter, or a cancel scope, outlives the call),
  // so the registration takes no reference of its own — two locked instructions fewer per
  // call given a token.
  // `affinity`, when not 0, names the runtime whose thread alone ends the registration: a
  // cancel() on that thread cancels a run of such registrations under the token's lock
  // (CancelState::request).
  CancelCallback(Borrowed, const CancelToken& token, PlainFn fn, void* ctx,
                 std::uint32_t affinity)
      : plain_(fn), ctx_(ctx), borrowed_(true), affinity_(affinity) {
    attach(token);
  }
  void attach(const CancelToken& token);
  void detach() noexcept;
  void invoke(bool timed_out) noexcept;

  detail::TaskPtr fn_;
  PlainFn plain_ = nullptr;  // instead of fn_
  void* ctx_ = nullptr;
  detail::CancelState* state_ = nullptr;
  // Its place in the state's array of callbacks, guarded by the state's lock.
  static constexpr std::uint32_t kUnlinked = UINT32_MAX;
  std::uint32_t index_ = kUnlinked;
  // Set by cancel() once this callback has finished running (for a destructor on another
  // thread that waits for it).
  std::atomic<bool> done_{false};
  bool borrowed_ = false;  // holds no token reference (the Borrowed constructor)
  std::uint32_t affinity_ = 0;  // see the Borrowed constructor; 0: none
};

}  // namespace weft
