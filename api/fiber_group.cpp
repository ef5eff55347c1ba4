#include <weft/fiber_group.hpp>

#include "fiber_table.hpp"

#include <algorithm>

namespace weft {
namespace {

bool has_ended(FiberId id) noexcept { return detail::fiber_table_live_slot(id) == nullptr; }

}  // namespace

FiberGroup::FiberGroup(Options options)
    : options_(options), source_(CancelSource::linked({this_fiber::cancel_token()})) {}

Result<FiberId> FiberGroup::spawn_member(detail::TaskPtr task, SpawnOptions options) {
  if (source_.cancel_requested()) return wsa::eintr;
  // Forget members that have ended, whenever the list has doubled since the last time: a
  // long-lived group (a server's connections) stays as large as its live members, and each
  // spawn pays O(1) amortised.
  if (members_.size() >= forget_at_) {
    std::erase_if(members_, has_ended);
    forget_at_ = std::max<std::size_t>(64, 2 * members_.size());
  }
  auto id = detail::spawn_here(std::move(task), std::move(options));
  if (id.ok()) members_.push_back(*id);
  return id;
}

void FiberGroup::member_failed(std::error_code ec) noexcept {
  if (!first_error_) first_error_ = ec;
  if (options_.cancel_on_error) source_.cancel();
}

Status FiberGroup::join_all(const CancelToken& token) {
  for (FiberId id : members_) {
    Status s = join(id, token);
    if (!s.ok()) return s;
  }
  return {};
}

FiberGroup::~FiberGroup() {
  CancelScope shield(CancelScope::shield);
  for (FiberId id : members_) {
    while (!has_ended(id)) {
      Status s = join(id);
      if (s.ok() || s.error() == wsa::einval) break;
      // WSAENETDOWN: the runtime stops and join cannot block; let the member unwind.
      this_fiber::yield();
    }
  }
}

}  // namespace weft
