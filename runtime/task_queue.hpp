// weft::detail — a FIFO of tasks that allocates nothing until its first push. Every fiber
// record holds one (the fiber's messages) and almost none is ever used, so it must cost a
// fiber nothing but its own few words: std::deque allocates its map and a block when it is
// constructed.
#pragma once

#include <weft/task.hpp>

#include <cstddef>
#include <vector>

namespace weft::detail {

class TaskQueue {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  void push_back(TaskPtr t) { items_.push_back(std::move(t)); }
  // The oldest task; the queue must not be empty.
  TaskPtr pop_front() noexcept {
    TaskPtr t = std::move(items_[head_++]);
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    }
    return t;
  }

 private:
  std::vector<TaskPtr> items_;
  std::size_t head_ = 0;  // items_[0, head_) have been taken
};

}  // namespace weft::detail
