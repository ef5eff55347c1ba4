// weft — work moved off the runtime's thread onto libuv's thread pool (semantics.md §10).
//
// `offload(fn)` runs `fn` on a thread of libuv's pool (process-wide; UV_THREADPOOL_SIZE
// threads, 4 unless the environment says otherwise, fixed at its first use) while only the
// calling fiber waits: the runtime goes on running its other fibers. It is a blocking call
// like a socket's: it takes a CancelToken as its last parameter, obeys the order of checks of
// semantics.md §7a, and may be cancelled by every source (another fiber or thread, a token or
// scope and their deadlines, the blocking hook, a fiber message, runtime stop).
//
// Cancellation: the pool's start of `fn` and a cancel race through the call's one outcome,
// and the first fixes it. A call cancelled before a pool thread started `fn` returns WSAEINTR
// (WSAETIMEDOUT for a deadline, WSAENETDOWN at stop) and `fn` never runs. Once `fn` has
// started it is never abandoned: the call waits for it and returns what it returned, as if
// the cancel had never been made (the start fixed the outcome first) — a result is never
// discarded. `fn` may watch a token it captured (CancelToken::cancel_requested) to end early; weft
// cannot interrupt a running function.
//
// `fn` runs on another thread: what it touches must be safe to touch from there, and it must
// not call weft's blocking calls (it is not on a fiber: they fail WSAEINVAL). An exception it
// throws is rethrown by offload on the calling fiber. A pool that every thread of which is
// busy (long `fn`s, file calls of every runtime of the process) delays the start, which a
// cancel or a deadline then bounds.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

namespace detail {

// One piece of work for the pool, owned by the calling fiber until it ends; by the runtime
// once a cancel made the call give it up (it is then freed without running). The runtime's
// bookkeeping lives in `space_` (a libuv request and the call's state; offload.cpp).
class WEFT_API PoolJob {
 public:
  PoolJob() noexcept = default;
  virtual ~PoolJob();
  PoolJob(const PoolJob&) = delete;
  PoolJob& operator=(const PoolJob&) = delete;
  // On a pool thread, once, if the call was not cancelled before.
  virtual void run() noexcept = 0;

  alignas(16) unsigned char space_[224];
};

// The blocking call behind offload (offload.cpp): the order of checks, then `job` on the pool
// until it ends or a cancel gives it up (then `job` is released to the runtime, and the
// call's error returned).
WEFT_API Status offload_call(std::unique_ptr<PoolJob>& job, const CancelToken& token);

template <class F>
class OffloadJob final : public PoolJob {
 public:
  using R = std::invoke_result_t<F&>;
  explicit OffloadJob(F&& fn) : fn_(std::forward<F>(fn)) {}
  void run() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        std::invoke(fn_);
      } else {
        result_.emplace(std::invoke(fn_));
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  Result<R> take() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (std::is_void_v<R>) {
      return Result<void>();
    } else {
      return Result<R>(std::move(*result_));
    }
  }

 private:
  std::decay_t<F> fn_;
  std::optional<std::conditional_t<std::is_void_v<R>, char, R>> result_;
  std::exception_ptr error_;
};

}  // namespace detail

// Runs `fn()` on libuv's thread pool; the calling fiber waits for its result. Returns what
// `fn` returned (Result<void> for a void `fn`), or the call's error: WSAEINVAL off a fiber,
// WSAEINPROGRESS inside a blocking hook, WSAENETDOWN once the runtime stops, WSAEINTR /
// WSAETIMEDOUT when cancelled before `fn` started, WSAENOBUFS when memory runs out. `R` must
// be move-constructible.
//
// Cancellation: before `fn` starts, the cancel wins: `fn` never runs, and the call returns
// WSAEINTR (WSAETIMEDOUT for a deadline, WSAENETDOWN for stop). Once it started, the start
// won: the call returns `fn`'s result. Nothing is left behind either way.
template <class F>
auto offload(F&& fn, const CancelToken& token = {}) -> Result<std::invoke_result_t<F>> {
  using R = std::invoke_result_t<F>;
  static_assert(std::is_void_v<R> || std::is_move_constructible_v<R>,
                "offload: the function's result must be move-constructible");
  std::unique_ptr<detail::PoolJob> job(new (std::nothrow)
                                           detail::OffloadJob<F>(std::forward<F>(fn)));
  if (!job) return wsa::enobufs;
  if (Status st = detail::offload_call(job, token); !st.ok()) return st.error();
  return static_cast<detail::OffloadJob<F>*>(job.get())->take();
}

}  // namespace weft
