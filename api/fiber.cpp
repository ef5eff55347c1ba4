#include <weft/cancel.hpp>
#include <weft/fiber.hpp>

#include "blocking.hpp"

#include <algorithm>

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
  detail::CallEntry entry(token);
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt || !rt->current()) return wsa::einval;
  detail::FiberSlot* s = detail::fiber_table_slot(id);
  if (!s) return wsa::einval;
  std::uint64_t word_gen = detail::gen_of_word(s->word.load(std::memory_order_acquire));
  std::uint64_t id_gen = detail::gen_of_id(id);
  if (word_gen != id_gen) {
    // Generations only grow: an older one names a fiber that has ended. Joining it never
    // blocks, so it succeeds even where blocking calls are refused (stop, scopes, hooks).
    return id_gen < word_gen ? Status{} : Status{wsa::einval};
  }
  if (auto ec = entry.checkpoint()) return ec;
  detail::Fiber* self = nullptr;
  if (auto ec = detail::blocking_precheck(self)) return ec;
  if (s->runtime_index.load(std::memory_order_relaxed) != self->rt->index()) return wsa::einval;
  detail::Fiber* target = s->fiber;
  if (target == self) return wsa::einval;

  detail::BlockingCall call(self);
  detail::JoinWaiter waiter(self);
  target->joiners.push_back(waiter.hook);
  return detail::outcome_error(call.wait());
}

Status cancel_blocking_call(FiberId f) noexcept {
  return detail::cancel_call(f, detail::CallState::cancelled);
}

namespace this_fiber {

FiberId id() noexcept {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  detail::Fiber* f = rt ? rt->current() : nullptr;
  return f ? f->id : FiberId::none;
}

void yield() noexcept {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (rt && rt->current()) rt->yield();
}

namespace {

// A sleep that is already due never suspends, so no cancel reaches it and stop does not
// refuse it; it only has to be made from a fiber. It is still a checkpoint for tokens.
Status due_now(const detail::CallEntry& entry) {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt || !rt->current()) return wsa::einval;
  return entry.checkpoint();
}

}  // namespace

Status sleep_until(std::chrono::steady_clock::time_point deadline, const CancelToken& token) {
  detail::CallEntry entry(token);
  std::int64_t due =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  if (due <= detail::RuntimeImpl::now_ns()) return due_now(entry);
  detail::Fiber* f = nullptr;
  if (auto ec = detail::blocking_precheck(f)) return ec;

  detail::BlockingCall call(f);
  detail::CallDeadline wake(f, detail::CallState::completed);
  wake.arm(due);
  return detail::outcome_error(call.wait());
}

Status sleep_for(std::chrono::nanoseconds duration, const CancelToken& token) {
  if (duration.count() <= 0) return due_now(detail::CallEntry(token));
  return sleep_until(std::chrono::steady_clock::now() + duration, token);
}

}  // namespace this_fiber
}  // namespace weft
