// Channels (weft/channel.hpp, semantics.md §8): the core the template's handles share, on the
// one wait of runtime/primitives.hpp.
#include <weft/channel.hpp>

#include "primitives.hpp"

#include <algorithm>
#include <mutex>
#include <new>

namespace weft::detail {

void channel_init(void* core, std::size_t capacity, const ChannelOps* ops, void* buffer) noexcept {
  ChannelCore* c = ::new (core) ChannelCore();
  c->capacity = capacity;
  c->ops = ops;
  c->buffer = buffer;
}

void channel_destroy(void* core) noexcept { core_of(core).~ChannelCore(); }

namespace {

// The watch of a full or empty buffer. A blocking send that finds a buffered channel full, or
// a blocking receive that finds it empty, while the other side was last seen on another
// thread (ChannelCore::drained_on, filled_on), watches the buffer for up to kBufferWatchNs
// before it looks again and, if it still must, parks: across two runtimes a parked sender is
// woken through its runtime's mailbox by the receive that refills the buffer with its value,
// one message a wake, and a runtime whose fibers have all parked sleeps. A watch that runs out
// (the other side is slower, or not running) makes the next ones on this channel be skipped,
// twice as many each time; one that sees its room or value ends that. Where the other side was
// seen on the caller's own runtime it could only run once the caller parks, and nothing is
// watched; nor before the other side has been seen, nor on a runtime that never spins
// (RuntimeOptions::spin_before_sleep 0). The call is not outstanding while it watches
// (semantics.md §8: a cancel of the fiber by id finds it running).
constexpr std::int64_t kBufferWatchNs = 1000;
constexpr std::uint16_t kMostWatchesSkipped = 1023;

template <WaitKind kind>
bool buffer_ready(const ChannelCore& c) noexcept {
  const std::size_t n = c.count.load(std::memory_order_relaxed);
  return (kind == WaitKind::send ? n < c.capacity : n > 0) ||
         c.closed.load(std::memory_order_relaxed);
}

// Under the lock, for a blocking call of `here`'s (nullptr: a plain thread) that would wait
// on a buffered channel: watches (without the lock) if it should; true if it did, and then
// holds the lock again.
template <WaitKind kind>
bool watch_buffer(ChannelCore& c, RuntimeImpl* here) noexcept {
  const std::uint32_t other = kind == WaitKind::send ? c.drained_on : c.filled_on;
  if (other == ChannelCore::kNoSide) return false;  // nothing known of the other side yet
  if (here && (other == here->index() || !here->spins())) return false;
  if (c.watch_skip > 0) {
    --c.watch_skip;
    return false;
  }
  c.lock.unlock();
  const std::int64_t deadline = RuntimeImpl::now_ns() + kBufferWatchNs;
  bool seen = false;
  do {
    for (int i = 0; i < 4 && !seen; ++i) {
      cpu_relax();
      seen = buffer_ready<kind>(c);
    }
  } while (!seen && RuntimeImpl::now_ns() < deadline);
  c.lock.lock();
  c.watch_backoff =
      seen ? 0 : std::min<std::uint16_t>(2 * c.watch_backoff + 1, kMostWatchesSkipped);
  c.watch_skip = c.watch_backoff;
  if (here)
    bump(seen ? here->counters().channel_watches : here->counters().channel_watches_timed_out);
  return true;
}

// One per kind, so that wait_one's look under the lock is the kind's own.
template <WaitKind kind>
[[gnu::always_inline]] inline Status channel_op(void* core, void* data, bool wait,
                                                const CancelToken& token) {
  ChannelCore& c = core_of(core);
  if (!wait) {
    const WaitOp op{kind, &c, data};
    WaitResult r = try_ops(&op, 1, Waiter());
    return r.result == kWouldBlock ? Status(wsa::ewouldblock) : status_of(r.result);
  }
  BlockingEntry entry(token, BlockingEntry::DescribedAtWait{});
  if (auto ec = WaitCall::admit(entry, token)) return ec;
  WaitQueue& queue = kind == WaitKind::send ? c.senders : c.receivers;
  const WaitDescription what{kind == WaitKind::send ? "Channel::send" : "Channel::recv",
                             reinterpret_cast<std::uintptr_t>(core)};
  WaitResult r = wait_one(entry, token, kind, &c, data, c.lock, queue, what, [&](Wakes& wakes) {
    return kind == WaitKind::send ? channel_send_locked<Watch::yes>(c, data, wakes)
                                  : channel_recv_locked<Watch::yes>(c, data, wakes);
  });
  if (r.error) return r.error;
  return status_of(r.result);
}

}  // namespace

// Each looks once more after its watch, and waits if it must.
int watch_then_send(ChannelCore& c, void* value, RuntimeImpl* here) noexcept {
  if (!watch_buffer<WaitKind::send>(c, here)) return kWouldBlock;
  Wakes wakes(here);
  return channel_send_locked(c, value, wakes);
}

int watch_then_recv(ChannelCore& c, void* out, RuntimeImpl* here) noexcept {
  if (!watch_buffer<WaitKind::recv>(c, here)) return kWouldBlock;
  Wakes wakes(here);
  return channel_recv_locked(c, out, wakes);
}

Status channel_send(void* core, void* value, bool wait, const CancelToken& token) {
  return channel_op<WaitKind::send>(core, value, wait, token);
}

Status channel_recv(void* core, void* out, bool wait, const CancelToken& token) {
  return channel_op<WaitKind::recv>(core, out, wait, token);
}

void channel_close(void* core) noexcept {
  ChannelCore& c = core_of(core);
  Wakes wakes;
  std::lock_guard g(c.lock);
  if (c.closed.exchange(true, std::memory_order_relaxed)) return;
  // Waiting senders keep their values; receivers wait only on an empty buffer, which now
  // stays empty.
  for (WaitQueue* q : {&c.senders, &c.receivers}) {
    while (WaitNode* n = Wakes::claim_front(*q)) {
      wakes.fire(n, static_cast<int>(wsa::eshutdown));
    }
  }
}

bool channel_closed(const void* core) noexcept {
  return core_of(const_cast<void*>(core)).closed.load(std::memory_order_relaxed);
}

std::size_t channel_size(const void* core) noexcept {
  return core_of(const_cast<void*>(core)).count.load(std::memory_order_relaxed);
}

}  // namespace weft::detail
