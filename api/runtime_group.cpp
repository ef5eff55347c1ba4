// RuntimeGroup: N runtimes on N threads, and serve() with one SO_REUSEPORT listener each.
#include <weft/fiber.hpp>
#include <weft/runtime_group.hpp>

#include "errors.hpp"
#include "log.hpp"
#include "runtime_impl.hpp"
#include "socket_table.hpp"

#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft {
namespace {

// A listening descriptor not yet handed to its runtime; closed if it never is (the group is
// destroyed unrun, or the runtime refused the fiber).
struct PendingListener {
  int fd = -1;
  explicit PendingListener(int f) noexcept : fd(f) {}
  PendingListener(PendingListener&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  PendingListener(const PendingListener&) = delete;
  ~PendingListener() {
    if (fd >= 0) ::close(fd);
  }
};

Result<int> open_listener(const Address& at, int backlog) {
  int fd = ::socket(at.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return detail::errno_to_error(errno);
  PendingListener guard(fd);
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
      ::bind(fd, at.data(), at.size()) != 0 || ::listen(fd, backlog) != 0) {
    return detail::errno_to_error(errno);
  }
  guard.fd = -1;
  return fd;
}

bool out_of_resources(const std::error_code& ec) {
  return ec == wsa::emfile || ec == wsa::enobufs || ec == std::errc::too_many_files_open_in_system;
}

using Handler = std::function<void(UniqueSocket)>;

// The accept loop of one runtime: runs in a fiber there until the token is cancelled or the
// runtime stops, then closes its listener.
void accept_loop(std::size_t index, PendingListener pending, int family,
                 std::shared_ptr<Handler> handler, CancelSource serving, bool nodelay) {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  auto added = rt->sockets().add(pending.fd, family, SOCK_STREAM, detail::SockState::listening);
  if (!added.ok()) {
    detail::log_error("runtime {}: serve: no handle for its listener: {}", index,
                      added.error().message());
    return;  // `pending` closes the descriptor
  }
  pending.fd = -1;
  rt->sockets().get(*added)->bound = true;
  UniqueSocket listener(*added);
  CancelToken token = serving.token();
  detail::log_debug("runtime {}: serve: accepting", index);
  bool warned = false;
  for (;;) {
    auto c = accept(listener.get(), nullptr, token);
    if (!c.ok()) {
      const std::error_code& ec = c.error();
      if (ec == wsa::enetdown || ec == wsa::eintr || ec == wsa::etimedout) {
        detail::log_debug("runtime {}: serve: accepting ended ({})", index, ec.message());
        return;
      }
      if (out_of_resources(ec)) {
        // The connection stays queued; try again once something may have been freed.
        if (!warned)
          detail::log_warn("runtime {}: serve: accept: {}; retrying", index, ec.message());
        warned = true;
        (void)this_fiber::sleep_for(std::chrono::milliseconds(20), token);
      } else if (ec != wsa::econnaborted && ec != wsa::econnreset) {
        detail::log_error("runtime {}: serve: accept: {}", index, ec.message());
        (void)this_fiber::sleep_for(std::chrono::milliseconds(20), token);
      }
      continue;
    }
    warned = false;
    if (nodelay) (void)set_nodelay(*c, true);
    auto f = spawn([handler, s = *c] { (*handler)(UniqueSocket(s)); });
    if (!f.ok()) {
      detail::log_warn("runtime {}: serve: no fiber for a connection ({}); closing it", index,
                       f.error().message());
      (void)close(*c);
    }
  }
}

}  // namespace

RuntimeGroup::RuntimeGroup(std::size_t threads, RuntimeOptions options) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  runtimes_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    runtimes_.push_back(std::make_unique<Runtime>(options));
    runtimes_.back()->hold();
  }
}

RuntimeGroup::~RuntimeGroup() = default;

RuntimeStats RuntimeGroup::stats() const noexcept {
  RuntimeStats sum;
  for (const auto& rt : runtimes_) sum += rt->stats();
  return sum;
}

std::size_t RuntimeGroup::current_index() const noexcept {
  Runtime* here = Runtime::current();
  for (std::size_t i = 0; i < runtimes_.size(); ++i) {
    if (runtimes_[i].get() == here) return i;
  }
  return runtimes_.size();
}

Status RuntimeGroup::run() {
  if (Runtime::current()) return wsa::einval;
  if (running_.exchange(true, std::memory_order_acq_rel)) return wsa::einval;
  for (auto& rt : runtimes_) {
    if (rt->stop_requested()) {
      running_.store(false, std::memory_order_release);
      return wsa::enetdown;
    }
  }
  std::vector<Status> results(runtimes_.size());
  std::vector<std::thread> threads;
  threads.reserve(runtimes_.size() - 1);
  for (std::size_t i = 1; i < runtimes_.size(); ++i) {
    threads.emplace_back([this, i, &results] { results[i] = runtimes_[i]->run(); });
  }
  results[0] = runtimes_[0]->run();
  for (auto& t : threads) t.join();
  running_.store(false, std::memory_order_release);
  // A stop() that came while the threads were starting finds some runtime not yet running,
  // and its run() returns WSAENETDOWN at once: that is the stop doing its work, not an error.
  for (const Status& s : results) {
    if (!s.ok() && s.error() != wsa::enetdown) return s;
  }
  return {};
}

void RuntimeGroup::finish() noexcept {
  finish_.cancel();
  if (released_.exchange(true, std::memory_order_acq_rel)) return;
  for (auto& rt : runtimes_) rt->release();
}

void RuntimeGroup::stop() noexcept {
  for (auto& rt : runtimes_) rt->stop();
}

Result<Address> RuntimeGroup::serve(const Address& local, Handler handler, ServeOptions options) {
  if (local.family() != AF_INET && local.family() != AF_INET6) return wsa::eafnosupport;
  if (options.backlog < 0 || !handler) return wsa::einval;
  if (finish_.token().cancel_requested()) return wsa::enetdown;

  // Every listener is bound before any is served, so that errors come back here and port 0
  // resolves to one port for all.
  Address at = local;
  std::vector<PendingListener> listeners;
  for (std::size_t i = 0; i < runtimes_.size(); ++i) {
    auto fd = open_listener(at, options.backlog);
    if (!fd.ok()) return fd.error();
    listeners.emplace_back(*fd);
    if (i == 0) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      if (::getsockname(*fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return detail::errno_to_error(errno);
      }
      auto bound = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
      if (!bound.ok()) return bound.error();
      at = *bound;
    }
  }

  CancelSource serving = CancelSource::linked({finish_.token(), options.token});
  for (std::size_t i = 0; i < runtimes_.size(); ++i) {
    auto h = std::make_shared<Handler>(handler);
    auto f = runtimes_[i]->spawn(
        [i, l = std::move(listeners[i]), family = at.family(), h, serving,
         nodelay = options.nodelay]() mutable {
          accept_loop(i, std::move(l), family, std::move(h), std::move(serving), nodelay);
        },
        SpawnOptions{.name = "weft.serve"});
    if (!f.ok()) {
      serving.cancel();  // the runtimes already serving stop again; the rest close below
      return f.error();
    }
  }
  detail::log_debug("serve: listening on {} with {} listener(s)", at.to_string(), runtimes_.size());
  return at;
}

}  // namespace weft
