// Signals: signal_wait watches one delivery with a one-shot libuv handle; a SignalWatch holds a
// persistent one, whose callback counts deliveries and completes the waiting fiber's call.
#include <weft/signal.hpp>

#include "blocking.hpp"
#include "errors.hpp"

#include <atomic>
#include <csignal>
#include <new>
#include <utility>

namespace weft {

namespace detail {
namespace {

bool watchable(int signum) noexcept {
  return signum > 0 && signum < NSIG && signum != SIGKILL && signum != SIGSTOP;
}

}  // namespace

// Shared by the SignalWatch and its libuv handle, each holding one reference: the handle's
// is dropped in its close callback, so the state outlives the handle whichever goes first.
struct SignalWatchState final : RuntimeHandle {
  uv_signal_t handle;
  // The owning runtime; null once it is destroyed. Atomic: a watch destroyed on another
  // thread reads it (to find that it is not on the runtime's thread).
  std::atomic<RuntimeImpl*> rt{nullptr};
  int signum = 0;
  std::uint64_t pending = 0;  // deliveries not yet taken by a wait
  Fiber* waiter = nullptr;    // the fiber in wait(), if any
  bool handle_open = false;
  std::atomic<int> refs{2};

  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // On the runtime's thread: stops watching. The signal's disposition goes back to what
  // libuv restores once no handle of the process watches it.
  void close_handle() noexcept {
    if (hook.linked()) hook.unlink();
    if (!handle_open) return;
    handle_open = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle),
             [](uv_handle_t* h) { static_cast<SignalWatchState*>(h->data)->release(); });
  }
  void runtime_ending() noexcept override {
    close_handle();
    rt.store(nullptr, std::memory_order_release);
  }
};

}  // namespace detail

Status signal_wait(int signum, const CancelToken& token) {
  detail::BlockingEntry entry(token, "signal_wait", detail::WaitObj::signal,
                              static_cast<std::uint64_t>(signum));
  if (auto ec = entry.need_fiber()) return ec;
  if (!detail::watchable(signum)) return wsa::einval;
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

using detail::SignalWatchState;

Result<SignalWatch> SignalWatch::start(int signum) {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt || !rt->current() || !detail::watchable(signum)) return wsa::einval;
  auto* st = new (std::nothrow) SignalWatchState;
  if (!st) return wsa::enobufs;
  st->signum = signum;
  st->rt.store(rt, std::memory_order_relaxed);
  if (int rc = uv_signal_init(rt->loop(), &st->handle); rc != 0) {
    delete st;
    return detail::uv_to_error(rc);
  }
  st->handle.data = st;
  st->handle_open = true;
  int rc = uv_signal_start(
      &st->handle,
      [](uv_signal_t* h, int) {
        auto* s = static_cast<SignalWatchState*>(h->data);
        ++s->pending;
        // A waiter whose call a cancel or stop has already ended is not completed: the
        // delivery stays counted for its next wait.
        if (s->waiter) s->rt.load(std::memory_order_relaxed)->complete(s->waiter);
      },
      signum);
  if (rc != 0) {
    st->close_handle();
    st->release();
    return detail::uv_to_error(rc);
  }
  rt->handles().push_back(st->hook);
  return SignalWatch(st);
}

SignalWatch& SignalWatch::operator=(SignalWatch&& o) noexcept {
  if (this != &o) {
    SignalWatch gone(std::move(*this));
    st_ = o.st_;
    o.st_ = nullptr;
  }
  return *this;
}

SignalWatch::~SignalWatch() {
  if (!st_) return;
  // On the runtime's thread the watching stops now; elsewhere the runtime's end stops it.
  if (st_->rt.load(std::memory_order_acquire) == detail::tls_runtime) st_->close_handle();
  st_->release();
}

Result<std::uint64_t> SignalWatch::wait(const CancelToken& token) {
  detail::BlockingEntry entry(token, "SignalWatch::wait", detail::WaitObj::signal,
                              static_cast<std::uint64_t>(signum()));
  if (auto ec = entry.need_fiber()) return ec;
  SignalWatchState* st = st_;
  if (!st || st->rt.load(std::memory_order_relaxed) != entry.runtime() || st->waiter) {
    return wsa::einval;
  }
  if (auto ec = entry.admit()) return ec;
  if (st->pending == 0) {
    detail::CallState how;
    {
      detail::BlockingCall call(entry);
      st->waiter = entry.fiber();
      how = call.wait();
      st->waiter = nullptr;
    }
    if (how != detail::CallState::completed) return detail::outcome_error(how);
  }
  return std::exchange(st->pending, 0);
}

int SignalWatch::signum() const noexcept { return st_ ? st_->signum : 0; }

}  // namespace weft
