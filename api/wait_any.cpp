// wait_any (weft/wait_any.hpp, semantics.md §8): one wait over several operations, on the one
// wait of runtime/primitives.hpp; socket readiness and the end of a fiber as observers.
#include <weft/wait_any.hpp>

#include "park.hpp"
#include "primitives.hpp"
#include "socket_table.hpp"

#include <optional>

#include <poll.h>

namespace weft {
namespace detail {
namespace {

// on_readable / on_writable: the socket's readiness, observed through the runtime's poll of
// it, as poll() observes it.
struct SocketObserver {
  RuntimeImpl* rt = nullptr;
  Socket socket = Socket::invalid;
  int events = 0;  // UV_READABLE or UV_WRITABLE
  std::optional<IoWaiter> waiter;

  static bool ready(void* ctx) noexcept {
    auto* o = static_cast<SocketObserver*>(ctx);
    Sock* s = o->rt->sockets().get(o->socket);
    if (!s || s->fd < 0) return true;  // closed or aborted meanwhile: report it
    pollfd p{s->fd, static_cast<short>(o->events == UV_READABLE ? POLLIN | POLLRDHUP : POLLOUT), 0};
    return retry_eintr([&] { return ::poll(&p, 1, 0); }) > 0;
  }
  static std::error_code link(void* ctx, Fiber* f) noexcept {
    auto* o = static_cast<SocketObserver*>(ctx);
    Sock* s = o->rt->sockets().get(o->socket);
    if (!s) return wsa::eintr;  // closed meanwhile by another fiber, as poll says
    o->waiter.emplace(f, o->events);
    return o->rt->sockets().wait_add(s, *o->waiter);
  }
  static void unlink(void* ctx) noexcept { static_cast<SocketObserver*>(ctx)->waiter.reset(); }
  static constexpr ObserverOps ops = {ready, link, unlink};
};

// on_join: the end of a fiber of this runtime (its joiners list) or of another (RemoteJoin).
struct JoinObserver {
  FiberId target = FiberId::none;
  std::optional<JoinWaiter> local;
  std::optional<RemoteJoin> remote;

  static bool ready(void* ctx) noexcept {
    return fiber_table_live_slot(static_cast<JoinObserver*>(ctx)->target) == nullptr;
  }
  static std::error_code link(void* ctx, Fiber* f) noexcept {
    auto* o = static_cast<JoinObserver*>(ctx);
    FiberSlot* s = fiber_table_live_slot(o->target);
    if (!s) {
      // Ended since ready() looked: complete the call, which then finds it ready.
      (void)f->slot->word.complete(f->gen(), CallState::completed);
      return {};
    }
    if (s->runtime_index.load(std::memory_order_relaxed) == f->rt->index()) {
      o->local.emplace(f);
      s->fiber->joiners.push_back(o->local->hook);
    } else {
      o->remote.emplace(s, o->target, f);
    }
    return {};
  }
  static void unlink(void* ctx) noexcept {
    auto* o = static_cast<JoinObserver*>(ctx);
    o->local.reset();
    o->remote.reset();
  }
  static constexpr ObserverOps ops = {ready, link, unlink};
};

}  // namespace

}  // namespace detail

using detail::SyncAccess;

Waitable on_event(Event& e) noexcept {
  return SyncAccess::make(Waitable::Kind::event, &SyncAccess::state(e), nullptr, 0);
}
Waitable on_acquire(Semaphore& s) noexcept {
  return SyncAccess::make(Waitable::Kind::acquire, &SyncAccess::state(s), nullptr, 0);
}
Waitable on_readable(Socket s) noexcept {
  return SyncAccess::make(Waitable::Kind::readable, nullptr, nullptr,
                          static_cast<std::uint64_t>(s));
}
Waitable on_writable(Socket s) noexcept {
  return SyncAccess::make(Waitable::Kind::writable, nullptr, nullptr,
                          static_cast<std::uint64_t>(s));
}
Waitable on_join(FiberId f) noexcept {
  return SyncAccess::make(Waitable::Kind::join, nullptr, nullptr, to_integer(f));
}

Result<std::size_t> wait_any(std::initializer_list<Waitable> list, const CancelToken& token) {
  using namespace detail;
  BlockingEntry entry(token, "wait_any");
  const std::size_t n = list.size();
  if (n == 0 || n > kMaxWaitables) return wsa::einval;

  // The operations, and the observers' state, in argument order: in place for a few.
  constexpr std::size_t kInPlace = 4;
  std::optional<SmallArray<WaitOp, kInPlace>> ops_room;
  std::optional<SmallArray<std::optional<SocketObserver>, kInPlace>> sockets_room;
  std::optional<SmallArray<std::optional<JoinObserver>, kInPlace>> joins_room;
  std::optional<SmallArray<WaitNode, kInPlace>> nodes_room;
  try {
    ops_room.emplace(n);
    sockets_room.emplace(n);
    joins_room.emplace(n);
    nodes_room.emplace(n);
  } catch (const std::bad_alloc&) {
    return wsa::enobufs;
  }
  auto& ops = *ops_room;
  auto& sockets = *sockets_room;
  auto& joins = *joins_room;
  std::size_t i = 0;
  for (const Waitable& w : list) {
    void* target = SyncAccess::target(w);
    void* data = SyncAccess::data(w);
    switch (SyncAccess::kind(w)) {
      case Waitable::Kind::recv: ops[i] = WaitOp{WaitKind::recv, target, data}; break;
      case Waitable::Kind::send: ops[i] = WaitOp{WaitKind::send, target, data}; break;
      case Waitable::Kind::event: ops[i] = WaitOp{WaitKind::event, target}; break;
      case Waitable::Kind::acquire: ops[i] = WaitOp{WaitKind::acquire, target}; break;
      case Waitable::Kind::readable:
      case Waitable::Kind::writable: {
        if (!entry.fiber()) return wsa::einval;
        const Socket s = static_cast<Socket>(SyncAccess::handle(w));
        if (!entry.runtime()->sockets().get(s)) return wsa::enotsock;
        SocketObserver& o = sockets[i].emplace();
        o.rt = entry.runtime();
        o.socket = s;
        o.events = SyncAccess::kind(w) == Waitable::Kind::readable ? UV_READABLE : UV_WRITABLE;
        ops[i] = WaitOp{WaitKind::observe, nullptr, &o, &SocketObserver::ops};
        break;
      }
      case Waitable::Kind::join: {
        if (!entry.fiber()) return wsa::einval;
        const FiberId f = static_cast<FiberId>(SyncAccess::handle(w));
        if (f == FiberId::none || !fiber_table_slot(f)) return wsa::einval;
        if (f == entry.fiber()->id) return wsa::einval;  // it would wait for itself
        JoinObserver& o = joins[i].emplace();
        o.target = f;
        ops[i] = WaitOp{WaitKind::observe, nullptr, &o, &JoinObserver::ops};
        break;
      }
    }
    ++i;
  }
  if (auto ec = WaitCall::admit(entry, token)) return ec;
  Waiter self;
  self.owner = this_owner();
  WaitResult r = try_ops(ops.data(), n, self);
  if (r.result != kWouldBlock) return r.index;
  WaitCall call(entry, token);
  r = wait_ops(call, ops.data(), nodes_room->data(), n);
  if (r.error) return r.error;
  return r.index;
}

}  // namespace weft
