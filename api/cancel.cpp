// cancel_blocking_call, both forms (semantics.md §2): the public door to runtime/cancel.cpp.
#include <weft/cancel.hpp>

#include "blocking.hpp"

namespace weft {

Status cancel_blocking_call(FiberId f) noexcept {
  return detail::cancel_call(f, detail::CallState::cancelled);
}

Status cancel_blocking_call() noexcept {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  detail::Fiber* f = rt ? rt->current() : nullptr;
  if (!f) return wsa::einval;
  return detail::cancel_call(f->id, detail::CallState::cancelled);
}

}  // namespace weft
