#include <weft/runtime.hpp>

#include "runtime_impl.hpp"

#include <algorithm>

namespace weft {
namespace {

constexpr std::size_t kMinStackSize = 16 * 1024;

RuntimeOptions checked(RuntimeOptions o) {
  if (o.stack_size == 0) o.stack_size = RuntimeOptions{}.stack_size;
  o.stack_size = std::max(o.stack_size, kMinStackSize);
  if (o.blocking_hook_interval.count() <= 0)
    o.blocking_hook_interval = std::chrono::milliseconds(1);
  return o;
}

}  // namespace

Runtime::Runtime(RuntimeOptions options) : impl_(new detail::RuntimeImpl(this, checked(options))) {}

Runtime::~Runtime() { delete impl_; }

Status Runtime::run() { return impl_->run(); }

void Runtime::stop() noexcept { impl_->stop(); }
bool Runtime::stop_requested() const noexcept { return impl_->stopping(); }
void Runtime::hold() noexcept { impl_->hold(); }
void Runtime::release() noexcept { impl_->release(); }

Result<FiberId> Runtime::spawn_task(detail::TaskPtr task, SpawnOptions options) {
  if (options.stack_size) options.stack_size = std::max(options.stack_size, kMinStackSize);
  return impl_->spawn(std::move(task), std::move(options));
}

Status Runtime::post_task(detail::TaskPtr task) { return impl_->post(std::move(task)); }

RuntimeStats Runtime::stats() const noexcept { return impl_->stats(); }

const RuntimeOptions& Runtime::options() const noexcept { return impl_->options(); }

std::uint32_t Runtime::index() const noexcept { return impl_->index(); }

bool Runtime::set_portable_mode(bool on) noexcept {
  bool previous = impl_->options().portable_mode;
  impl_->options().portable_mode = on;
  return previous;
}

Runtime* Runtime::current() noexcept {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  return rt ? rt->owner() : nullptr;
}

}  // namespace weft
