#include <weft/fiber_group.hpp>

namespace weft {

Result<FiberId> FiberGroup::spawn_member(detail::TaskPtr task) {
  if (source_.cancel_requested()) return wsa::eintr;
  auto id = detail::spawn_here(std::move(task), {});
  if (id.ok()) members_.push_back(*id);
  return id;
}

void FiberGroup::member_failed(std::error_code ec) noexcept {
  if (!first_error_) first_error_ = ec;
  if (options_.cancel_on_error) source_.cancel();
}

Status FiberGroup::join_all() {
  for (FiberId id : members_) {
    Status s = join(id);
    if (!s.ok()) return s;
  }
  return {};
}

FiberGroup::~FiberGroup() {
  CancelScope shield(CancelScope::shield);
  for (FiberId id : members_) {
    for (;;) {
      Status s = join(id);
      if (s.ok() || s.error() == wsa::einval) break;  // ended (or not a fiber of ours)
      // WSAENETDOWN: the runtime stops and join cannot block; let the member unwind.
      this_fiber::yield();
    }
  }
}

}  // namespace weft
