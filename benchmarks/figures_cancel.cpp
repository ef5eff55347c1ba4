// Figures of cancellation: a fiber blocked in recv cancelled from its own thread and from
// another, one cancel of a token that N sleeping fibers share, and a fiber blocked in a
// channel's recv cancelled from its own thread.
#include "figures.hpp"

#include "harness.hpp"
#include "peers.hpp"

#include <weft/weft.hpp>

#include <boost/context/detail/fcontext.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <sys/mman.h>
#include <sys/socket.h>

namespace weft::bench {
namespace {

using namespace std::chrono_literals;
namespace bctx = boost::context::detail;

// Two time-stamp reads back to back: the share of the clock itself in every per-event
// figure stamped with ticks() at both ends (the batch floors carry none).
std::vector<double> tsc_read(const Config& cfg) {
  std::vector<double> out;
  const std::size_t n = cfg.samples(20'000);
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t t0 = ticks();
    std::uint64_t t1 = ticks();
    out.push_back(ticks_to_ns(t1 - t0));
  }
  return out;
}

// --- one blocking call cancelled ----------------------------------------------------------

// A connected loopback pair of weft sockets (made from a fiber).
struct WeftPair {
  Socket a = Socket::invalid, b = Socket::invalid;
  WeftPair() {
    auto l = socket(AF_INET, SOCK_STREAM);
    (void)bind(*l, Address::loopback_v4(0));
    (void)listen(*l, 4);
    b = *socket(AF_INET, SOCK_STREAM);
    (void)connect(b, *local_address(*l));
    a = *accept(*l);
    (void)close(*l);
  }
  ~WeftPair() {
    (void)close(a);
    (void)close(b);
  }
};

// On a fiber: a target fiber loops in `blocked_call()` (which returns the call's error), and
// this fiber cancels it n times, each sample from the cancel call to the target running with
// WSAEINTR (time-stamp counter at both ends; the cycle then finishes with the target
// re-blocking and the canceller resuming).
template <class Call>
std::vector<double> cancel_blocked_fiber(std::size_t n, Call blocked_call) {
  std::vector<double> out;
  bool done = false;
  std::uint64_t woke = 0;
  auto target = *spawn([&] {
    while (!done) {
      if (blocked_call() == wsa::eintr) woke = ticks();
    }
  });
  this_fiber::yield();
  for (std::size_t i = 0; i < n; ++i) {
    woke = 0;
    std::uint64_t t0 = ticks();
    (void)cancel_blocking_call(target);
    this_fiber::yield();
    if (woke == 0) std::abort();  // every cancel must have landed
    out.push_back(ticks_to_ns(woke - t0));
  }
  done = true;
  (void)cancel_blocking_call(target);
  (void)join(target);
  return out;
}

// A fiber blocked in recv on an idle TCP socket, cancelled by another fiber of its runtime.
std::vector<double> weft_cancel_same_thread(const Config& cfg) {
  std::vector<double> out;
  Runtime rt;
  (void)rt.spawn([&] {
    WeftPair pair;
    char b[1];
    out = cancel_blocked_fiber(cfg.samples(20'000), [&] { return recv(pair.a, b, 1).error(); });
  });
  (void)rt.run();
  return out;
}

// The same with the fiber blocked in Channel::recv on an empty rendezvous channel instead of
// a socket: the wait of the coordination primitives under the same cancel.
std::vector<double> weft_cancel_channel_recv(const Config& cfg) {
  std::vector<double> out;
  Runtime rt;
  (void)rt.spawn([&] {
    Channel<int> ch(0);
    out = cancel_blocked_fiber(cfg.samples(20'000), [&] { return ch.recv().error(); });
  });
  (void)rt.run();
  return out;
}

// Whole cancel cycles, timed in batches and divided: the cancel, the canceller's yield, the
// target's return with WSAEINTR, its next call parking again and the switch back. For the
// target blocked in a rendezvous channel's recv (`channel`) or in a socket's; beside the
// per-event rows, whose time-stamp counter may tick too coarsely to tell the two apart.
std::vector<double> weft_cancel_cycle(const Config& cfg, bool channel) {
  std::vector<double> out;
  Runtime rt;
  const std::size_t batches = 20, per_batch = cfg.samples(20'000);
  (void)rt.spawn([&] {
    WeftPair pair;
    Channel<int> ch(0);
    bool done = false;
    std::size_t woke = 0;
    auto target = *spawn([&] {
      char b[1];
      while (!done) {
        std::error_code ec = channel ? ch.recv().error() : recv(pair.a, b, 1).error();
        if (ec == wsa::eintr) ++woke;
      }
    });
    this_fiber::yield();
    for (std::size_t batch = 0; batch < batches; ++batch) {
      auto t0 = now_ns();
      for (std::size_t i = 0; i < per_batch; ++i) {
        (void)cancel_blocking_call(target);
        this_fiber::yield();
      }
      out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(per_batch));
    }
    if (woke != batches * per_batch) std::abort();  // every cancel must have landed
    done = true;
    (void)cancel_blocking_call(target);
    (void)join(target);
  });
  (void)rt.run();
  return out;
}

// The same on a sleeping loop, cancelled from another OS thread: from the cancel call to the
// fiber running with WSAEINTR.
std::vector<double> weft_cancel_cross_thread(const Config& cfg, WakeMethod method,
                                             Placement placement = Placement::os) {
  WakerPlacement waker(placement);
  RuntimeOptions o;
  o.wake = method;
  Runtime rt(o);
  std::atomic<FiberId> target{FiberId::none};
  std::atomic<bool> quit{false};
  WakeProbe probe;
  (void)rt.spawn([&] {
    WeftPair pair;
    target = this_fiber::id();
    char b[1];
    while (!quit.load()) {
      if (recv(pair.a, b, 1).error() == wsa::eintr) probe.mark();
    }
  });
  std::thread runner([&] {
    pin_thread(woken_core(placement));
    (void)rt.run();
  });
  while (target.load() == FiberId::none) std::this_thread::yield();
  auto out = cross_thread_samples(cfg.samples(2000), probe, [&] {
    std::int64_t t0;
    do {
      t0 = now_ns();
    } while (cancel_blocking_call(target.load()).error() == wsa::einval);  // not yet re-blocked
    return t0;
  });
  // The fiber is blocked in recv again, or still between its last mark and its next look at
  // `quit`, where a cancel would find no call. stop() reaches it either way: its recv, now
  // or next, returns WSAENETDOWN, and it ends on seeing `quit`.
  quit = true;
  rt.stop();
  runner.join();
  return out;
}

// --- cancel_fanout ------------------------------------------------------------------------

// n fibers blocked in sleep under one token; one cancel; time until the last has resumed,
// divided by n. After resuming, each waits (join) for a gate fiber, so that the time is the
// cancel's and not that of n fibers ending (an ended fiber's stack beyond the pool is
// returned to the kernel: a syscall each).
std::vector<double> weft_fanout(const Config&, std::size_t n) {
  RuntimeOptions o;
  o.stack_size = 16 * 1024;
  Runtime rt(o);
  std::int64_t t0 = 0, t1 = 0;
  (void)rt.spawn([&] {
    CancelSource source;
    CancelToken token = source.token();
    std::size_t resumed = 0;
    FiberId gate = *spawn([] { (void)this_fiber::sleep_for(24h); });
    for (std::size_t i = 0; i < n; ++i) {
      (void)spawn([&] {
        (void)this_fiber::sleep_for(24h, token);
        if (++resumed == n) t1 = now_ns();
        (void)join(gate);
      });
    }
    this_fiber::yield();  // every one is blocked
    t0 = now_ns();
    source.cancel();
    while (resumed < n) this_fiber::yield();
    (void)cancel_blocking_call(gate);
  });
  (void)rt.run();
  return {static_cast<double>(t1 - t0) / static_cast<double>(n)};
}

// One pass of the scheduler over n parked fibers: each loops on yield, and one yield of the
// timing fiber lets every other run once. What a visit to a fiber whose stack and record are
// cold costs at 100k — the resumption half of a fan-out, without any cancel. Per fiber, for
// the passes after the first.
std::vector<double> weft_yield_pass(const Config&, std::size_t n) {
  RuntimeOptions o;
  o.stack_size = 16 * 1024;
  Runtime rt(o);
  std::vector<double> out;
  (void)rt.spawn([&] {
    bool done = false;
    std::vector<FiberId> ids;
    ids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back(*spawn([&] {
        while (!done) this_fiber::yield();
      }));
    }
    this_fiber::yield();  // every one has started
    for (int pass = 0; pass < 3; ++pass) {
      auto t0 = now_ns();
      this_fiber::yield();
      out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(n));
    }
    done = true;
    for (FiberId id : ids) (void)join(id);
  });
  (void)rt.run();
  return out;
}

// The floor of such a pass: n bare Boost.Context contexts on 16 KiB stacks spaced as guarded
// stacks are (a 4 KiB page between two), each jumped into and straight back in turn, with the
// saved registers of the fourth ahead prefetched as weft's scheduler does. What any stackful
// design pays to visit 100k parked stacks: two cold lines each.
std::vector<double> fcontext_pass(const Config&, std::size_t n) {
  constexpr std::size_t kStack = 16 * 1024, kStride = kStack + 4096;
  const std::size_t bytes = kStride * n;
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    std::fprintf(stderr, "weft-bench: mmap of %zu bytes for the context pass: %s\n", bytes,
                 std::strerror(errno));
    std::exit(1);
  }
  auto body = [](bctx::transfer_t t) {
    for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
  };
  char* base = static_cast<char*>(mem);
  std::vector<bctx::fcontext_t> ctx(n);
  for (std::size_t i = 0; i < n; ++i) {
    ctx[i] = bctx::make_fcontext(base + i * kStride + kStride, kStack, body);
    ctx[i] = bctx::jump_fcontext(ctx[i], nullptr).fctx;  // started, parked in its loop
  }
  std::vector<double> out;
  for (int pass = 0; pass < 3; ++pass) {
    auto t0 = now_ns();
    for (std::size_t i = 0; i < n; ++i) {
      if (i + 4 < n) {
        const char* sp = static_cast<const char*>(ctx[i + 4]);
        __builtin_prefetch(sp);
        __builtin_prefetch(sp + 64);
      }
      ctx[i] = bctx::jump_fcontext(ctx[i], nullptr).fctx;
    }
    out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(n));
  }
  ::munmap(mem, bytes);  // the contexts stay parked on it, never resumed again
  return out;
}

}  // namespace

Figure figure_cancel_same_thread(const Config& cfg) {
  std::vector<Contender> contenders = {
      {"boost_context_roundtrip", fcontext_roundtrip, "floor; batch, divided"},
      {"tsc_read", tsc_read, "two stamps back to back: the clock's share of the per-event rows"},
      {"weft", weft_cancel_same_thread, "per event, time-stamp counter"},
      {"asio_spawn", asio_spawn_cancel_same_thread,
       "async_read_some cancelled by cancellation_signal::emit; per event, time-stamp counter"}};
  if (go_available()) {
    contenders.push_back(
        {"go",
         [](const Config& c) {
           return go_samples({"cancel-same-thread", std::to_string(c.samples(20'000))});
         },
         "conn.Read woken by SetReadDeadline(past) from another goroutine, GOMAXPROCS=1; per "
         "event, runtime.nanotime"});
  }
  if (tokio_available()) {
    contenders.push_back(
        {"tokio",
         [](const Config& c) {
           return tokio_samples({"cancel-same-thread", std::to_string(c.samples(20'000))});
         },
         "task in select! over TcpStream::read and a CancellationToken, cancelled by another "
         "task, which then yields; current_thread runtime; per event, CLOCK_MONOTONIC"});
  }
  Figure f = run_interleaved(
      "cancel_same_thread", "ns",
      "fiber blocked in recv on an idle TCP socket, cancelled by another fiber of its "
      "runtime: from the cancel call to the fiber running with WSAEINTR",
      "same core", contenders, cfg);
  add_ratio(f, "weft_over_fiber_roundtrip", "weft", "boost_context_roundtrip");
  add_ratio(f, "weft_over_asio_spawn", "weft", "asio_spawn");
  if (go_available()) add_ratio(f, "weft_over_go", "weft", "go");
  add_goal(f, "weft_over_fiber_roundtrip", 2.5);
  add_goal(f, "weft_over_asio_spawn", 0.1);
  if (tokio_available()) {
    add_ratio(f, "weft_over_tokio", "weft", "tokio");
    add_goal(f, "weft_over_tokio", 0.5);
  }
  return f;
}

Figure figure_cancel_channel_recv(const Config& cfg) {
  Figure f = run_interleaved(
      "cancel_channel_recv", "ns",
      "fiber blocked in Channel<int>::recv on an empty rendezvous channel, cancelled by "
      "another fiber of its runtime: from the cancel call to the fiber running with WSAEINTR; "
      "beside it the same cancel of a socket recv",
      "same core",
      {{"boost_context_roundtrip", fcontext_roundtrip, "floor; batch, divided"},
       {"tsc_read", tsc_read, "two stamps back to back: the clock's share of the per-event rows"},
       {"weft", weft_cancel_channel_recv, "per event, time-stamp counter"},
       {"weft_socket_recv", weft_cancel_same_thread,
        "cancel_same_thread's weft row: the fiber in recv on an idle TCP socket; per event, "
        "time-stamp counter"},
       {"weft_cycle", [](const Config& c) { return weft_cancel_cycle(c, true); },
        "the whole cycle: cancel, yield, WSAEINTR, recv parks again, switch back; batch, "
        "divided"},
       {"weft_socket_recv_cycle", [](const Config& c) { return weft_cancel_cycle(c, false); },
        "the same cycle on the socket; batch, divided"}},
      cfg);
  add_ratio(f, "weft_over_socket_recv_cancel", "weft", "weft_socket_recv");
  add_ratio(f, "weft_over_fiber_roundtrip", "weft", "boost_context_roundtrip");
  add_ratio(f, "weft_cycle_over_socket_recv_cycle", "weft_cycle", "weft_socket_recv_cycle");
  add_goal(f, "weft_over_socket_recv_cancel", 1.1);
  return f;
}

Figure figure_cancel_cross_thread(const Config& cfg) {
  std::vector<Contender> contenders = {
      {"raw_eventfd_epoll", [](const Config& c) { return raw_eventfd_wake(c, Placement::os); },
       "floor"},
      {"weft_eventfd",
       [](const Config& c) { return weft_cancel_cross_thread(c, WakeMethod::eventfd); }, ""},
      {"weft_uv_async",
       [](const Config& c) { return weft_cancel_cross_thread(c, WakeMethod::uv_async); }, ""},
      {"asio_spawn", asio_spawn_cancel_cross_thread, "emit posted to the io_context"},
      {"pthread_kill", pthread_kill_cancel, "OS thread in recv(2), EINTR from a signal"}};
  // The floor and weft with both threads pinned, as `placement` says.
  auto pinned = [&](Placement placement, const std::string& suffix, const char* floor_note,
                    const char* weft_note) {
    contenders.push_back({"raw_eventfd_epoll" + suffix,
                          [placement](const Config& c) { return raw_eventfd_wake(c, placement); },
                          floor_note});
    contenders.push_back({"weft_eventfd" + suffix,
                          [placement](const Config& c) {
                            return weft_cancel_cross_thread(c, WakeMethod::eventfd, placement);
                          },
                          weft_note});
  };
  pinned(Placement::same_core, "_same_core", "floor, both threads pinned to core 0",
         "canceller and the runtime's thread pinned to core 0");
  if (std::thread::hardware_concurrency() >= 2) {
    pinned(Placement::cross_core, "_cross_core", "floor, the two threads pinned to cores 0 and 1",
           "canceller pinned to core 0, the runtime's thread to core 1");
  }
  if (go_available()) {
    auto go = [](const char* mode) {
      return [mode](const Config& c) {
        return go_samples({"cancel-cross-thread", std::to_string(c.samples(2000)), mode});
      };
    };
    contenders.push_back({"go_deadline_wait", go("wait"),
                          "SetReadDeadline(past) from another goroutine, which then waits on "
                          "a channel: Go runs the woken reader on the canceller's thread"});
    contenders.push_back({"go_deadline_spin", go("spin"),
                          "SetReadDeadline(past) from a goroutine locked to its thread, which "
                          "then spins: another thread must take the reader"});
  }
  if (tokio_available()) {
    contenders.push_back(
        {"tokio",
         [](const Config& c) {
           return tokio_samples({"cancel-cross-thread", std::to_string(c.samples(2000))});
         },
         "CancellationToken cancelled from a std::thread, which then spins; "
         "the task in select! over TcpStream::read on a current_thread "
         "runtime"});
  }
  Figure f = run_interleaved(
      "cancel_cross_thread", "ns",
      "fiber blocked in recv on a sleeping loop, cancelled from another OS thread: from the "
      "cancel call to the fiber running with WSAEINTR",
      "as the scheduler places them; *_same_core, *_cross_core: pinned", contenders, cfg);
  if (go_available()) {
    add_ratio(f, "weft_over_go", "weft_eventfd", "go_deadline_wait", Stat::p50);
    // Go's comparable shape: its canceller keeps its thread, as weft's does.
    add_ratio(f, "weft_over_go_deadline_spin", "weft_eventfd", "go_deadline_spin", Stat::p50);
    add_goal(f, "weft_over_go_deadline_spin", 1.0);
  }
  // p50 and p99 of weft over the floor in a pinned placement, with their goals.
  auto pinned_ratios = [&f](const std::string& suffix) {
    for (Stat stat : {Stat::p50, Stat::p99}) {
      const std::string p = stat == Stat::p50 ? "p50" : "p99";
      const std::string name = "weft" + suffix + "_" + p + "_over_eventfd_" + p;
      add_ratio(f, name, "weft_eventfd" + suffix, "raw_eventfd_epoll" + suffix, stat);
      add_goal(f, name, stat == Stat::p50 ? 1.1 : 1.25);
    }
  };
  pinned_ratios("_same_core");
  if (std::thread::hardware_concurrency() >= 2) pinned_ratios("_cross_core");
  add_ratio(f, "weft_p50_over_eventfd_p50", "weft_eventfd", "raw_eventfd_epoll", Stat::p50);
  add_ratio(f, "weft_p99_over_eventfd_p99", "weft_eventfd", "raw_eventfd_epoll", Stat::p99);
  add_ratio(f, "weft_over_asio", "weft_eventfd", "asio_spawn", Stat::p50);
  add_ratio(f, "weft_over_pthread_kill", "weft_eventfd", "pthread_kill", Stat::p50);
  add_goal(f, "weft_p50_over_eventfd_p50", 1.1);
  add_goal(f, "weft_p99_over_eventfd_p99", 1.25);
  add_goal(f, "weft_over_asio", 1.0);
  add_goal(f, "weft_over_pthread_kill", 1.0);
  if (tokio_available()) {
    add_ratio(f, "weft_over_tokio", "weft_eventfd", "tokio", Stat::p50);
    add_goal(f, "weft_over_tokio", 1.0);
  }
  return f;
}

Figure figure_cancel_fanout(const Config& cfg) {
  std::vector<Contender> contenders = {
      {"weft_1k", [](const Config& c) { return weft_fanout(c, 1'000); }, ""},
      {"weft_10k", [](const Config& c) { return weft_fanout(c, 10'000); }, ""},
      {"weft_100k", [](const Config& c) { return weft_fanout(c, 100'000); }, ""},
      {"asio_spawn_100k", [](const Config& c) { return asio_spawn_fanout(c, 100'000); },
       "one cancellation_signal per coroutine (Asio has no shared token)"},
      {"weft_yield_pass_100k", [](const Config& c) { return weft_yield_pass(c, 100'000); },
       "no cancel: one scheduler pass over 100k fibers parked in yield"},
      {"boost_context_pass_100k", [](const Config& c) { return fcontext_pass(c, 100'000); },
       "floor: a bare switch round trip to each of 100k parked contexts in turn"}};
  if (go_available()) {
    contenders.push_back({"go_100k",
                          [](const Config&) {
                            return go_samples({"fanout", "100000"});
                          },
                          "goroutines in select on one context's Done() and a 24 h timer; "
                          "cancel(); GOMAXPROCS=1"});
  }
  if (tokio_available()) {
    contenders.push_back({"tokio_100k",
                          [](const Config&) {
                            return tokio_samples({"fanout", "100000"});
                          },
                          "tasks in select! over one CancellationToken and a 24 h sleep; "
                          "cancel(); current_thread runtime"});
  }
  Figure f = run_interleaved(
      "cancel_fanout", "ns/fiber",
      "N fibers blocked in sleep under one token; one cancel; until the last has resumed, "
      "divided by N",
      "same core", contenders, cfg.costly());
  if (go_available()) add_ratio(f, "weft_over_go_100k", "weft_100k", "go_100k");
  if (tokio_available()) add_ratio(f, "weft_over_tokio_100k", "weft_100k", "tokio_100k");
  f.values["ns_per_fiber_100k"] = f.contenders["weft_100k"].p50;
  f.values["ns_per_fiber_10k"] = f.contenders["weft_10k"].p50;
  f.values["ns_per_fiber_1k"] = f.contenders["weft_1k"].p50;
  add_ratio(f, "weft_100k_over_weft_1k", "weft_100k", "weft_1k");
  add_ratio(f, "weft_over_asio_spawn_100k", "weft_100k", "asio_spawn_100k");
  add_ratio(f, "weft_100k_over_yield_pass_100k", "weft_100k", "weft_yield_pass_100k");
  add_ratio(f, "yield_pass_over_context_pass_100k", "weft_yield_pass_100k",
            "boost_context_pass_100k");
  add_value_goal(f, "ns_per_fiber_100k", 120.0);
  return f;
}

}  // namespace weft::bench
