// weft::detail — an intrusive doubly-linked list. Hooks live inside the objects they link
// (often on a blocked fiber's stack), so linking never allocates and unlinking is O(1).
#pragma once

namespace weft::detail {

template <class T>
struct ListHook {
  explicit ListHook(T* o = nullptr) noexcept : owner(o) {}
  ListHook(const ListHook&) = delete;
  ListHook& operator=(const ListHook&) = delete;
  ~ListHook() { unlink(); }

  bool linked() const noexcept { return next != nullptr; }
  void unlink() noexcept {
    if (!next) return;
    prev->next = next;
    next->prev = prev;
    prev = next = nullptr;
  }

  ListHook* prev = nullptr;
  ListHook* next = nullptr;
  T* owner;
};

// A circular list with a sentinel hook.
template <class T>
class IntrusiveList {
 public:
  IntrusiveList() noexcept { head_.prev = head_.next = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;
  ~IntrusiveList() {
    while (!empty()) head_.next->unlink();
    head_.prev = head_.next = nullptr;
  }

  bool empty() const noexcept { return head_.next == &head_; }
  void push_back(ListHook<T>& h) noexcept {
    h.unlink();
    h.prev = head_.prev;
    h.next = &head_;
    head_.prev->next = &h;
    head_.prev = &h;
  }
  T* front() const noexcept { return empty() ? nullptr : head_.next->owner; }
  ListHook<T>* front_hook() const noexcept { return empty() ? nullptr : head_.next; }
  T* back() const noexcept { return empty() ? nullptr : head_.prev->owner; }
  T* pop_front() noexcept {
    if (empty()) return nullptr;
    ListHook<T>* h = head_.next;
    h->unlink();
    return h->owner;
  }
  // Calls fn(T&) for each item in order; fn may unlink the item it is given.
  template <class Fn>
  void for_each(Fn&& fn) {
    for (ListHook<T>* h = head_.next; h != &head_;) {
      ListHook<T>* next = h->next;
      fn(*h->owner);
      h = next;
    }
  }

 private:
  ListHook<T> head_;
};

}  // namespace weft::detail
