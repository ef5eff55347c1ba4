// Channels (weft/channel.hpp, semantics.md §8): the core the template's handles share, on the
// one wait of runtime/primitives.hpp.
#include <weft/channel.hpp>

#include "primitives.hpp"

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
    return kind == WaitKind::send ? channel_send_locked(c, data, wakes)
                                  : channel_recv_locked(c, data, wakes);
  });
  if (r.error) return r.error;
  return status_of(r.result);
}

}  // namespace

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
