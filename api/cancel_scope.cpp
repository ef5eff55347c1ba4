#include <weft/cancel_scope.hpp>

#include "runtime_impl.hpp"
#include "scope.hpp"

#include <cstdio>
#include <cstdlib>

namespace weft {

namespace {

// A scope record pushed on the calling fiber's scope stack (none outside a fiber).
detail::ScopeRecord* open_scope(CancelToken extra, bool shield) {
  auto* r = new detail::ScopeRecord;
  r->extra = std::move(extra);
  r->shield = shield;
  detail::RuntimeImpl* rt = detail::tls_runtime;
  detail::Fiber* f = rt ? rt->current() : nullptr;
  if (f) {
    r->fiber = f;
    r->rt = rt;
    r->parent = detail::scope_top(f);
    detail::scope_top(f) = r;
  }
  return r;
}

void arm_deadline(detail::ScopeRecord* r, std::int64_t due_ns) {
  if (!r->rt) return;
  r->rt->timers().erase(&r->deadline);
  r->deadline.due = due_ns;
  r->deadline.ctx = r;
  r->deadline.fire = [](detail::TimerNode* n) {
    // On the loop thread: cancelling the scope's source cancels the calls inside it.
    static_cast<detail::ScopeRecord*>(n->ctx)->own.cancel(CancelReason::timed_out);
  };
  r->rt->timers().push(&r->deadline);
}

std::int64_t to_ns(std::chrono::steady_clock::time_point tp) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
}

}  // namespace

CancelScope::CancelScope() : record_(open_scope({}, false)) {}

CancelScope::CancelScope(CancelToken token) : record_(open_scope(std::move(token), false)) {}

CancelScope::CancelScope(std::chrono::steady_clock::time_point deadline)
    : record_(open_scope({}, false)) {
  arm_deadline(record_, to_ns(deadline));
}

CancelScope::CancelScope(std::chrono::nanoseconds timeout)
    : CancelScope(std::chrono::steady_clock::now() + timeout) {}

CancelScope::CancelScope(Shield) : record_(open_scope({}, true)) {}

CancelScope::~CancelScope() {
  detail::ScopeRecord* r = record_;
  if (r->fiber) {
    if (detail::scope_top(r->fiber) != r) {
      std::fprintf(stderr,
                   "weft: CancelScope destroyed out of order (scopes are LIFO on their fiber)\n");
      std::abort();
    }
    detail::scope_top(r->fiber) = r->parent;
    r->rt->timers().erase(&r->deadline);
  }
  delete r;
}

void CancelScope::cancel() noexcept { record_->own.cancel(); }

CancelToken CancelScope::token() const noexcept { return record_->own.token(); }

void CancelScope::set_deadline(std::chrono::steady_clock::time_point deadline) noexcept {
  arm_deadline(record_, to_ns(deadline));
}

bool CancelScope::cancel_requested() const noexcept {
  for (const detail::ScopeRecord* r = record_; r; r = r->parent) {
    if (r->own.cancel_requested() || r->extra.cancel_requested()) return true;
    if (r->shield) break;
  }
  return false;
}

}  // namespace weft
