// weft::detail — a spin lock for critical sections of a few instructions (appending to a
// list, swapping a vector), where a mutex's size and its futex path buy nothing. Yields the
// thread while it waits, so a holder preempted mid-section is not spun against for a whole
// time slice. BasicLockable: use it with std::lock_guard. And the pause of every spin-wait
// (cpu_relax).
#pragma once

#include <atomic>
#include <thread>

namespace weft::detail {

// A spin-wait's pause: lets the other hardware thread of the core run, and spares the
// memory-order machine clear when the watched line changes.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class SpinLock {
 public:
  void lock() noexcept {
    while (flag_.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
  }
  void unlock() noexcept { flag_.clear(std::memory_order_release); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

}  // namespace weft::detail
