// weft::detail — the runtime's timers: one binary min-heap behind a single uv_timer_t.
//
// Nodes live in the blocked calls that own them (on fiber stacks), so arming a timer never
// allocates beyond the heap's array. The array holds each timer's ordering key beside its
// node, so that sifting compares entries of one contiguous array and never reads the nodes
// on other fibers' stacks, each of which would be a cache miss when many fibers wait.
//
// Removal is lazy: erase() only marks the node's entry removed, O(1), because one cancel may
// remove a timer for every fiber it wakes (a token that ends many sleeps), and a sift for each
// would again touch the stacks of the fibers whose entries move. Removed entries keep their
// keys, so the heap stays ordered; they are dropped when they reach the top, and all at once
// (a rebuild in O(n)) when a push finds them outnumbering the live ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weft::detail {

struct TimerNode {
  static constexpr std::size_t kNotInHeap = ~std::size_t{0};
  std::int64_t due = 0;  // steady clock, nanoseconds
  std::size_t index = kNotInHeap;
  void (*fire)(TimerNode*) = nullptr;
  void* ctx = nullptr;
  bool armed() const noexcept { return index != kNotInHeap; }
};

class TimerHeap {
 public:
  void push(TimerNode* n);
  void erase(TimerNode* n) noexcept {  // no-op if not armed (inline: the common case)
    if (n->armed()) erase_armed(n);
  }
  // The earliest armed timer, or nullptr.
  TimerNode* top() noexcept {
    drop_removed_top();
    return heap_.empty() ? nullptr : heap_.front().node;
  }
  TimerNode* pop() noexcept;
  bool empty() const noexcept { return heap_.size() == removed_; }
  std::size_t size() const noexcept { return heap_.size() - removed_; }

 private:
  struct Entry {
    std::int64_t due;
    std::uint64_t seq;  // FIFO among equal due times
    TimerNode* node;    // nullptr once erased
  };
  static bool before(const Entry& a, const Entry& b) noexcept {
    return a.due < b.due || (a.due == b.due && a.seq < b.seq);
  }
  void place(std::size_t i, const Entry& e) noexcept {
    heap_[i] = e;
    if (e.node) e.node->index = i;
  }
  void erase_armed(TimerNode* n) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void remove_root() noexcept;
  void drop_removed_top() noexcept {
    while (!heap_.empty() && !heap_.front().node) {
      remove_root();
      --removed_;
    }
  }
  void rebuild() noexcept;

  std::vector<Entry> heap_;
  std::size_t removed_ = 0;  // entries erased but still in the array
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
