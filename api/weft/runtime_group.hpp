// weft — a group of runtimes, one per OS thread, for servers that outgrow one core.
//
//   weft::RuntimeGroup group(2);                      // two runtimes, two threads
//   auto at = group.serve(*weft::Address::parse("0.0.0.0", 8080), [](weft::UniqueSocket c) {
//     char buf[4096];
//     while (auto n = weft::recv(c.get(), buf, sizeof buf)) {
//       if (*n == 0 || !weft::send(c.get(), buf, *n)) break;
//     }
//   });
//   group.run();                                      // until finish() or stop()
//
// Each runtime is an ordinary weft::Runtime (runtime.hpp) with its own loop, fibers and
// sockets; nothing is shared between them but what the application shares. serve() gives
// every runtime a listener of its own on the same address (SO_REUSEPORT: the kernel spreads
// incoming connections over them by a hash of the connection's addresses), and each
// connection is served by a fiber on the runtime that accepted it.
//
// Across runtimes:
//   * spawn and post to any runtime from anywhere: group[i].spawn(fn), group[i].post(fn),
//     group.spawn(fn) (the next runtime in turn), group.spawn_each(fn);
//   * cancel_blocking_call(id) and CancelSource::cancel() reach a fiber on any runtime;
//   * a socket handle belongs to the runtime that made it: used on another, its calls fail
//     WSAENOTSOCK (signal across runtimes with a CancelSource, or post());
//   * join() waits for a fiber of any runtime.
//
// Lifetimes:
//   1. The group creates its runtimes at construction and holds each (Runtime::hold), so a
//      runtime with no fiber waits for work instead of returning from run().
//   2. run() runs runtime 0 on the calling thread and each other runtime on a thread of its
//      own, and returns once all have returned: after finish() when each has no fiber left,
//      or after stop().
//   3. finish() is the graceful end: serve()'s listeners close (connections still queued in
//      them are reset by the kernel), connections being served go on to their end.
//      stop() is the abrupt one: Runtime::stop() on every runtime (blocked calls return
//      WSAENETDOWN). Both are thread-safe and idempotent; stop() is also async-signal-safe
//      (finish() is not: call it from a fiber that waits with weft::signal_wait).
//   4. The group must not be destroyed while run() is running; destroying it after run()
//      returned, or without running it, closes whatever serve() opened.
#pragma once

#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/fiber_id.hpp>
#include <weft/net.hpp>
#include <weft/runtime.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace weft {

struct ServeOptions {
  // Each listener's accept queue (listen(2)'s backlog).
  int backlog = 1024;
  // Cancelling it ends serving as finish() does, but leaves the runtimes held.
  CancelToken token;
  // TCP_NODELAY on every accepted connection.
  bool nodelay = true;
};

class WEFT_API RuntimeGroup {
 public:
  // `threads` runtimes (0: one per hardware thread), each with `options`.
  explicit RuntimeGroup(std::size_t threads = 0, RuntimeOptions options = {});
  ~RuntimeGroup();
  RuntimeGroup(const RuntimeGroup&) = delete;
  RuntimeGroup& operator=(const RuntimeGroup&) = delete;

  std::size_t size() const noexcept { return runtimes_.size(); }
  Runtime& operator[](std::size_t i) noexcept { return *runtimes_[i]; }

  // The index of the group's runtime running on the calling thread, or size() if none.
  std::size_t current_index() const noexcept;

  // Every runtime's counters, summed (semantics.md §11). Any thread.
  RuntimeStats stats() const noexcept;

  // See lifetime rule 2. Errors: WSAEINVAL if the calling thread runs a runtime already, or
  // the group is running already; else the first runtime's run() error (WSAENETDOWN if the
  // group was stopped before).
  Status run();

  // See lifetime rule 3.
  void finish() noexcept;
  void stop() noexcept;

  // Starts fn on the next runtime in turn. Thread-safe.
  template <class F>
  Result<FiberId> spawn(F&& fn, SpawnOptions options = {}) {
    std::size_t i = next_.fetch_add(1, std::memory_order_relaxed) % runtimes_.size();
    return runtimes_[i]->spawn(std::forward<F>(fn), std::move(options));
  }

  // Starts a copy of fn on every runtime, called as fn(index), each with `options`.
  // Thread-safe. Stops at the first runtime that refuses (WSAENETDOWN once stopped).
  template <class F>
  Status spawn_each(const F& fn, SpawnOptions options = {}) {
    for (std::size_t i = 0; i < runtimes_.size(); ++i) {
      auto r = runtimes_[i]->spawn([fn, i]() mutable { fn(i); }, options);
      if (!r.ok()) return r.error();
    }
    return {};
  }

  // Listens on `local` with one SO_REUSEPORT listener per runtime and serves every accepted
  // connection in a fiber of its own on the accepting runtime, calling handler(connection).
  // The handler is copied once per runtime, and each copy is called only on its runtime's
  // thread; the connection is closed when the handler returns (unless it closed or released
  // it). Port 0 picks one free port for all the listeners. The listeners exist when serve()
  // returns (connections queue from then on) and are served once run() runs.
  // Returns the address listened on. Errors: those of socket(2), bind(2) and listen(2)
  // (WSAEADDRINUSE, WSAEADDRNOTAVAIL, WSAEMFILE, ...; an errno with no Winsock code, such as
  // EACCES for a privileged port, comes back in std::generic_category()), WSAEAFNOSUPPORT,
  // WSAENETDOWN once stopped or finished.
  Result<Address> serve(const Address& local, std::function<void(UniqueSocket)> handler,
                        ServeOptions options = {});

 private:
  std::vector<std::unique_ptr<Runtime>> runtimes_;
  CancelSource finish_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> running_{false};
  std::atomic<bool> released_{false};
};

}  // namespace weft
