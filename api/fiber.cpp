#include <weft/fiber.hpp>

#include "blocking.hpp"
#include "scope.hpp"

#include <algorithm>
#include <vector>

namespace weft {

namespace detail {

Result<FiberId> spawn_here(TaskPtr task, SpawnOptions options) {
  RuntimeImpl* rt = tls_runtime;
  if (!rt || !task) return wsa::einval;
  if (options.stack_size) options.stack_size = std::max<std::size_t>(options.stack_size, 16 * 1024);
  return rt->spawn_local(std::move(task), std::move(options));
}

}  // namespace detail

Status join(FiberId id, const CancelToken& token) {
  detail::BlockingEntry entry(token, "join", detail::WaitObj::fiber, to_integer(id));
  if (auto ec = entry.need_fiber()) return ec;
  detail::FiberSlot* s = detail::fiber_table_slot(id);
  if (!s) return wsa::einval;
  detail::Fiber* self = entry.fiber();
  std::uint64_t id_gen = detail::gen_of_id(id);
  std::uint64_t word_gen = detail::gen_of_word(s->word.load(std::memory_order_acquire));
  // Generations only grow: a newer one than the id's names a fiber that has ended; an older
  // one, an id never issued.
  if (word_gen < id_gen || id == self->id) return wsa::einval;
  if (auto ec = entry.admit()) return ec;
  if (word_gen != id_gen) return {};  // ended already
  if (s->runtime_index.load(std::memory_order_relaxed) != self->rt->index()) {
    return detail::join_remote(entry, s, id);
  }
  detail::BlockingCall call(entry);
  detail::JoinWaiter waiter(self);
  s->fiber->joiners.push_back(waiter.hook);
  return detail::outcome_error(call.wait());
}

namespace this_fiber {

FiberId id() noexcept {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  detail::Fiber* f = rt ? rt->current() : nullptr;
  return f ? f->id : FiberId::none;
}

CancelToken cancel_token() {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  detail::Fiber* f = rt ? rt->current() : nullptr;
  if (!f) return {};
  std::vector<CancelToken> all;
  detail::for_each_scope_token(f, [&](const CancelToken& t) {
    if (t.can_be_cancelled()) all.push_back(t);
  });
  if (all.empty()) return {};
  if (all.size() == 1) return all.front();
  // Several: a child of all of them, cancelled by the first with its reason. The child's
  // links keep it cancellable after its source goes.
  return CancelSource::linked(all).token();
}

void yield() noexcept {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (rt && rt->current()) rt->yield();
}

Status sleep_until(std::chrono::steady_clock::time_point deadline, const CancelToken& token) {
  detail::BlockingEntry entry(token, "sleep");
  if (auto ec = entry.need_fiber()) return ec;
  if (auto ec = entry.admit()) return ec;
  std::int64_t due =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  if (due <= detail::RuntimeImpl::now_ns()) return {};  // already due: never suspends

  detail::BlockingCall call(entry);
  detail::CallDeadline wake(entry.fiber(), detail::CallState::completed);
  wake.arm(due);
  return detail::outcome_error(call.wait());
}

Status sleep_for(std::chrono::nanoseconds duration, const CancelToken& token) {
  if (duration.count() <= 0)
    return sleep_until(std::chrono::steady_clock::time_point::min(), token);
  return sleep_until(std::chrono::steady_clock::now() + duration, token);
}

}  // namespace this_fiber
}  // namespace weft
