// weft::detail — a runtime's counters (semantics.md §11): what RuntimeStats, a RuntimeGroup's
// sum and the /metrics page report.
//
// They live in the runtime's mailbox block (mailbox.hpp), which any thread may hold a
// reference to, so that a reader on another thread (the debug listener of another runtime, an
// operator's thread) reads them without the runtime's cooperation: a runtime whose thread is
// stuck still reports what it had counted. The runtime's own thread is the single writer of
// all but `alive`: a counter moves by a relaxed load and store (bump), no locked instruction
// on the hot path, and any thread may read it.
#pragma once

#include <weft/runtime.hpp>

#include <atomic>
#include <cstdint>

namespace weft::detail {

// Single-writer counter increment: no locked instruction on the hot path.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t by = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}
// Single-writer maximum.
inline void raise_to(std::atomic<std::uint64_t>& c, std::uint64_t v) noexcept {
  if (v > c.load(std::memory_order_relaxed)) c.store(v, std::memory_order_relaxed);
}

// What a cancel request (weft::cancel, WSPCancelBlockingCall) replied.
enum class CancelReply : std::uint8_t { ok, einval, enetdown };
inline constexpr unsigned kCancelReplies = 3;

// How a blocking call that waited ended: the outcome word's state, less idle and pending
// (fiber_table.hpp: completed = 2 ... netdown = 5).
inline constexpr unsigned kOutcomes = 4;

struct RuntimeCounters {
  // --- the runtime's thread: single writer ---
  // Blocking calls that became outstanding, by how they ended: completed, cancelled,
  // timed out, stopped (a call that completed without waiting is not counted).
  alignas(64) std::atomic<std::uint64_t> outcomes[kOutcomes] = {};
  std::atomic<std::uint64_t> switches{0};  // scheduler-to-fiber switches
  // The fiber the thread runs now (its FiberId, as an integer); 0 outside any fiber. Stored at
  // each switch beside `switches`, so that a fiber dump whose runtime does not answer can say
  // which fiber holds the thread (debug::RuntimeDump::holder).
  std::atomic<std::uint64_t> running{0};
  std::atomic<std::uint64_t> iterations{0};  // uv_run calls
  std::atomic<std::uint64_t> wakeups{0};     // cross-thread wake-ups received
  // Watches of the mailbox before a sleep (RuntimeOptions::spin_before_sleep): those that a
  // wake-up ended (counted in wakeups too), and those that ran out.
  std::atomic<std::uint64_t> spin_wakeups{0};
  std::atomic<std::uint64_t> spins_timed_out{0};

  // Rarer, on a line of their own.
  // Cancel requests made from this runtime's thread (its fibers and posted functions), by
  // reply; requests from threads that run no runtime are counted process-wide
  // (thread_cancel_replies).
  alignas(64) std::atomic<std::uint64_t> cancel_replies[kCancelReplies] = {};
  std::atomic<std::uint64_t> resets_by_cancel{0};  // cancel-table resets (cancel_rule.hpp)
  // Watches of a channel's full or empty buffer (api/channel.cpp): those that saw room or a
  // value, and those that ran out.
  std::atomic<std::uint64_t> channel_watches{0};
  std::atomic<std::uint64_t> channel_watches_timed_out{0};
  std::atomic<std::uint64_t> connects_reaped{0};  // cancelled connects' sockets freed
  std::atomic<std::uint64_t> fibers_spawned{0};
  std::atomic<std::uint64_t> fibers_high_water{0};
  std::atomic<std::uint64_t> sockets_open{0};
  std::atomic<std::uint64_t> sockets_high_water{0};
  std::atomic<std::uint64_t> pending_connects{0};
  std::atomic<std::uint64_t> stacks_guarded{0};
  std::atomic<std::uint64_t> stacks_unguarded{0};
  std::atomic<std::uint64_t> stacks_pooled{0};
  std::atomic<std::uint64_t> stack_fallbacks{0};  // stacks taken unguarded: the limit was hit

  // --- any thread (a spawn from another thread counts its fiber at once) ---
  alignas(64) std::atomic<std::uint64_t> alive{0};
};

// What RuntimeStats reports of `c` (any thread).
RuntimeStats stats_of(const RuntimeCounters& c) noexcept;

// Cancel requests from threads that run no runtime, by reply (any thread: locked adds, off
// every fast path but a plain thread's cancel).
extern std::atomic<std::uint64_t> thread_cancel_replies[kCancelReplies];

}  // namespace weft::detail
