// weft::detail — cancel scopes on a fiber: the records behind weft::CancelScope, and what a
// blocking call asks of them.
#pragma once

#include "errors.hpp"
#include "fiber.hpp"
#include "timer_heap.hpp"

#include <weft/cancel_token.hpp>

#include <memory>
#include <system_error>
#include <vector>

namespace weft::detail {

class RuntimeImpl;

struct ScopeRecord {
  CancelSource own;
  CancelToken extra;  // an outside token made ambient (may be empty)
  bool shield = false;
  ScopeRecord* parent = nullptr;
  Fiber* fiber = nullptr;
  RuntimeImpl* rt = nullptr;
  TimerNode deadline;
};

inline ScopeRecord*& scope_top(Fiber* f) noexcept { return f->cancel_scope; }

// Calls `fn(const CancelToken&)` for every token that applies to the fiber's blocking calls:
// innermost scope outward, up to and including the nearest shielded scope.
template <class Fn>
void for_each_scope_token(Fiber* f, Fn&& fn) {
  for (ScopeRecord* r = scope_top(f); r; r = r->parent) {
    fn(r->own.token());
    if (r->extra.can_be_cancelled()) fn(r->extra);
    if (r->shield) break;
  }
}

// WSAEINTR / WSAETIMEDOUT if a token of the fiber's scopes is already cancelled.
std::error_code scope_check(Fiber* f) noexcept;

// WSAEINTR / WSAETIMEDOUT if a token applying to the fiber's blocking call is already
// cancelled: the call's own token first, then its scopes'. {} at once when there is none.
inline Err cancel_check(Fiber* f) noexcept {
  if (f->call_token && f->call_token->cancel_requested()) return Err(f->call_token->reason());
  return scope_top(f) ? Err(scope_check(f)) : Err();
}

// True if some token may cancel the fiber's blocking calls (a call token or a scope).
inline bool has_tokens(Fiber* f) noexcept { return f->call_token || scope_top(f); }

// Registers, for the fiber's outstanding call, a cancel on every token that applies to it.
void scope_register(Fiber* f, CallRegistrations& out);

}  // namespace weft::detail
