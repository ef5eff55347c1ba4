// weft::detail — the runtime's timers: one binary min-heap of intrusive nodes behind a
// single uv_timer_t. Nodes live in the blocked calls that own them (on fiber stacks), so
// arming a timer never allocates and removing one is O(log n).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weft::detail {

struct TimerNode {
  static constexpr std::size_t kNotInHeap = ~std::size_t{0};
  std::int64_t due = 0;  // steady clock, nanoseconds
  std::uint64_t seq = 0;  // FIFO among equal due times
  std::size_t index = kNotInHeap;
  void (*fire)(TimerNode*) = nullptr;
  void* ctx = nullptr;
  bool armed() const noexcept { return index != kNotInHeap; }
};

class TimerHeap {
 public:
  void push(TimerNode* n);
  void erase(TimerNode* n) noexcept;  // no-op if not armed
  TimerNode* top() const noexcept { return heap_.empty() ? nullptr : heap_.front(); }
  TimerNode* pop() noexcept;
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }

 private:
  static bool before(const TimerNode* a, const TimerNode* b) noexcept {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
  }
  void place(std::size_t i, TimerNode* n) noexcept {
    heap_[i] = n;
    n->index = i;
  }
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;

  std::vector<TimerNode*> heap_;
  std::uint64_t next_seq_ = 0;
};

// A timer node owned by a scope (a blocked call's frame): armed at will, removed from the
// heap when the scope ends, whether it fired or not.
class ScopedTimer {
 public:
  explicit ScopedTimer(TimerHeap& heap) noexcept : heap_(heap) {}
  ~ScopedTimer() { heap_.erase(&node_); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

  // (Re)arms the timer to call fire(node) at `due` (steady-clock ns); node.ctx is `ctx`.
  void arm(std::int64_t due, void (*fire)(TimerNode*), void* ctx) {
    heap_.erase(&node_);
    node_.due = due;
    node_.fire = fire;
    node_.ctx = ctx;
    heap_.push(&node_);
  }
  bool armed() const noexcept { return node_.armed(); }

 private:
  TimerHeap& heap_;
  TimerNode node_;
};

}  // namespace weft::detail
