#include "fiber_table.hpp"

#include <mutex>
#include <vector>

namespace weft::detail {

constinit std::atomic<FiberSlot*> fiber_chunks[kChunks] = {};

namespace {

struct Table {
  std::mutex mu;  // guards free_slots and next_slot
  std::vector<std::uint32_t> free_slots;
  std::uint32_t next_slot = 0;
};

Table& table() {
  // Never destroyed: foreign threads may still read slots while static destructors run.
  static Table* t = new Table;
  return *t;
}

FiberSlot* slot_at(std::uint32_t index) noexcept {
  FiberSlot* chunk = fiber_chunks[index >> kChunkBits].load(std::memory_order_acquire);
  return &chunk[index & (kChunkSize - 1)];
}

}  // namespace

FiberId fiber_table_acquire(Fiber* fiber, std::uint32_t runtime_index) noexcept {
  Table& t = table();
  std::uint32_t index;
  {
    std::lock_guard lock(t.mu);
    if (!t.free_slots.empty()) {
      index = t.free_slots.back();
      t.free_slots.pop_back();
    } else {
      if (t.next_slot >= (1u << kSlotBits)) return FiberId::none;
      index = t.next_slot;
      std::uint32_t c = index >> kChunkBits;
      if (!fiber_chunks[c].load(std::memory_order_relaxed)) {
        auto* chunk = new (std::nothrow) FiberSlot[kChunkSize];
        if (!chunk) return FiberId::none;
        fiber_chunks[c].store(chunk, std::memory_order_release);
      }
      ++t.next_slot;
    }
  }
  FiberSlot* s = slot_at(index);
  std::uint64_t gen = gen_of_word(s->word.load(std::memory_order_relaxed));
  if (gen == 0) gen = 1;  // a fresh slot: generation 0 is never issued, so no id is 0
  s->fiber = fiber;
  s->runtime_index.store(runtime_index, std::memory_order_relaxed);
  // Publishes fiber and runtime_index to whoever later reads the word with acquire.
  s->word.open(gen);
  return static_cast<FiberId>((gen << kSlotBits) | index);
}

void fiber_table_release(FiberId id) noexcept {
  Table& t = table();
  std::uint32_t index = slot_of_id(id);
  FiberSlot* s = slot_at(index);
  std::uint64_t next = (gen_of_id(id) + 1) & kGenMask;
  if (next == 0) next = 1;
  s->fiber = nullptr;
  // From here on the old id is stale: cancels and joins see a different generation.
  s->word.retire(next);
  // Pairs with the fence in join_remote: either it sees the new generation, or this sees
  // its registration.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (s->remote_joiners.load(std::memory_order_relaxed) != 0) remote_joiners_notify(s, id);
  std::lock_guard lock(t.mu);
  t.free_slots.push_back(index);
}

}  // namespace weft::detail
