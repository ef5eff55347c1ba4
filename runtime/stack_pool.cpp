#include "stack_pool.hpp"

#include "log.hpp"

#include <weft/runtime.hpp>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <limits>
#include <mutex>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace weft::detail {
namespace {

constexpr std::size_t kStacksPerSlab = 64;
// Mappings left for everything else in the process (libraries, heap arenas, thread stacks,
// sockets' buffers, slabs) when deriving the guarded-stack limit.
constexpr std::size_t kMappingReserve = 4096;

std::atomic<std::size_t> g_guarded_in_use{0};
std::once_flag g_fallback_logged;

std::size_t read_proc_number(const char* path, std::size_t fallback) {
  std::ifstream in(path);
  std::size_t v = 0;
  return (in >> v) ? v : fallback;
}

std::size_t count_maps() {
  std::ifstream in("/proc/self/maps");
  std::size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

// n rounded up to whole pages; 0 for a size no mapping could have (a request of nearly
// SIZE_MAX would otherwise wrap around to a tiny stack, and its guard page added on top
// would wrap again).
std::size_t round_to_pages(std::size_t n) {
  std::size_t page = StackPool::page_size();
  if (n > std::numeric_limits<std::size_t>::max() / 2) return 0;
  return (n + page - 1) / page * page;
}

}  // namespace

std::size_t StackPool::page_size() noexcept {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

std::size_t StackPool::derived_guarded_limit() noexcept {
  static const std::size_t limit = [] {
    std::size_t max_maps = read_proc_number("/proc/sys/vm/max_map_count", 65530);
    std::size_t used = count_maps();
    std::size_t budget = max_maps > used + kMappingReserve ? max_maps - used - kMappingReserve : 0;
    return budget / 2;  // two mappings per guarded stack
  }();
  return limit;
}

StackPool::StackPool(std::size_t default_size, std::size_t guarded_limit, std::size_t pool_cap)
    : default_size_(round_to_pages(default_size ? default_size : RuntimeOptions{}.stack_size)),
      guarded_limit_(guarded_limit),
      pool_cap_(pool_cap) {}

StackPool::~StackPool() {
  for (Stack& s : pool_) unmap(s);
  for (auto& [p, n] : slabs_) ::munmap(p, n);
}

Stack StackPool::allocate(std::size_t size) {
  size = size ? round_to_pages(size) : default_size_;
  if (size == 0) return {};  // past any address space
  if (size == default_size_) {
    if (!pool_.empty()) {
      Stack s = pool_.back();
      pool_.pop_back();
      return s;
    }
    if (!slab_free_.empty()) {
      Stack s = slab_free_.back();
      slab_free_.pop_back();
      return s;
    }
  }
  bool under_limit =
      guarded_limit_ ? guarded_ < guarded_limit_
                     : g_guarded_in_use.load(std::memory_order_relaxed) < derived_guarded_limit();
  if (under_limit) {
    if (Stack s = map_guarded(size)) return s;
  }
  ++fallbacks_;
  std::call_once(g_fallback_logged, [&] {
    log_warn("fiber stacks: {} guarded stacks in use (limit {} from vm.max_map_count, or the "
             "runtime's guarded_stack_limit); further stacks come from unguarded slabs",
             g_guarded_in_use.load(), guarded_limit_ ? guarded_limit_ : derived_guarded_limit());
  });
  return size == default_size_ ? carve_unguarded() : map_unguarded(size);
}

void StackPool::release(Stack s) noexcept {
  if (s.size == default_size_ && pool_.size() < pool_cap_) {
    pool_.push_back(s);
    return;
  }
  if (s.from_slab) {
    // Slab memory stays mapped; give its touched pages back to the kernel.
    ::madvise(s.base, s.size, MADV_DONTNEED);
    slab_free_.push_back(s);
    return;
  }
  unmap(s);
}

Stack StackPool::map_guarded(std::size_t size) {
  std::size_t page = page_size();
  void* p = ::mmap(nullptr, size + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return {};
  if (::mprotect(p, page, PROT_NONE) != 0) {
    // The split needs a new mapping: this is where vm.max_map_count bites.
    ::munmap(p, size + page);
    return {};
  }
  ++guarded_;
  g_guarded_in_use.fetch_add(1, std::memory_order_relaxed);
  Stack s;
  s.guard = static_cast<char*>(p);
  s.base = s.guard + page;
  s.size = size;
  return s;
}

Stack StackPool::carve_unguarded() {
  if (default_size_ > std::numeric_limits<std::size_t>::max() / kStacksPerSlab) return {};
  std::size_t bytes = default_size_ * kStacksPerSlab;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return {};
  // A slab spans 2 MiB-aligned ranges. Where transparent huge pages are "always" on,
  // the first touch of one such range (a fiber starting on the stack at its top) would fault
  // in a whole huge page for the eight or more stacks in it, making each fiber cost a share
  // of 2 MiB instead of its few touched pages. Recent kernels keep MAP_STACK mappings out of
  // huge pages already (Linux commit c4608d1bf7c6); this says so to older ones. (A guarded
  // stack is a mapping of its own, smaller than a huge page, so none fits in it.) Failure
  // only loses the hint.
  (void)::madvise(p, bytes, MADV_NOHUGEPAGE);
  slabs_.emplace_back(static_cast<char*>(p), bytes);
  char* base = static_cast<char*>(p);
  for (std::size_t i = 1; i < kStacksPerSlab; ++i) {
    Stack s;
    s.base = base + i * default_size_;
    s.size = default_size_;
    s.from_slab = true;
    slab_free_.push_back(s);
  }
  unguarded_ += kStacksPerSlab;
  Stack s;
  s.base = base;
  s.size = default_size_;
  s.from_slab = true;
  return s;
}

Stack StackPool::map_unguarded(std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return {};
  ++unguarded_;
  Stack s;
  s.base = static_cast<char*>(p);
  s.size = size;
  return s;
}

void StackPool::unmap(Stack& s) noexcept {
  if (s.from_slab) return;  // slabs are unmapped whole by the destructor
  if (s.guard) {
    ::munmap(s.guard, s.size + page_size());
    --guarded_;
    g_guarded_in_use.fetch_sub(1, std::memory_order_relaxed);
  } else {
    ::munmap(s.base, s.size);
    --unguarded_;
  }
  s = {};
}

}  // namespace weft::detail
