#include <weft/signal.hpp>

#include "blocking.hpp"
#include "errors.hpp"

#include <csignal>

namespace weft {

Status signal_wait(int signum, const CancelToken& token) {
  detail::BlockingEntry entry(token, "signal_wait", detail::WaitObj::signal,
                              static_cast<std::uint64_t>(signum));
  if (auto ec = entry.need_fiber()) return ec;
  if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP) return wsa::einval;
  if (auto ec = entry.admit()) return ec;
  detail::Fiber* f = entry.fiber();
  auto* handle = new (std::nothrow) uv_signal_t;
  if (!handle) return wsa::enobufs;
  if (int rc = uv_signal_init(f->rt->loop(), handle); rc != 0) {
    delete handle;
    return detail::uv_to_error(rc);
  }
  handle->data = f;
  detail::CallState st;
  {
    detail::BlockingCall call(entry);
    int rc = uv_signal_start_oneshot(
        handle,
        [](uv_signal_t* h, int) {
          auto* fiber = static_cast<detail::Fiber*>(h->data);
          fiber->rt->complete(fiber);
        },
        signum);
    st = rc == 0 ? call.wait() : detail::CallState::idle;
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(handle),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
      return detail::uv_to_error(rc);
    }
  }
  // Stopped before the call returns: the callback cannot fire for a later call.
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
  return detail::outcome_error(st);
}

}  // namespace weft
