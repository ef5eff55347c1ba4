#include "mailbox.hpp"

#include "runtime_impl.hpp"
#include "spin_lock.hpp"

#include <sys/eventfd.h>
#include <unistd.h>
#include <cerrno>

namespace weft::detail {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<RuntimeMailbox*> entries{nullptr};  // index 0 is never a runtime
  std::vector<std::uint32_t> free_indices;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: foreign threads may outlive statics
  return *r;
}

}  // namespace

RuntimeMailbox* RuntimeMailbox::create(WakeMethod wake) {
  auto* s = new (std::nothrow) RuntimeMailbox;
  if (!s) {
    errno = ENOMEM;
    return nullptr;
  }
  s->wake_method_ = wake;
  if (wake == WakeMethod::eventfd) {
    s->efd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->efd_ < 0) {
      int e = errno;
      delete s;
      errno = e;
      return nullptr;
    }
  }
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  if (!r.free_indices.empty()) {
    s->index_ = r.free_indices.back();
    r.free_indices.pop_back();
    r.entries[s->index_] = s;
  } else {
    s->index_ = static_cast<std::uint32_t>(r.entries.size());
    r.entries.push_back(s);
  }
  return s;
}

RuntimeMailbox::~RuntimeMailbox() {
  if (efd_ >= 0) ::close(efd_);
}

void RuntimeMailbox::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void RuntimeMailbox::close(std::vector<Message>& leftover) noexcept {
  {
    Registry& r = registry();
    std::lock_guard lock(r.mu);
    r.entries[index_] = nullptr;
    r.free_indices.push_back(index_);
  }
  {
    std::lock_guard lock(mu_);
    async_ = nullptr;
  }
  std::lock_guard lock(queue_lock_);
  closed.store(true, std::memory_order_release);
  inline_count_ = 0;  // wakes for fibers that are gone with the runtime
  leftover.swap(queue_);
}

RuntimeMailbox* registry_acquire(std::uint32_t index) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  if (index == 0 || index >= r.entries.size() || !r.entries[index]) return nullptr;
  RuntimeMailbox* s = r.entries[index];
  s->add_ref();
  return s;
}

std::vector<RuntimeMailbox*> registry_all() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<RuntimeMailbox*> out;
  for (RuntimeMailbox* s : r.entries) {
    if (!s) continue;
    s->add_ref();
    out.push_back(s);
  }
  return out;
}

bool RuntimeMailbox::push(Message&& m) {
  {
    std::lock_guard lock(queue_lock_);
    if (closed.load(std::memory_order_relaxed)) return false;
    queue_.push_back(std::move(m));
  }
  wake();
  return true;
}

bool RuntimeMailbox::push_wake(FiberId id) noexcept {
  {
    std::lock_guard lock(queue_lock_);
    if (closed.load(std::memory_order_relaxed)) return false;
    if (queue_.empty() && inline_count_ < kInlineWakes) {
      inline_wakes_[inline_count_++] = id;
    } else {
      // The queue keeps its capacity from drain to drain (take swaps it with the loop's
      // emptied one), so this allocates only when a burst outgrows every earlier one. A
      // fiber whose outcome is fixed must get its wake: with no memory for it, terminate
      // (noexcept) rather than leave the fiber parked for good.
      Message m{Message::Kind::wake};
      m.id = id;
      queue_.push_back(std::move(m));
    }
  }
  wake();
  return true;
}

void RuntimeMailbox::take(Batch& out) {
  std::lock_guard lock(queue_lock_);
  out.wake_count = inline_count_;
  for (unsigned i = 0; i < inline_count_; ++i) out.wakes[i] = inline_wakes_[i];
  inline_count_ = 0;
  if (!queue_.empty()) out.messages.swap(queue_);
}

void RuntimeMailbox::wake() noexcept {
  // Coalesce: only the first push after the loop consumed the last wake-up pays a syscall,
  // and none while the loop watches for it (spin_until).
  if (signalled_.fetch_or(kSignalled, std::memory_order_acq_rel) != 0) return;
  woken_at_.store(RuntimeImpl::now_ns(), std::memory_order_relaxed);
  if (wake_method_ == WakeMethod::eventfd) {
    std::uint64_t one = 1;
    ssize_t n;
    do {
      n = ::write(efd_, &one, sizeof one);
    } while (n < 0 && errno == EINTR);
    // EAGAIN means the counter is saturated: the loop is already due to wake.
  } else {
    std::lock_guard lock(mu_);
    if (async_) uv_async_send(async_);
  }
}

RuntimeMailbox::Spin RuntimeMailbox::spin_until(std::int64_t deadline_ns) noexcept {
  if (signalled_.fetch_or(kSpinning, std::memory_order_seq_cst) & kSignalled) return Spin::pending;
  // From here until kSpinning is cleared, a push sets kSignalled and writes nothing.
  for (unsigned i = 1;; ++i) {
    if (signalled_.load(std::memory_order_acquire) & kSignalled) return Spin::pushed;
    cpu_relax();
    if (i % 16 == 0 && RuntimeImpl::now_ns() >= deadline_ns) {
      // A push that lands after this finds neither bit and wakes the loop as usual.
      if (signalled_.fetch_and(static_cast<std::uint8_t>(~kSpinning), std::memory_order_seq_cst) &
          kSignalled) {
        return Spin::pushed;
      }
      return Spin::timed_out;
    }
  }
}

void RuntimeMailbox::reset_wake() noexcept {
  if (wake_method_ != WakeMethod::eventfd) return;  // libuv reads its own
  std::uint64_t v;
  ssize_t n;
  do {
    n = ::read(efd_, &v, sizeof v);
  } while (n < 0 && errno == EINTR);
}

void RuntimeMailbox::attach_async(uv_async_t* a) noexcept {
  std::lock_guard lock(mu_);
  async_ = a;
}

}  // namespace weft::detail
