#include "cancel_state.hpp"

#include "call_registrations.hpp"

#include <algorithm>
#include <new>

namespace weft::detail {

void CancelState::attach(std::shared_ptr<void> attachment) {
  std::lock_guard lock(attachments_mu);
  attachments.push_back(std::move(attachment));
  attached.store(true, std::memory_order_release);
}

void CancelState::release_slots() noexcept {
  if (slots != inline_slots) delete[] slots;
  slots = inline_slots;
  capacity = kInlineSlots;
  used = holes = 0;
}

bool CancelState::push(CancelRegistration* r) noexcept {
  if (used == capacity) {
    if (holes * 2 >= used) {
      squeeze();
    } else if (!grow()) {
      return false;
    }
  }
  r->index = used;
  slots[used++] = r;
  return true;
}

void CancelState::squeeze() noexcept {
  std::uint32_t live = 0;
  for (std::uint32_t i = 0; i < used; ++i) {
    if (CancelRegistration* r = slots[i]) {
      r->index = live;
      slots[live++] = r;
    }
  }
  used = live;
  holes = 0;
}

bool CancelState::grow() noexcept {
  if (capacity > UINT32_MAX / 2) return false;
  auto* bigger = new (std::nothrow) CancelRegistration*[std::size_t{capacity} * 2];
  if (!bigger) return false;
  std::copy(slots, slots + used, bigger);
  if (slots != inline_slots) delete[] slots;
  slots = bigger;
  capacity *= 2;
  return true;
}

void CancelState::unlink(CancelRegistration* r) noexcept {
  slots[r->index] = nullptr;
  r->index = CancelRegistration::kUnlinked;
  if (++holes == used && !cancelled.load(std::memory_order_relaxed)) used = holes = 0;
}

bool CancelState::request(CancelReason reason) noexcept {
  lock();
  if (cancelled.load(std::memory_order_relaxed)) {
    unlock();
    return false;
  }
  why.store(reason, std::memory_order_relaxed);
  cancelled.store(true, std::memory_order_seq_cst);  // pairs with DeadlineService::set
  executing_thread = std::this_thread::get_id();
  // From here on nothing is added (a registration runs inline instead) and the array is not
  // squeezed: `used` stays, and a removal only leaves a null.
  const std::uint32_t here = CallRegistrations::thread_affinity();
  for (std::uint32_t i = 0; i < used;) {
    CancelRegistration* r = slots[i];
    if (!r) {
      ++i;
      continue;
    }
    if (here != 0 && r->affinity == here) {
      // A run of the runtime's registrations for fibers of this thread (a fan-out's): no
      // other thread removes them, and cancelling one runs no code of the fiber's, so they
      // are cancelled under the lock — instead of letting it go, handing each over through
      // `executing` and taking it again — and the records far ahead loaded meanwhile. The
      // lock is let go between runs, for other threads.
      i += CallRegistrations::cancel_here(slots + i, used - i, kRun, here, reason);
      unlock();
      lock();
      continue;
    }
    slots[i++] = nullptr;
    r->index = CancelRegistration::kUnlinked;
    executing = r;
    executing_destroyed = false;
    unlock();
    r->fn(r->ctx, reason);  // may end r (its own registration) from within
    lock();
    if (!executing_destroyed) {
      r->done.store(true, std::memory_order_release);  // r may be freed from here on
    }
    executing = nullptr;
  }
  release_slots();  // every registration ran or was removed: none is registered again
  unlock();
  // A deadline still pending can do nothing more: drop it (and the state it holds).
  if (has_deadline.load(std::memory_order_seq_cst)) DeadlineService::get().clear(this);
  return true;
}

void CancelRegistration::attach(CancelState* s) {
  if (!s) return;
  s->lock();
  if (s->cancelled.load(std::memory_order_relaxed)) {
    const CancelReason why = s->why.load(std::memory_order_relaxed);
    s->unlock();
    fn(ctx, why);  // already cancelled: inline, now
    return;
  }
  if (!s->has_sources()) {
    s->unlock();  // can never be cancelled: nothing to register
    return;
  }
  if (!s->push(this)) {
    s->unlock();
    throw std::bad_alloc();
  }
  if (!borrowed) s->refs.fetch_add(CancelState::kToken, std::memory_order_relaxed);
  state = s;
  s->unlock();
}

void CancelRegistration::detach() noexcept {
  CancelState* s = state;
  // Ran to completion already (the commonest end of a registration whose token was
  // cancelled: a fan-out ends every one right after): it is unlinked and no longer touched by
  // the cancelling thread, so the lock is not needed.
  if (done.load(std::memory_order_acquire)) {
    if (!borrowed) s->release(CancelState::kToken);
    return;
  }
  s->lock();
  if (index != kUnlinked) {
    s->unlink(this);  // never ran, and now never will
    s->unlock();
  } else if (s->executing == this) {
    if (s->executing_thread == std::this_thread::get_id()) {
      s->executing_destroyed = true;  // ended from within its own function: do not wait
      s->unlock();
    } else {
      s->unlock();
      // Running on another thread: wait, so that what it uses outlives it.
      while (!done.load(std::memory_order_acquire)) std::this_thread::yield();
    }
  } else {
    s->unlock();  // it ran to completion before
  }
  if (!borrowed) s->release(CancelState::kToken);
}

}  // namespace weft::detail
