// Channels (weft/channel.hpp, semantics.md §8): the core the template's handles share, on the
// one wait of runtime/primitives.hpp.
#include <weft/channel.hpp>

#include "primitives.hpp"

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

Status channel_op(void* core, WaitKind kind, void* data, bool wait, const CancelToken& token) {
  const WaitOp op{kind, &core_of(core), data};
  if (!wait) {
    WaitResult r = try_ops(&op, 1, Waiter());
    return r.result == kWouldBlock ? Status(wsa::ewouldblock) : status_of(r.result);
  }
  BlockingEntry entry(token);
  if (auto ec = WaitCall::admit(entry, token)) return ec;
  WaitResult r = try_ops(&op, 1, Waiter());
  if (r.result != kWouldBlock) return status_of(r.result);
  WaitCall call(entry, token);
  WaitNode node;
  r = wait_ops(call, &op, &node, 1);
  if (r.error) return r.error;
  return status_of(r.result);
}

}  // namespace

Status channel_send(void* core, void* value, bool wait, const CancelToken& token) {
  return channel_op(core, WaitKind::send, value, wait, token);
}

Status channel_recv(void* core, void* out, bool wait, const CancelToken& token) {
  return channel_op(core, WaitKind::recv, out, wait, token);
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
      n->fired = true;
      n->result = static_cast<int>(wsa::eshutdown);
      wakes.add(*n->waiter);
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
