// weft — cancel scopes: a token made ambient for every blocking call of a fiber inside the
// scope, however deep (library code that never heard of tokens is cancelled too).
//
//   {
//     weft::CancelScope scope(std::chrono::seconds(5));   // a deadline
//     handle_request(conn);          // any blocking call inside fails WSAETIMEDOUT after 5 s
//   }
//
// Rules:
//   * A blocking call inside a scope whose token is already cancelled fails at once
//     (WSAEINTR, or WSAETIMEDOUT for a deadline) before it does anything — sticky, now and
//     later — even one that could have finished without suspending (a recv with data queued,
//     a zero sleep): every blocking call is a checkpoint, so a loop over a fast stream stops
//     too. Calls that never block (MSG_DONTWAIT, a zero-timeout poll) are not checkpoints.
//   * A call suspended inside the scope when its token is cancelled ends with that error and
//     leaves what semantics.md §3 says for its operation.
//   * Scopes nest: every enclosing scope's token applies, up to the nearest shielded scope.
//   * A shielded scope (CancelScope(CancelScope::shield)) is not reached by enclosing scopes'
//     cancellation: clean-up (a graceful close, a final write) runs inside one.
//   * A scope belongs to the fiber that created it and must be destroyed there, innermost
//     first (it is an RAII object on the fiber's stack). Outside a fiber it does nothing.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>

#include <chrono>

namespace weft {

namespace detail {
struct ScopeRecord;
}

class WEFT_API CancelScope {
 public:
  struct Shield {};
  static constexpr Shield shield{};

  // A scope with a source of its own: cancel() cancels the blocking calls inside it.
  CancelScope();
  // The same, and `token` (from a CancelSource elsewhere) is ambient inside it too.
  explicit CancelScope(CancelToken token);
  // A scope whose calls fail WSAETIMEDOUT once the deadline passes (one timer per scope).
  explicit CancelScope(std::chrono::steady_clock::time_point deadline);
  explicit CancelScope(std::chrono::nanoseconds timeout);
  // A shielded scope: enclosing scopes' cancellation does not reach inside.
  explicit CancelScope(Shield);
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

  // Cancels the blocking calls inside this scope (WSAEINTR). Thread-safe: it is the scope's
  // own CancelSource.
  void cancel() noexcept;
  // The scope's own token (cancelled by cancel() or the deadline).
  CancelToken token() const noexcept;
  // Moves the deadline (or sets one); the calling fiber's runtime thread only.
  void set_deadline(std::chrono::steady_clock::time_point deadline) noexcept;
  // True once any token that applies inside this scope is cancelled.
  bool cancel_requested() const noexcept;

 private:
  detail::ScopeRecord* record_;
};

}  // namespace weft
