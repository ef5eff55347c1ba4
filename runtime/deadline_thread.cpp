// The deadlines of sources (DeadlineService, runtime/cancel_state.hpp): one heap and one
// thread for the process.
#include "cancel_state.hpp"

namespace weft::detail {

DeadlineService& DeadlineService::get() {
  static DeadlineService* service = new DeadlineService;
  return *service;
}

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

std::int64_t DeadlineService::due_ns(CancelState* s) noexcept {
  if (!s->has_deadline.load(std::memory_order_acquire)) return 0;
  std::lock_guard lock(mu_);
  if (!s->has_deadline.load(std::memory_order_relaxed)) return 0;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             s->deadline_entry->first.time_since_epoch())
      .count();
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
    s->request(CancelReason::timed_out);  // the functions run here, on the deadline thread
    s->release(CancelState::kSource);
    lock.lock();
  }
}

}  // namespace weft::detail
