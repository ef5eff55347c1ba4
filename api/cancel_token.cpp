#include <weft/cancel_token.hpp>

#include "call_registrations.hpp"
#include "spin_lock.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace weft::detail {

struct CancelState;

// The deadlines of sources: one heap (an ordered multimap) and one thread for the process,
// started at the first deadline. An entry holds a source reference on its state, so that the
// state lives, and counts as cancellable, until the entry fires or is removed. Never
// destroyed: its thread may be waiting when the process exits.
class DeadlineService {
 public:
  using Clock = std::chrono::steady_clock;
  using Heap = std::multimap<Clock::time_point, CancelState*>;

  static DeadlineService& get() {
    static DeadlineService* service = new DeadlineService;
    return *service;
  }
  // Arms or moves s's deadline (s is not cancelled; the caller holds a reference).
  void set(CancelState* s, Clock::time_point when);
  // Removes s's deadline if it has one; the entry's reference is dropped after the lock.
  void clear(CancelState* s) noexcept;

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
// under the lock. The lock guards the registered callbacks, `executing` and
// `executing_thread`; it is held to add, remove or pick the next callback, and while the
// runtime's own registrations are cancelled (request()), never while a callback of any other
// kind runs.
struct CancelState {
  static constexpr std::uint64_t kSource = std::uint64_t{1} << 32;
  static constexpr std::uint64_t kToken = 1;
  static constexpr std::uint32_t kRun = 64;  // request(): registrations cancelled per lock
  static constexpr std::uint32_t kInlineSlots = 4;

  std::atomic<std::uint64_t> refs{kSource};
  std::atomic<bool> cancelled{false};
  std::atomic<bool> timed_out{false};  // the reason; written before `cancelled`
  SpinLock spin;
  // The registered callbacks in registration order, each knowing its place
  // (CancelCallback::index_). A removed one leaves a null behind, so that adding or removing
  // touches no other callback; the nulls are squeezed out when the array is full and at least
  // half of it, or dropped when it is all nulls, and never once cancelled (request() walks
  // the array by index, letting the lock go between callbacks). An array rather than a list,
  // so that request() finds the callbacks far ahead of the one it runs: a fan-out over
  // 100,000 fibers loads their records ahead instead of one after another. The first few
  // places are in the state: a source made per call allocates nothing more.
  CancelCallback** slots = inline_slots;
  std::uint32_t used = 0;  // places used: callbacks and nulls
  std::uint32_t capacity = kInlineSlots;
  std::uint32_t holes = 0;
  CancelCallback* inline_slots[kInlineSlots];
  CancelCallback* executing = nullptr;
  std::thread::id executing_thread;
  // Set by the executing callback's destructor when it runs inside that callback (on the
  // executing thread): the callback's memory may be gone, so request() leaves it alone.
  bool executing_destroyed = false;
  // Links to parents and other bridges; destroyed with the state, first (their callbacks may
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

  void lock() noexcept { spin.lock(); }
  void unlock() noexcept { spin.unlock(); }

  void release(std::uint64_t amount) noexcept {
    if (refs.fetch_sub(amount, std::memory_order_acq_rel) == amount) delete this;
  }
  bool has_sources() const noexcept {
    return (refs.load(std::memory_order_acquire) >> 32) != 0 ||
           attached.load(std::memory_order_acquire);
  }

  void release_slots() noexcept {
    if (slots != inline_slots) delete[] slots;
    slots = inline_slots;
    capacity = kInlineSlots;
    used = holes = 0;
  }
  // Appends: callbacks run in the order they were registered. False if there is no room and
  // no memory for more (not cancelled: the array may be squeezed).
  bool push(CancelCallback* cb) noexcept {
    if (used == capacity) {
      if (holes * 2 >= used) {
        squeeze();
      } else if (!grow()) {
        return false;
      }
    }
    cb->index_ = used;
    slots[used++] = cb;
    return true;
  }
  void squeeze() noexcept {
    std::uint32_t live = 0;
    for (std::uint32_t i = 0; i < used; ++i) {
      if (CancelCallback* cb = slots[i]) {
        cb->index_ = live;
        slots[live++] = cb;
      }
    }
    used = live;
    holes = 0;
  }
  bool grow() noexcept {
    if (capacity > UINT32_MAX / 2) return false;
    auto* bigger = new (std::nothrow) CancelCallback*[std::size_t{capacity} * 2];
    if (!bigger) return false;
    std::copy(slots, slots + used, bigger);
    if (slots != inline_slots) delete[] slots;
    slots = bigger;
    capacity *= 2;
    return true;
  }
  void unlink(CancelCallback* cb) noexcept {
    slots[cb->index_] = nullptr;
    cb->index_ = CancelCallback::kUnlinked;
    if (++holes == used && !cancelled.load(std::memory_order_relaxed)) used = holes = 0;
  }
  static bool linked(const CancelCallback* cb) noexcept {
    return cb->index_ != CancelCallback::kUnlinked;
  }

  bool request(bool by_deadline) noexcept {
    lock();
    if (cancelled.load(std::memory_order_relaxed)) {
      unlock();
      return false;
    }
    timed_out.store(by_deadline, std::memory_order_relaxed);
    cancelled.store(true, std::memory_order_seq_cst);  // pairs with DeadlineService::set
    executing_thread = std::this_thread::get_id();
    // From here on nothing is added (a registration runs inline instead) and the array is
    // not squeezed: `used` stays, and a removal only leaves a null.
    const std::uint32_t here = CallRegistrations::thread_affinity();
    for (std::uint32_t i = 0; i < used;) {
      CancelCallback* cb = slots[i];
      if (!cb) {
        ++i;
        continue;
      }
      if (here != 0 && cb->affinity_ == here) {
        // A run of the runtime's registrations for fibers of this thread (a fan-out's): no
        // other thread removes them, and cancelling one runs no code of the fiber's, so they
        // are cancelled under the lock — instead of letting it go, handing each over through
        // `executing` and taking it again — and the records far ahead loaded meanwhile. The
        // lock is let go between runs, for other threads.
        i += CallRegistrations::cancel_here(slots + i, used - i, kRun, here, by_deadline);
        unlock();
        lock();
        continue;
      }
      slots[i++] = nullptr;
      cb->index_ = CancelCallback::kUnlinked;
      executing = cb;
      executing_destroyed = false;
      unlock();
      cb->invoke(by_deadline);  // may destroy cb (its own registration) from within
      lock();
      if (!executing_destroyed) {
        cb->done_.store(true, std::memory_order_release);  // cb may be freed from here on
      }
      executing = nullptr;
    }
    release_slots();  // every callback ran or was removed: none is registered again
    unlock();
    // A deadline still pending can do nothing more: drop it (and the state it holds).
    if (has_deadline.load(std::memory_order_seq_cst)) DeadlineService::get().clear(this);
    return true;
  }
};

void DeadlineService::set(CancelState* s, Clock::time_point when) {
  {
    std::lock_guard lock(mu_);
    if (s->has_deadline.load(std::memory_order_relaxed)) {
      heap_.erase(s->deadline_entry);
    } else {
      s->refs.fetch_add(CancelState::kSource, std::memory_order_relaxed);
    }
    s->deadline_entry = heap_.emplace(when, s);
    s->has_deadline.store(true, std::memory_order_seq_cst);
    if (!started_) {
      std::thread([this] { run(); }).detach();
      started_ = true;
    }
    if (s->deadline_entry == heap_.begin()) cv_.notify_one();
  }
  // A cancel that ran meanwhile may have missed the entry (it looks at has_deadline after
  // setting cancelled; this looks at cancelled after setting has_deadline): remove it here.
  if (s->cancelled.load(std::memory_order_seq_cst)) clear(s);
}

void DeadlineService::clear(CancelState* s) noexcept {
  {
    std::lock_guard lock(mu_);
    if (!s->has_deadline.load(std::memory_order_relaxed)) return;
    heap_.erase(s->deadline_entry);
    s->has_deadline.store(false, std::memory_order_release);
  }
  s->release(CancelState::kSource);
}

void DeadlineService::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (heap_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = heap_.begin();
    if (first->first > Clock::now()) {
      const Clock::time_point when = first->first;  // a copy: the entry may go while we wait
      cv_.wait_until(lock, when);
      continue;
    }
    CancelState* s = first->second;
    heap_.erase(first);
    s->has_deadline.store(false, std::memory_order_release);
    lock.unlock();
    s->request(true);  // the callbacks run here, on the deadline thread
    s->release(CancelState::kSource);
    lock.lock();
  }
}

void cancel_state_add_token_ref(CancelState* s) noexcept {
  s->refs.fetch_add(CancelState::kToken, std::memory_order_relaxed);
}

void cancel_state_release_token_ref(CancelState* s) noexcept { s->release(CancelState::kToken); }

bool cancel_state_requested(const CancelState* s) noexcept {
  return s->cancelled.load(std::memory_order_acquire);
}

void cancel_state_attach(CancelState* s, std::shared_ptr<void> attachment) {
  std::lock_guard lock(s->attachments_mu);
  s->attachments.push_back(std::move(attachment));
  s->attached.store(true, std::memory_order_release);
}

bool cancel_state_request(CancelState* s, bool by_deadline) noexcept { return s->request(by_deadline); }

std::error_code cancel_state_reason(const CancelState* s) noexcept {
  if (!s->cancelled.load(std::memory_order_acquire)) return {};
  return s->timed_out.load(std::memory_order_relaxed) ? wsa::etimedout : wsa::eintr;
}

}  // namespace weft::detail

namespace weft {

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
    state_->request(true);
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
  if (!state_) return {};
  detail::cancel_state_add_token_ref(state_);
  return CancelToken(state_);
}

bool CancelSource::cancel() noexcept { return state_ && state_->request(false); }

CancelSource CancelSource::linked(std::initializer_list<CancelToken> parents) {
  return linked(std::span<const CancelToken>(parents.begin(), parents.size()));
}

CancelSource CancelSource::linked(std::span<const CancelToken> parents) {
  CancelSource child;
  CancelState* raw = child.state_;
  for (const CancelToken& parent : parents) {
    if (!parent.can_be_cancelled()) continue;
    // Owned by the child's state: it keeps the parent's state alive, never the reverse. Runs
    // inline if the parent is already cancelled.
    auto link = std::make_shared<CancelCallback>(parent, [raw, parent] {
      raw->request(parent.reason() == wsa::etimedout);
    });
    detail::cancel_state_attach(raw, std::move(link));
  }
  return child;
}

bool CancelSource::cancel(wsa reason) noexcept {
  return state_ && state_->request(reason == wsa::etimedout);
}

void CancelCallback::attach(const CancelToken& token) {
  CancelState* s = token.state_;
  if (!s) return;
  s->lock();
  if (s->cancelled.load(std::memory_order_relaxed)) {
    bool timed_out = s->timed_out.load(std::memory_order_relaxed);
    s->unlock();
    invoke(timed_out);  // already cancelled: inline, in the constructor
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
  if (!borrowed_) detail::cancel_state_add_token_ref(s);
  state_ = s;
  s->unlock();
}

void CancelCallback::invoke(bool timed_out) noexcept {
  if (plain_) {
    plain_(ctx_, timed_out);
  } else {
    fn_->run();
  }
}

void CancelCallback::detach() noexcept {
  CancelState* s = state_;
  // Ran to completion already (the commonest end of a registration whose token was
  // cancelled: a fan-out destroys every one right after): it is unlinked and no longer
  // touched by the cancelling thread, so the lock is not needed.
  if (done_.load(std::memory_order_acquire)) {
    if (!borrowed_) s->release(CancelState::kToken);
    return;
  }
  s->lock();
  if (s->linked(this)) {
    s->unlink(this);  // never ran, and now never will
    s->unlock();
  } else if (s->executing == this) {
    if (s->executing_thread == std::this_thread::get_id()) {
      s->executing_destroyed = true;  // destroyed from within its own callback: do not wait
      s->unlock();
    } else {
      s->unlock();
      // Running on another thread: wait, so that its captures outlive it.
      while (!done_.load(std::memory_order_acquire)) std::this_thread::yield();
    }
  } else {
    s->unlock();  // it ran to completion before
  }
  if (!borrowed_) s->release(CancelState::kToken);
}

}  // namespace weft
