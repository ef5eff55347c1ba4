// cancel_blocking_call, both forms (semantics.md §2): the public door to runtime/cancel.cpp.
#include <weft/cancel.hpp>

#include "blocking.hpp"

namespace weft {
namespace {

// Counts a request's reply on the runtime of the asking thread (semantics.md §11), or
// process-wide for a thread that runs none.
Status counted(Status reply) noexcept {
  unsigned i = reply.ok() ? 0 : reply.error() == wsa::einval ? 1 : 2;
  if (detail::RuntimeImpl* rt = detail::tls_runtime) {
    detail::bump(rt->counters().cancel_replies[i]);
  } else {
    detail::thread_cancel_replies[i].fetch_add(1, std::memory_order_relaxed);
  }
  return reply;
}

}  // namespace

Status cancel_blocking_call(FiberId f) noexcept {
  return counted(detail::cancel_call(f, detail::CallState::cancelled));
}

Status cancel_blocking_call() noexcept {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  detail::Fiber* f = rt ? rt->current() : nullptr;
  if (!f) return counted(wsa::einval);
  return counted(detail::cancel_call(f->id, detail::CallState::cancelled));
}

}  // namespace weft
