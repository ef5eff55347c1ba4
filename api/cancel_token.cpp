// The public types of weft/cancel_token.hpp over the state of runtime/cancel_state.hpp.
#include <weft/cancel_token.hpp>

#include "cancel_state.hpp"

#include <new>

namespace weft::detail {

void cancel_state_add_token_ref(CancelState* s) noexcept {
  s->refs.fetch_add(CancelState::kToken, std::memory_order_relaxed);
}

void cancel_state_release_token_ref(CancelState* s) noexcept { s->release(CancelState::kToken); }

bool cancel_state_requested(const CancelState* s) noexcept {
  return s->cancelled.load(std::memory_order_acquire);
}

std::error_code cancel_state_reason(const CancelState* s) noexcept { return s->reason(); }

}  // namespace weft::detail

namespace weft {

using detail::CancelRegistration;
using detail::CancelState;

bool CancelToken::can_be_cancelled() const noexcept {
  return state_ && (detail::cancel_state_requested(state_) || state_->has_sources());
}

CancelSource::CancelSource() : state_(new CancelState) {}

CancelSource::CancelSource(std::chrono::steady_clock::time_point deadline) : CancelSource() {
  set_deadline(deadline);
}

CancelSource::CancelSource(std::chrono::nanoseconds timeout) : CancelSource() {
  set_timeout(timeout);
}

void CancelSource::set_deadline(std::chrono::steady_clock::time_point deadline) {
  if (!state_ || state_->cancelled.load(std::memory_order_acquire)) return;
  if (deadline <= std::chrono::steady_clock::now()) {
    state_->request(CancelReason::timed_out);
    return;
  }
  detail::DeadlineService::get().set(state_, deadline);
}

void CancelSource::set_timeout(std::chrono::nanoseconds timeout) {
  set_deadline(std::chrono::steady_clock::now() + timeout);
}

void CancelSource::clear_deadline() noexcept {
  if (state_) detail::DeadlineService::get().clear(state_);
}

CancelSource::CancelSource(const CancelSource& o) noexcept : state_(o.state_) {
  if (state_) state_->refs.fetch_add(CancelState::kSource, std::memory_order_relaxed);
}

CancelSource::~CancelSource() {
  if (state_) state_->release(CancelState::kSource);
}

CancelToken CancelSource::token() const noexcept {
  return state_ ? CancelState::token_of(state_) : CancelToken();
}

bool CancelSource::cancel(CancelReason why) noexcept { return state_ && state_->request(why); }

CancelSource CancelSource::linked(std::initializer_list<CancelToken> parents) {
  return linked(std::span<const CancelToken>(parents.begin(), parents.size()));
}

CancelSource CancelSource::linked(std::span<const CancelToken> parents) {
  CancelSource child;
  CancelCallback::PlainFn forward = [](void* child_state, CancelReason why) noexcept {
    static_cast<CancelState*>(child_state)->request(why);
  };
  for (const CancelToken& parent : parents) {
    if (!parent.can_be_cancelled()) continue;
    // Owned by the child's state: it keeps the parent's state alive (a registration holds a
    // token reference), never the reverse. Runs inline if the parent is already cancelled.
    child.state_->attach(std::make_shared<CancelCallback>(parent, forward, child.state_));
  }
  return child;
}

namespace {

CancelRegistration* registration_of(unsigned char* room) noexcept {
  return std::launder(reinterpret_cast<CancelRegistration*>(room));
}

}  // namespace

void CancelCallback::attach(const CancelToken& token, PlainFn fn, void* ctx) {
  auto* r = new (registration_) CancelRegistration;
  if (fn) {
    r->fn = fn;
    r->ctx = ctx;
  } else {
    r->fn = [](void* self, CancelReason) noexcept {
      static_cast<CancelCallback*>(self)->task_->run();
    };
    r->ctx = this;
  }
  r->attach(CancelState::of(token));
}

CancelCallback::~CancelCallback() { registration_of(registration_)->end(); }

}  // namespace weft
