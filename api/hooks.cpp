#include <weft/hooks.hpp>

#include "blocking.hpp"

namespace weft {

namespace detail {

Status post_to_fiber(FiberId id, TaskPtr task) noexcept {
  if (!task) return wsa::einval;
  FiberSlot* s = fiber_table_live_slot(id);
  if (!s) return wsa::einval;
  std::uint32_t ri = s->runtime_index.load(std::memory_order_relaxed);
  RuntimeImpl* here = tls_runtime;
  if (here && here->index() == ri) {
    // The fiber is of this runtime and cannot end while this thread runs: deliver now.
    if (here->stopping()) return wsa::enetdown;
    Fiber* f = s->fiber;
    f->queue_message(std::move(task));
    if (f != here->current() && f->call_state() == CallState::pending) here->make_ready(f);
    return {};
  }
  RuntimeMailbox* rs = registry_acquire(ri);
  if (!rs) return wsa::einval;
  Status result;
  if (rs->stopping.load(std::memory_order_acquire)) {
    result = wsa::enetdown;
  } else {
    // Delivered by the loop, which checks again that the fiber still exists.
    Message m{Message::Kind::fiber_post};
    m.id = id;
    m.task = std::move(task);
    if (!rs->push(std::move(m))) result = wsa::einval;
  }
  rs->release();
  return result;
}

}  // namespace detail

BlockingHook set_blocking_hook(BlockingHook hook) {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  detail::Fiber* f = rt ? rt->current() : nullptr;
  if (!f) return {};
  f->swap_hook(hook);
  return hook;
}

bool is_blocking() noexcept {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  detail::Fiber* f = rt ? rt->current() : nullptr;
  return f && f->pseudo_depth > 0;
}

Result<bool> blocking_callback() {
  detail::BlockingEntry entry({}, "blocking_callback");
  if (auto ec = entry.need_fiber()) return ec;
  if (auto ec = entry.admit()) return ec;
  detail::Fiber* f = entry.fiber();
  detail::CallState st;
  {
    detail::BlockingCall call(entry);
    f->rt->make_ready(f);  // one turn of the loop with the wait outstanding
    f->rt->suspend();
    detail::run_fiber_messages(f, true);
    detail::run_blocking_hook(f);
    st = f->call_state();
  }
  if (st == detail::CallState::netdown) return wsa::enetdown;
  return st != detail::CallState::cancelled && st != detail::CallState::timed_out;
}

}  // namespace weft
