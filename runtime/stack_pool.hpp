// weft::detail — fiber stacks: mmap'ed, guarded while the kernel's mapping budget allows,
// pooled for reuse.
//
// A guarded stack is one mapping whose lowest page is made PROT_NONE, which splits it into two
// kernel mappings (VMAs). vm.max_map_count (65530 by default) caps the mappings of a process,
// so guarded stacks top out near 32k. The pool counts guarded stacks process-wide against a
// limit derived from vm.max_map_count at first use (keeping room for the rest of the process);
// past it, and whenever an mmap for a guarded stack fails, stacks are carved from unguarded
// slabs of many stacks each (one mapping per slab). That fallback is logged once and counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weft::detail {

struct Stack {
  char* base = nullptr;   // lowest usable address
  std::size_t size = 0;   // usable bytes
  char* guard = nullptr;  // the guard page below base, or nullptr when unguarded
  bool from_slab = false;

  char* top() const noexcept { return base + size; }
  explicit operator bool() const noexcept { return base != nullptr; }
};

class StackPool {
 public:
  // default_size: the runtime's stack size; guarded_limit: 0 for the process-wide derived
  // limit, else this runtime's own cap; pool_cap: stacks kept for reuse.
  StackPool(std::size_t default_size, std::size_t guarded_limit, std::size_t pool_cap);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  // A stack of at least `size` usable bytes (0: the default), or an empty Stack when memory
  // or mappings are exhausted or no address space could hold the size.
  Stack allocate(std::size_t size);
  void release(Stack s) noexcept;

  std::size_t default_size() const noexcept { return default_size_; }
  std::uint64_t guarded() const noexcept { return guarded_; }
  std::uint64_t unguarded() const noexcept { return unguarded_; }
  // Stacks taken unguarded because the guarded limit was reached.
  std::uint64_t fallbacks() const noexcept { return fallbacks_; }
  std::uint64_t pooled() const noexcept { return pool_.size(); }

  static std::size_t page_size() noexcept;
  // The process-wide limit on guarded stacks derived from vm.max_map_count.
  static std::size_t derived_guarded_limit() noexcept;

 private:
  Stack map_guarded(std::size_t size);
  Stack carve_unguarded();
  Stack map_unguarded(std::size_t size);
  void unmap(Stack& s) noexcept;

  std::size_t default_size_;
  std::size_t guarded_limit_;
  std::size_t pool_cap_;
  std::vector<Stack> pool_;       // default-size stacks ready for reuse
  std::vector<Stack> slab_free_;  // unguarded default-size stacks beyond pool_cap_
  std::vector<std::pair<char*, std::size_t>> slabs_;
  std::uint64_t guarded_ = 0;
  std::uint64_t unguarded_ = 0;
  std::uint64_t fallbacks_ = 0;
};

}  // namespace weft::detail
