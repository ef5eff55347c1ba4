// A runtime's counters as RuntimeStats reports them (counters.hpp).
#include "counters.hpp"

namespace weft {

RuntimeStats& RuntimeStats::operator+=(const RuntimeStats& o) noexcept {
  fibers_alive += o.fibers_alive;
  sockets_open += o.sockets_open;
  pending_connects += o.pending_connects;
  stacks_guarded += o.stacks_guarded;
  stacks_unguarded += o.stacks_unguarded;
  stacks_pooled += o.stacks_pooled;
  context_switches += o.context_switches;
  loop_iterations += o.loop_iterations;
  wakeups += o.wakeups;
  spin_wakeups += o.spin_wakeups;
  spins_timed_out += o.spins_timed_out;
  channel_watches += o.channel_watches;
  channel_watches_timed_out += o.channel_watches_timed_out;
  fibers_spawned += o.fibers_spawned;
  fibers_high_water += o.fibers_high_water;
  sockets_high_water += o.sockets_high_water;
  stack_fallbacks += o.stack_fallbacks;
  calls_completed += o.calls_completed;
  calls_cancelled += o.calls_cancelled;
  calls_timed_out += o.calls_timed_out;
  calls_stopped += o.calls_stopped;
  cancels_ok += o.cancels_ok;
  cancels_einval += o.cancels_einval;
  cancels_enetdown += o.cancels_enetdown;
  resets_by_cancel += o.resets_by_cancel;
  connects_reaped += o.connects_reaped;
  return *this;
}

namespace detail {

std::atomic<std::uint64_t> thread_cancel_replies[kCancelReplies] = {};

RuntimeStats stats_of(const RuntimeCounters& c) noexcept {
  auto get = [](const std::atomic<std::uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  RuntimeStats s;
  s.fibers_alive = get(c.alive);
  s.sockets_open = get(c.sockets_open);
  s.pending_connects = get(c.pending_connects);
  s.stacks_guarded = get(c.stacks_guarded);
  s.stacks_unguarded = get(c.stacks_unguarded);
  s.stacks_pooled = get(c.stacks_pooled);
  s.context_switches = get(c.switches);
  s.loop_iterations = get(c.iterations);
  s.wakeups = get(c.wakeups);
  s.spin_wakeups = get(c.spin_wakeups);
  s.spins_timed_out = get(c.spins_timed_out);
  s.channel_watches = get(c.channel_watches);
  s.channel_watches_timed_out = get(c.channel_watches_timed_out);
  s.fibers_spawned = get(c.fibers_spawned);
  s.fibers_high_water = get(c.fibers_high_water);
  s.sockets_high_water = get(c.sockets_high_water);
  s.stack_fallbacks = get(c.stack_fallbacks);
  s.calls_completed = get(c.outcomes[0]);
  s.calls_cancelled = get(c.outcomes[1]);
  s.calls_timed_out = get(c.outcomes[2]);
  s.calls_stopped = get(c.outcomes[3]);
  s.cancels_ok = get(c.cancel_replies[0]);
  s.cancels_einval = get(c.cancel_replies[1]);
  s.cancels_enetdown = get(c.cancel_replies[2]);
  s.resets_by_cancel = get(c.resets_by_cancel);
  s.connects_reaped = get(c.connects_reaped);
  return s;
}

}  // namespace detail
}  // namespace weft
