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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <utility>

namespace weft {

class CancelToken;
class CancelCallback;

// Why a source was cancelled: by cancel(), or by a deadline. A blocking call observing the
// token returns WSAEINTR for the one and WSAETIMEDOUT for the other.
enum class CancelReason : std::uint8_t { cancelled, timed_out };

namespace detail {
// The state a source's tokens and callbacks share, and a callback's registration on it, are
// the library's (runtime/cancel_state.hpp); the functions below are what this header's inline
// members call.
struct CancelState;
WEFT_API void cancel_state_add_token_ref(CancelState* s) noexcept;
WEFT_API void cancel_state_release_token_ref(CancelState* s) noexcept;
WEFT_API bool cancel_state_requested(const CancelState* s) noexcept;
WEFT_API std::error_code cancel_state_reason(const CancelState* s) noexcept;
// The room a CancelCallback keeps for its registration (checked where the registration is
// defined).
inline constexpr std::size_t kCancelRegistrationSize = 40;
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
  friend struct detail::CancelState;
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
  // Requests cancellation, for `why`: runs every registered callback, on this thread.
  // Thread-safe. Returns true if this call made the transition, false if it was already
  // requested (or this source was moved from). Calls observing the token return WSAEINTR, or
  // WSAETIMEDOUT for CancelReason::timed_out (what a deadline does).
  bool cancel(CancelReason why = CancelReason::cancelled) noexcept;
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
  CancelCallback(const CancelToken& token, F&& fn) : task_(detail::make_task(std::forward<F>(fn))) {
    attach(token, nullptr, nullptr);
  }
  // The same for a plain function: fn(ctx, why) runs once when token is cancelled. Allocates
  // nothing.
  using PlainFn = void (*)(void* ctx, CancelReason why) noexcept;
  CancelCallback(const CancelToken& token, PlainFn fn, void* ctx) { attach(token, fn, ctx); }
  ~CancelCallback();
  CancelCallback(const CancelCallback&) = delete;
  CancelCallback& operator=(const CancelCallback&) = delete;
  CancelCallback(CancelCallback&&) = delete;
  CancelCallback& operator=(CancelCallback&&) = delete;

 private:
  void attach(const CancelToken& token, PlainFn fn, void* ctx);

  detail::TaskPtr task_;  // the function, unless a plain one was given
  alignas(void*) unsigned char registration_[detail::kCancelRegistrationSize];
};

}  // namespace weft
