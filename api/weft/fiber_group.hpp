// weft — fiber groups: structured concurrency on one runtime.
//
//   {
//     weft::FiberGroup group;
//     for (auto& peer : peers) (void)group.spawn([&] { serve(peer); });
//     ...
//     group.cancel();          // every member's blocking calls end (WSAEINTR)
//   }                          // the group's scope does not end before every member has
//
// Members run inside a CancelScope on the group's token, so cancelling the group cancels
// their blocking calls however deep. With Options::cancel_on_error, a member returning an
// error Status cancels its siblings. Members belong to the runtime of the fiber that spawns
// them; the group must be created and destroyed on that runtime's fibers.
//
// Groups nest (structured concurrency): a group created where a token applies — by a member
// of another group, or inside a cancel scope — is linked to it (this_fiber::cancel_token()),
// so cancelling the outer group or scope cancels the inner group's members too. Cancelling
// the inner group never cancels the outer one.
#pragma once

#include <weft/cancel_scope.hpp>
#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/fiber.hpp>

#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

class WEFT_API FiberGroup {
 public:
  struct Options {
    bool cancel_on_error = false;  // a member returning an error Status cancels the group
  };

  FiberGroup() : FiberGroup(Options{}) {}
  explicit FiberGroup(Options options);
  // Joins every member (inside a shielded scope: an enclosing cancellation does not cut the
  // wait short). During runtime stop it waits for them to unwind.
  ~FiberGroup();
  FiberGroup(const FiberGroup&) = delete;
  FiberGroup& operator=(const FiberGroup&) = delete;

  // Spawns fn (returning void or Status) as a member (`options`: its name, stack size and
  // spawn site, as for weft::spawn). Errors: those of weft::spawn; WSAEINTR if the group is
  // already cancelled (the member would only fail).
  template <class F>
  Result<FiberId> spawn(F&& fn, SpawnOptions options = {}) {
    auto task = detail::make_task([this, f = std::forward<F>(fn)]() mutable {
      CancelScope scope(source_.token());
      if constexpr (std::is_same_v<std::invoke_result_t<F&>, Status>) {
        Status s = f();
        if (!s.ok()) member_failed(s.error());
      } else {
        f();
      }
    });
    return spawn_member(std::move(task), std::move(options));
  }

  // Cancels every member's blocking calls, now and later. Thread-safe.
  void cancel() noexcept { source_.cancel(); }
  CancelToken token() const noexcept { return source_.token(); }
  // Waits until every member has ended: a blocking call like join, with its checks.
  // Cancellation: WSAEINTR (WSAETIMEDOUT for a deadline); the members run on, and join_all
  // may be called again.
  Status join_all(const CancelToken& token = {});
  // The first error a member returned (Status-returning members only).
  std::error_code first_error() const noexcept { return first_error_; }
  // Members spawned and not yet known to have ended (ended ones are forgotten from time to
  // time, so a long-lived group does not grow with every member it ever had).
  std::size_t size() const noexcept { return members_.size(); }

 private:
  Result<FiberId> spawn_member(detail::TaskPtr task, SpawnOptions options);
  void member_failed(std::error_code ec) noexcept;

  Options options_;
  CancelSource source_;
  std::vector<FiberId> members_;
  std::size_t forget_at_ = 64;
  std::error_code first_error_;
};

}  // namespace weft
