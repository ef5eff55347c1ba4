// Mutex, ConditionVariable, Semaphore, Event and Latch (weft/sync.hpp, semantics.md §8), on
// the one wait of runtime/primitives.hpp.
#include <weft/sync.hpp>

#include "log.hpp"
#include "primitives.hpp"

#include <new>

namespace weft {

using detail::BlockingEntry;
using detail::kPerformed;
using detail::kWouldBlock;
using detail::SyncAccess;
using detail::SyncState;
using detail::WaitCall;
using detail::WaitKind;
using detail::WaitNode;
using detail::WaitObj;
using detail::WaitOp;
using detail::Wakes;

namespace {

// The one blocking form of a single operation on a primitive: §7a's checks, then wait_one.
// `entry` was made first thing in the public call, with its token.
Status wait_status(const BlockingEntry& entry, const CancelToken& token, const WaitOp& op,
                   detail::WaitDescription what) {
  if (auto ec = WaitCall::admit(entry, token)) return ec;
  SyncState& s = op.sync();
  detail::WaitResult r = detail::wait_one(
      entry, token, op.kind, op.target, op.data, s.lock, s.waiters, what, [&](Wakes& wakes) {
        detail::Waiter self;  // no outstanding call yet: nothing can claim it
        if (op.kind == WaitKind::lock) self.owner = detail::this_owner();
        return detail::perform(op, self, wakes);
      });
  if (r.error) return r.error;
  return detail::status_of(r.result);
}

// Counts a fiber's mutexes, for the warning when it ends holding one.
void note_held(int delta) noexcept {
  if (detail::RuntimeImpl* rt = detail::tls_runtime) {
    if (detail::Fiber* f = rt->current()) f->mutexes_held += delta;
  }
}

// Gives the mutex to its head waiter whose claim wins (or that waits shielded), else frees it.
// Under s.lock.
void hand_over_mutex(SyncState& s, Wakes& wakes) noexcept {
  std::uint64_t next = 0;
  while (WaitNode* n = s.waiters.pop_front()) {
    if (n->shielded) {
      next = n->waiter->owner;
      wakes.grant(n);
      break;
    }
    if (n->waiter->claim()) {
      next = n->waiter->owner;
      wakes.fire(n, kPerformed);
      break;
    }
  }
  s.value.store(next, std::memory_order_relaxed);
}

// Claims every waiter (a manual event's set, a latch at zero, notify_all). Under s.lock.
void release_all(SyncState& s, Wakes& wakes) noexcept {
  while (WaitNode* n = Wakes::claim_front(s.waiters)) wakes.fire(n, kPerformed);
}

}  // namespace

// --- Mutex ---

Mutex::Mutex() noexcept { ::new (state_) SyncState(); }
Mutex::~Mutex() { SyncAccess::state(*this).~SyncState(); }

Status Mutex::lock(const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  SyncState& s = SyncAccess::state(*this);
  // Only the owner can have written its own identity, and only it can clear it.
  if (s.value.load(std::memory_order_relaxed) == detail::this_owner()) return wsa::einval;
  Status st = wait_status(entry, token, WaitOp{WaitKind::lock, &s},
                          {"Mutex::lock", reinterpret_cast<std::uintptr_t>(this)});
  if (st.ok()) note_held(1);
  return st;
}

bool Mutex::try_lock() noexcept {
  SyncState& s = SyncAccess::state(*this);
  {
    std::lock_guard g(s.lock);
    if (s.value.load(std::memory_order_relaxed) != 0) return false;
    s.value.store(detail::this_owner(), std::memory_order_relaxed);
  }
  note_held(1);
  return true;
}

Status Mutex::unlock() noexcept {
  SyncState& s = SyncAccess::state(*this);
  const std::uint64_t me = detail::this_owner();
  {
    Wakes wakes;
    std::lock_guard g(s.lock);
    if (s.value.load(std::memory_order_relaxed) != me) return wsa::einval;
    hand_over_mutex(s, wakes);
  }
  note_held(-1);
  return {};
}

Result<LockGuard> lock(Mutex& m, const CancelToken& token) {
  Status st = m.lock(token);
  if (!st.ok()) return st.error();
  return LockGuard(m);
}

// --- ConditionVariable ---

ConditionVariable::ConditionVariable() noexcept { ::new (state_) SyncState(); }
ConditionVariable::~ConditionVariable() { SyncAccess::state(*this).~SyncState(); }

Status ConditionVariable::wait(Mutex& m, const CancelToken& token) {
  BlockingEntry entry(token, "ConditionVariable::wait", WaitObj::primitive,
                      reinterpret_cast<std::uintptr_t>(this));
  SyncState& cv = SyncAccess::state(*this);
  SyncState& ms = SyncAccess::state(m);
  const std::uint64_t me = detail::this_owner();
  if (ms.value.load(std::memory_order_relaxed) != me) return wsa::einval;
  if (auto ec = WaitCall::admit(entry, token)) return ec;

  WaitCall call(entry, token);
  WaitNode node;
  node.waiter = &call.waiter();
  {
    // Linked before m is released: a notify after the release finds this waiter.
    std::lock_guard g(cv.lock);
    cv.waiters.push_back(&node);
  }
  {
    Wakes wakes;
    std::lock_guard g(ms.lock);
    hand_over_mutex(ms, wakes);
  }
  const detail::CallState how = call.wait();
  bool notified;
  {
    std::lock_guard g(cv.lock);
    cv.waiters.unlink(&node);
    notified = node.fired.load(std::memory_order_relaxed);
  }
  // Re-acquire m, shielded from every cancel source: m is held on every return.
  call.shield();
  WaitNode mine;
  mine.waiter = &call.waiter();
  mine.shielded = true;
  bool queued = false;
  {
    std::lock_guard g(ms.lock);
    if (ms.value.load(std::memory_order_relaxed) == 0) {
      ms.value.store(me, std::memory_order_relaxed);
    } else {
      ms.waiters.push_back(&mine);
      queued = true;
    }
  }
  if (queued) {
    call.wait_granted(mine);
    std::lock_guard g(ms.lock);  // the granting unlock is done with the node
  }
  if (notified) return {};
  return detail::outcome_error(how == detail::CallState::completed ? detail::CallState::cancelled
                                                                   : how);
}

void ConditionVariable::notify_one() noexcept {
  SyncState& s = SyncAccess::state(*this);
  Wakes wakes;
  std::lock_guard g(s.lock);
  if (WaitNode* n = Wakes::claim_front(s.waiters)) wakes.fire(n, kPerformed);
}

void ConditionVariable::notify_all() noexcept {
  SyncState& s = SyncAccess::state(*this);
  Wakes wakes;
  std::lock_guard g(s.lock);
  release_all(s, wakes);
}

// --- Semaphore ---

Semaphore::Semaphore(std::size_t initial) noexcept {
  ::new (state_) SyncState();
  SyncAccess::state(*this).value.store(initial, std::memory_order_relaxed);
}
Semaphore::~Semaphore() { SyncAccess::state(*this).~SyncState(); }

Status Semaphore::acquire(const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  return wait_status(entry, token, WaitOp{WaitKind::acquire, &SyncAccess::state(*this)},
                     {"Semaphore::acquire", reinterpret_cast<std::uintptr_t>(this)});
}

bool Semaphore::try_acquire() noexcept {
  SyncState& s = SyncAccess::state(*this);
  std::lock_guard g(s.lock);
  std::uint64_t n = s.value.load(std::memory_order_relaxed);
  if (n == 0) return false;
  s.value.store(n - 1, std::memory_order_relaxed);
  return true;
}

void Semaphore::release(std::size_t n) noexcept {
  SyncState& s = SyncAccess::state(*this);
  Wakes wakes;
  std::lock_guard g(s.lock);
  while (n > 0) {
    WaitNode* w = Wakes::claim_front(s.waiters);
    if (!w) break;
    wakes.fire(w, kPerformed);
    --n;
  }
  s.value.store(s.value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

std::size_t Semaphore::available() const noexcept {
  return SyncAccess::state(*this).value.load(std::memory_order_relaxed);
}

// --- Event ---

Event::Event(Reset kind, bool signalled) noexcept {
  ::new (state_) SyncState();
  SyncAccess::state(*this).flags.store(
      static_cast<std::uint8_t>((kind == Reset::automatic ? SyncState::kAutomatic : 0) |
                                (signalled ? SyncState::kSet : 0)),
      std::memory_order_relaxed);
}
Event::~Event() { SyncAccess::state(*this).~SyncState(); }

void Event::set() noexcept {
  SyncState& s = SyncAccess::state(*this);
  Wakes wakes;
  std::lock_guard g(s.lock);
  const std::uint8_t f = s.flags.load(std::memory_order_relaxed);
  if (f & SyncState::kAutomatic) {
    if (WaitNode* n = Wakes::claim_front(s.waiters)) {
      wakes.fire(n, kPerformed);  // the signal goes to it: the event stays reset
      return;
    }
    s.flags.store(f | SyncState::kSet, std::memory_order_relaxed);
    return;
  }
  s.flags.store(f | SyncState::kSet, std::memory_order_relaxed);
  release_all(s, wakes);
}

void Event::reset() noexcept {
  SyncState& s = SyncAccess::state(*this);
  std::lock_guard g(s.lock);
  s.flags.store(s.flags.load(std::memory_order_relaxed) & ~SyncState::kSet,
                std::memory_order_relaxed);
}

bool Event::is_set() const noexcept {
  return SyncAccess::state(*this).flags.load(std::memory_order_relaxed) & SyncState::kSet;
}

Status Event::wait(const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  return wait_status(entry, token, WaitOp{WaitKind::event, &SyncAccess::state(*this)},
                     {"Event::wait", reinterpret_cast<std::uintptr_t>(this)});
}

bool Event::try_wait() noexcept {
  SyncState& s = SyncAccess::state(*this);
  Wakes wakes;
  std::lock_guard g(s.lock);
  return detail::perform(WaitOp{WaitKind::event, &s}, detail::Waiter(), wakes) == kPerformed;
}

// --- Latch ---

Latch::Latch(std::size_t count) noexcept {
  ::new (state_) SyncState();
  SyncAccess::state(*this).value.store(count, std::memory_order_relaxed);
}
Latch::~Latch() { SyncAccess::state(*this).~SyncState(); }

void Latch::count_down(std::size_t n) noexcept {
  SyncState& s = SyncAccess::state(*this);
  Wakes wakes;
  std::lock_guard g(s.lock);
  std::uint64_t v = s.value.load(std::memory_order_relaxed);
  if (v == 0) return;
  v -= std::min<std::uint64_t>(v, n);
  s.value.store(v, std::memory_order_relaxed);
  if (v == 0) release_all(s, wakes);
}

Status Latch::wait(const CancelToken& token) {
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  return wait_status(entry, token, WaitOp{WaitKind::latch, &SyncAccess::state(*this)},
                     {"Latch::wait", reinterpret_cast<std::uintptr_t>(this)});
}

bool Latch::try_wait() const noexcept {
  return SyncAccess::state(*this).value.load(std::memory_order_acquire) == 0;
}

}  // namespace weft
