// weft::detail — the process-wide fiber table: ids, and the outcome word of each fiber's one
// outstanding blocking call.
//
// A FiberId is [generation:40][slot:24]. Slots are never freed (only reused, with the next
// generation), so any thread may read any slot at any time: that is what makes cancel from a
// foreign thread safe against the target fiber ending concurrently.
//
// FiberSlot::word, bit by bit:
//   bits 0..5   CallState of the fiber's outstanding blocking call (idle when there is none)
//   bit  6      kRequestTimedOut: with bit 7, the request was a deadline's (WSAETIMEDOUT)
//   bit  7      kCancelRequested: a cancel arrived after completion had fixed the outcome
//   bits 8..47  generation of the fiber in the slot; it changes when that fiber ends
// Every transition out of `pending` is a compare-and-swap that includes the generation, so
// completion, cancel, deadline and stop race through this one word and the loser does nothing.
#pragma once

#include <weft/fiber_id.hpp>

#include <atomic>
#include <cstdint>

namespace weft::detail {

struct Fiber;

enum class CallState : std::uint8_t {
  idle = 0,       // no outstanding blocking call
  pending = 1,    // outstanding; outcome not yet fixed
  completed = 2,  // fixed by completion (readiness, timer, join...)
  cancelled = 3,  // fixed by cancel: the call returns WSAEINTR
  timed_out = 4,  // fixed by a deadline: WSAETIMEDOUT
  netdown = 5,    // fixed by runtime stop: WSAENETDOWN
};

inline constexpr std::uint64_t kStateMask = 0x3f;
inline constexpr std::uint64_t kRequestTimedOut = 0x40;
inline constexpr std::uint64_t kCancelRequested = 0x80;
inline constexpr unsigned kSlotBits = 24;
inline constexpr std::uint64_t kGenMask = (std::uint64_t{1} << 40) - 1;

inline CallState state_of(std::uint64_t word) noexcept {
  return static_cast<CallState>(word & kStateMask);
}
inline std::uint64_t gen_of_word(std::uint64_t word) noexcept { return (word >> 8) & kGenMask; }
inline std::uint64_t make_word(std::uint64_t gen, CallState s) noexcept {
  return (gen << 8) | static_cast<std::uint64_t>(s);
}
inline std::uint64_t gen_of_id(FiberId id) noexcept { return to_integer(id) >> kSlotBits; }
inline std::uint32_t slot_of_id(FiberId id) noexcept {
  return static_cast<std::uint32_t>(to_integer(id) & ((1u << kSlotBits) - 1));
}

// The outcome word of one fiber slot (its bits above), and every transition it makes: one
// type, so that "one outcome, fixed once by compare-and-swap" holds in code as in data.
class OutcomeWord {
 public:
  // What a cancel or a deadline's fix() found.
  enum class Fix {
    won,        // pending → the given outcome: the caller must get the fiber running
    no_effect,  // already fixed (completion won, or a cancel before): 0, nothing more to do
    no_call,    // no outstanding call, or the fiber has ended: WSAEINVAL
    stopped,    // fixed by runtime stop: WSAENETDOWN
  };

  // --- any thread ---
  std::uint64_t load(std::memory_order order = std::memory_order_acquire) const noexcept {
    return w_.load(order);
  }
  CallState state() const noexcept { return state_of(load()); }
  std::uint64_t gen() const noexcept { return gen_of_word(load()); }

  // Fixes the pending call of fiber generation `gen` to `how` (cancelled or timed_out); a
  // cancel that finds the call completed marks kCancelRequested, so that a completion that
  // turns out spurious ends in the cancel (rearm).
  Fix fix(std::uint64_t gen, CallState how) noexcept {
    std::uint64_t w = w_.load(std::memory_order_acquire);
    for (;;) {
      if (gen_of_word(w) != gen) return Fix::no_call;  // the fiber has ended
      switch (state_of(w)) {
        case CallState::idle: return Fix::no_call;
        case CallState::pending:
          if (w_.compare_exchange_weak(w, make_word(gen, how), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
            return Fix::won;
          }
          continue;
        case CallState::completed: {
          // Completion won the race; the call returns its result as if never cancelled,
          // unless it finds the completion spurious (rearm), which then ends in the request,
          // with its reason. The first request stays.
          if (w & kCancelRequested) return Fix::no_effect;
          const std::uint64_t asked =
              kCancelRequested | (how == CallState::timed_out ? kRequestTimedOut : 0);
          if (w_.compare_exchange_weak(w, w | asked, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
            return Fix::no_effect;
          }
          continue;
        }
        case CallState::cancelled:
        case CallState::timed_out: return Fix::no_effect;  // a repeated cancel
        case CallState::netdown: return Fix::stopped;
      }
      return Fix::no_call;
    }
  }

  // --- the fiber's runtime thread ---
  // The call of generation `gen` becomes outstanding (begin) or ends (end).
  void begin(std::uint64_t gen) noexcept {
    w_.store(make_word(gen, CallState::pending), std::memory_order_release);
  }
  void end(std::uint64_t gen) noexcept {
    w_.store(make_word(gen, CallState::idle), std::memory_order_release);
  }
  // Fixes the pending call to `how` (completion, a call's own timer, stop): false when
  // something else fixed it first (the loser does nothing).
  bool complete(std::uint64_t gen, CallState how) noexcept {
    std::uint64_t expected = make_word(gen, CallState::pending);
    return w_.compare_exchange_strong(expected, make_word(gen, how), std::memory_order_acq_rel,
                                      std::memory_order_acquire);
  }
  // The call's outcome was fixed to `how` (a cancel, a deadline, stop), and yet what it
  // waited for completed all the same and cannot be undone (a pool job that a pool thread
  // started before the fiber could give it up, pool.hpp): the completion stands, and `how`
  // is kept as the request a cancel that found the call completed leaves, which ends the
  // call's next wait (rearm). Only while nothing else writes the word: fix() leaves a fixed
  // outcome alone, and complete() only moves a pending one.
  void complete_over(std::uint64_t gen, CallState how) noexcept {
    std::uint64_t w = make_word(gen, CallState::completed);
    if (how == CallState::cancelled) w |= kCancelRequested;
    if (how == CallState::timed_out) w |= kCancelRequested | kRequestTimedOut;
    w_.store(w, std::memory_order_release);  // netdown: rearm sees the runtime stopping
  }

  // After a completion that turned out spurious (readiness, then EAGAIN): pending again.
  // Returns the outcome instead if a cancel or a deadline arrived meanwhile (it found the
  // call completed and asked for it anyway: no data moved, so it takes effect, with its
  // reason), or netdown once the runtime stops.
  CallState rearm(std::uint64_t gen, bool stopping) noexcept {
    std::uint64_t w = w_.load(std::memory_order_acquire);
    for (;;) {
      CallState instead = (w & kRequestTimedOut)   ? CallState::timed_out
                          : (w & kCancelRequested) ? CallState::cancelled
                          : stopping               ? CallState::netdown
                                                   : CallState::pending;
      if (instead != CallState::pending) {
        w_.store(make_word(gen, instead), std::memory_order_release);
        return instead;
      }
      if (w_.compare_exchange_weak(w, make_word(gen, CallState::pending), std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
        return CallState::pending;
      }
    }
  }

  // --- the slot's life (fiber_table.cpp) ---
  // A fiber of generation `gen` takes the slot: publishes what was written before it.
  void open(std::uint64_t gen) noexcept {
    w_.store(make_word(gen, CallState::idle), std::memory_order_release);
  }
  // The fiber has ended: the slot moves to generation `next`, and the old id is stale.
  void retire(std::uint64_t next) noexcept { open(next); }

 private:
  std::atomic<std::uint64_t> w_{0};
};

struct FiberSlot {
  OutcomeWord word;
  // The registry index of the runtime owning the fiber; constant while the fiber lives.
  std::atomic<std::uint32_t> runtime_index{0};
  // The fiber object; written before the id is published, read on the owner's thread.
  Fiber* fiber = nullptr;
  // Joins waiting on other runtimes for a fiber of this slot (remote_join.cpp): when not 0,
  // the fiber's end looks for them.
  std::atomic<std::uint32_t> remote_joiners{0};
};

// Allocates a slot for a new fiber; returns FiberId::none when the table is full.
FiberId fiber_table_acquire(Fiber* fiber, std::uint32_t runtime_index) noexcept;
// Ends the fiber's generation (its id goes stale at once), completes the joins waiting for it
// on other runtimes, and recycles the slot.
void fiber_table_release(FiberId id) noexcept;
// Completes the joins of fiber `id` waiting on other runtimes (remote_join.cpp).
void remote_joiners_notify(FiberSlot* s, FiberId id) noexcept;

// The table is 4096 chunks of 4096 slots: 2^24 slots, the id's slot field. Chunks are
// allocated on first use and never freed, so a slot pointer stays valid for the life of the
// process. (Constant-initialised: no guard on the lookup, which every cancel makes.)
inline constexpr std::uint32_t kChunkBits = 12;
inline constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
inline constexpr std::uint32_t kChunks = (1u << kSlotBits) / kChunkSize;
extern std::atomic<FiberSlot*> fiber_chunks[kChunks];

// The slot an id names, or nullptr when the id was never issued.
inline FiberSlot* fiber_table_slot(FiberId id) noexcept {
  if (id == FiberId::none) return nullptr;
  std::uint32_t index = slot_of_id(id);
  FiberSlot* chunk = fiber_chunks[index >> kChunkBits].load(std::memory_order_acquire);
  return chunk ? &chunk[index & (kChunkSize - 1)] : nullptr;
}
// The slot of fiber `id` if that fiber has not ended (the slot's generation is still the
// id's), else nullptr.
inline FiberSlot* fiber_table_live_slot(FiberId id) noexcept {
  FiberSlot* s = fiber_table_slot(id);
  return s && s->word.gen() == gen_of_id(id) ? s : nullptr;
}

}  // namespace weft::detail
