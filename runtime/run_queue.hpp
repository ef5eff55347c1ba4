// weft::detail — the scheduler's FIFO run queue: a ring of fiber pointers.
//
// A ring rather than a list threaded through the records: the scheduler can read the fiber
// eight places ahead without loading the seven records before it, so a fan-out that readies
// 100,000 cold fibers has their records and stacks loaded well before each runs
// (RuntimeImpl::prefetch_ahead), and queueing a fiber writes no other fiber's record.
//
// A fiber is queued at most once (its `queued` flag), so the ring never holds more entries
// than the runtime has fibers; the runtime reserves a place for each fiber when it gives it a
// stack, where running out of memory can still be reported, so push() never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace weft::detail {

struct Fiber;

class RunQueue {
 public:
  bool empty() const noexcept { return head_ == tail_; }
  std::size_t size() const noexcept { return tail_ - head_; }

  // Makes room for `n` entries in all. False when memory is exhausted (nothing changes).
  bool reserve(std::size_t n) noexcept {
    if (n <= mask_ + 1 && ring_) return true;
    std::size_t cap = ring_ ? (mask_ + 1) : 64;
    while (cap < n) cap *= 2;
    std::unique_ptr<Fiber*[]> bigger(new (std::nothrow) Fiber*[cap]);
    if (!bigger) return false;
    std::size_t count = size();
    for (std::size_t i = 0; i < count; ++i) bigger[i] = ring_[(head_ + i) & mask_];
    ring_ = std::move(bigger);
    mask_ = cap - 1;
    head_ = 0;
    tail_ = count;
    return true;
  }

  // Room was reserved (see above).
  void push_back(Fiber* f) noexcept { ring_[tail_++ & mask_] = f; }
  Fiber* pop_front() noexcept { return empty() ? nullptr : ring_[head_++ & mask_]; }
  // Takes f out wherever it is, keeping the order of the rest (O(n): only for a fiber that
  // ends while queued, which a fiber made ready while it runs can). False if f is not there.
  bool erase(Fiber* f) noexcept {
    for (std::size_t i = head_; i != tail_; ++i) {
      if (ring_[i & mask_] != f) continue;
      for (std::size_t j = i; j + 1 != tail_; ++j) ring_[j & mask_] = ring_[(j + 1) & mask_];
      --tail_;
      return true;
    }
    return false;
  }
  // The fiber `i` places behind the front (0: the front), or null past the back.
  Fiber* peek(std::size_t i) const noexcept {
    return i < size() ? ring_[(head_ + i) & mask_] : nullptr;
  }

 private:
  std::unique_ptr<Fiber*[]> ring_;
  std::size_t mask_ = 0;
  // Free-running positions: entries are [head_, tail_), each at its position & mask_.
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

}  // namespace weft::detail
