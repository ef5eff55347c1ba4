#include "timer_heap.hpp"

namespace weft::detail {

void TimerHeap::push(TimerNode* n) {
  // Removed entries outnumbering live ones go in one pass, which bounds the array at about
  // twice the most timers ever armed at once.
  if (removed_ > 64 && removed_ > heap_.size() / 2) rebuild();
  heap_.push_back(Entry{n->due, next_seq_++, n});
  n->index = heap_.size() - 1;
  sift_up(n->index);
}

void TimerHeap::erase_armed(TimerNode* n) noexcept {
  std::size_t i = n->index;
  n->index = TimerNode::kNotInHeap;
  if (i == heap_.size() - 1) {
    heap_.pop_back();  // the last entry leaves without a trace
    return;
  }
  heap_[i].node = nullptr;
  ++removed_;
}

TimerNode* TimerHeap::pop() noexcept {
  drop_removed_top();
  if (heap_.empty()) return nullptr;
  TimerNode* n = heap_.front().node;
  remove_root();
  n->index = TimerNode::kNotInHeap;
  return n;
}

void TimerHeap::remove_root() noexcept {
  Entry last = heap_.back();
  heap_.pop_back();
  if (heap_.empty()) return;
  place(0, last);
  sift_down(0);
}

void TimerHeap::rebuild() noexcept {
  std::size_t live = 0;
  for (const Entry& e : heap_) {
    if (e.node) heap_[live++] = e;
  }
  heap_.resize(live);
  removed_ = 0;
  // Floyd's heap construction, then every live node learns its place.
  for (std::size_t i = live / 2; i-- > 0;) sift_down(i);
  for (std::size_t i = 0; i < live; ++i) heap_[i].node->index = i;
}

void TimerHeap::sift_up(std::size_t i) noexcept {
  Entry e = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!before(e, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerHeap::sift_down(std::size_t i) noexcept {
  Entry e = heap_[i];
  std::size_t size = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], e)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

}  // namespace weft::detail
