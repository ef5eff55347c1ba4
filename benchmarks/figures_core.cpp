// Figures of the core runtime: context switch, cross-thread wake-up, cancel latency.
#include "figures.hpp"

#include "harness.hpp"
#include "peers.hpp"

#include <weft/weft.hpp>

#include <boost/context/detail/fcontext.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace weft::bench {
namespace {

using namespace std::chrono_literals;
namespace bctx = boost::context::detail;


// --- floors -------------------------------------------------------------------------------

// A bare Boost.Context round trip: jump into a context that jumps straight back. Timed in
// batches (one clock read per batch), since one round trip is far below a clock read's cost.
std::vector<double> fcontext_roundtrip(const Config& cfg) {
  constexpr std::size_t kStack = 64 * 1024;
  void* stack = std::malloc(kStack);
  auto body = [](bctx::transfer_t t) {
    for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
  };
  bctx::fcontext_t ctx = bctx::make_fcontext(static_cast<char*>(stack) + kStack, kStack, body);
  ctx = bctx::jump_fcontext(ctx, nullptr).fctx;  // warm up
  std::vector<double> out;
  const std::size_t batches = 20, per_batch = cfg.samples(200'000);
  for (std::size_t b = 0; b < batches; ++b) {
    auto t0 = now_ns();
    for (std::size_t i = 0; i < per_batch; ++i) ctx = bctx::jump_fcontext(ctx, nullptr).fctx;
    out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(per_batch));
  }
  std::free(stack);  // the context is parked mid-loop on this stack; never resumed again
  return out;
}

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

// A raw eventfd write on one thread waking epoll_wait on another: the floor of any
// cross-thread wake-up.
std::vector<double> raw_eventfd_wake(const Config& cfg, Placement placement) {
  WakerPlacement waker(placement);
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
  WakeProbe probe;
  std::atomic<bool> quit{false};
  std::thread waiter([&] {
    pin_thread(woken_core(placement));
    epoll_event out{};
    while (!quit.load()) {
      if (epoll_wait(ep, &out, 1, -1) != 1) continue;
      std::uint64_t v;
      (void)::read(efd, &v, sizeof v);
      probe.mark();
    }
  });
  auto out = cross_thread_samples(cfg.samples(2000), probe, [&] {
    std::uint64_t one = 1;
    auto t0 = now_ns();
    (void)::write(efd, &one, sizeof one);
    return t0;
  });
  quit = true;
  std::uint64_t one = 1;
  (void)::write(efd, &one, sizeof one);
  waiter.join();
  ::close(ep);
  ::close(efd);
  return out;
}

// --- weft ---------------------------------------------------------------------------------

// Two fibers ping-ponging with yield: one round trip through weft's scheduler.
std::vector<double> weft_yield_roundtrip(const Config& cfg) {
  std::vector<double> out;
  Runtime rt;
  const std::size_t batches = 20, per_batch = cfg.samples(200'000);
  (void)rt.spawn([&] {
    bool done = false;
    auto partner = spawn([&] {
      while (!done) this_fiber::yield();
    });
    for (std::size_t b = 0; b < batches; ++b) {
      auto t0 = now_ns();
      for (std::size_t i = 0; i < per_batch; ++i) this_fiber::yield();
      out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(per_batch));
    }
    done = true;
    (void)join(*partner);
  });
  (void)rt.run();
  return out;
}

// Runtime::post from another thread to a sleeping loop: the wake-up path every cross-thread
// entry point uses.
std::vector<double> weft_post_wake(const Config& cfg, WakeMethod method) {
  RuntimeOptions o;
  o.wake = method;
  Runtime rt(o);
  (void)rt.spawn([] { (void)this_fiber::sleep_for(24h); });  // keeps run() going
  std::thread runner([&] { (void)rt.run(); });
  WakeProbe probe;
  auto out = cross_thread_samples(cfg.samples(2000), probe, [&] {
    auto t0 = now_ns();
    (void)rt.post([&] { probe.mark(); });
    return t0;
  });
  rt.stop();
  runner.join();
  return out;
}

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

// A fiber blocked in recv on an idle TCP socket, cancelled by another fiber of its runtime:
// from the cancel call to the blocked fiber running with WSAEINTR (time-stamp counter at
// both ends; the cycle then finishes with the target re-blocking and the canceller resuming).
std::vector<double> weft_cancel_same_thread(const Config& cfg) {
  std::vector<double> out;
  Runtime rt;
  const std::size_t n = cfg.samples(20'000);
  (void)rt.spawn([&] {
    WeftPair pair;
    bool done = false;
    std::uint64_t woke = 0;
    auto target = *spawn([&] {
      char b[1];
      while (!done) {
        if (recv(pair.a, b, 1).error() == wsa::eintr) woke = ticks();
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

}  // namespace

void figures_core(const Config& cfg, std::vector<Figure>& out) {
  if (cfg.wants("fiber_switch")) {
    Figure f = run_interleaved(
        "fiber_switch", "ns", "one context-switch round trip", "same core",
        {{"boost_context_roundtrip", fcontext_roundtrip, "batch, divided"},
         {"weft_yield_roundtrip", weft_yield_roundtrip, "batch, divided; through the scheduler"}},
        cfg);
    add_ratio(f, "weft_yield_over_boost_context", "weft_yield_roundtrip", "boost_context_roundtrip");
    out.push_back(std::move(f));
  }
  if (cfg.wants("wake")) {
    Figure f = run_interleaved(
        "wake", "ns", "cross-thread wake-up of a sleeping loop: post to a function running",
        "cross core",
        {{"raw_eventfd_epoll", [](const Config& c) { return raw_eventfd_wake(c, Placement::os); }, "floor"},
         {"weft_post_eventfd", [](const Config& c) { return weft_post_wake(c, WakeMethod::eventfd); }, ""},
         {"weft_post_uv_async", [](const Config& c) { return weft_post_wake(c, WakeMethod::uv_async); }, ""}},
        cfg);
    add_ratio(f, "eventfd_p50_over_raw_p50", "weft_post_eventfd", "raw_eventfd_epoll", Stat::p50);
    add_ratio(f, "uv_async_p50_over_eventfd_p50", "weft_post_uv_async", "weft_post_eventfd", Stat::p50);
    add_ratio(f, "uv_async_p99_over_eventfd_p99", "weft_post_uv_async", "weft_post_eventfd", Stat::p99);
    out.push_back(std::move(f));
  }
  if (cfg.wants("cancel_same_thread")) {
    std::vector<Contender> contenders = {
        {"boost_context_roundtrip", fcontext_roundtrip, "floor; batch, divided"},
        {"tsc_read", tsc_read, "two stamps back to back: the clock's share of the per-event rows"},
        {"weft", weft_cancel_same_thread, "per event, time-stamp counter"},
        {"asio_spawn", asio_spawn_cancel_same_thread,
         "async_read_some cancelled by cancellation_signal::emit; per event, time-stamp counter"}};
    if (go_available()) {
      contenders.push_back(
          {"go", [](const Config& c) { return go_samples({"cancel-same-thread", std::to_string(c.samples(20'000))}); },
           "conn.Read woken by SetReadDeadline(past) from another goroutine, GOMAXPROCS=1; per "
           "event, runtime.nanotime"});
    }
    Figure f = run_interleaved(
        "cancel_same_thread", "ns",
        "fiber blocked in recv on an idle TCP socket, cancelled by another fiber of its "
        "runtime: from the cancel call to the fiber running with WSAEINTR",
        "same core", contenders, cfg);
    add_ratio(f, "weft_over_fiber_roundtrip", "weft", "boost_context_roundtrip");
    add_ratio(f, "weft_over_asio_spawn", "weft", "asio_spawn");
    if (go_available()) add_ratio(f, "weft_over_go", "weft", "go");
    add_goal(f, "weft_over_fiber_roundtrip", 4.0);
    add_goal(f, "weft_over_asio_spawn", 1.0 / 3.0);
    out.push_back(std::move(f));
  }
  if (cfg.wants("cancel_cross_thread")) {
    std::vector<Contender> contenders = {
        {"raw_eventfd_epoll", [](const Config& c) { return raw_eventfd_wake(c, Placement::os); }, "floor"},
        {"weft_eventfd", [](const Config& c) { return weft_cancel_cross_thread(c, WakeMethod::eventfd); }, ""},
        {"weft_uv_async", [](const Config& c) { return weft_cancel_cross_thread(c, WakeMethod::uv_async); }, ""},
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
    Figure f = run_interleaved(
        "cancel_cross_thread", "ns",
        "fiber blocked in recv on a sleeping loop, cancelled from another OS thread: from the "
        "cancel call to the fiber running with WSAEINTR",
        "as the scheduler places them; *_same_core, *_cross_core: pinned",
        contenders, cfg);
    if (go_available()) add_ratio(f, "weft_over_go", "weft_eventfd", "go_deadline_wait", Stat::p50);
    // p50 and p99 of weft over the floor in a pinned placement, with their goals.
    auto pinned_ratios = [&f](const std::string& suffix) {
      for (Stat stat : {Stat::p50, Stat::p99}) {
        const std::string p = stat == Stat::p50 ? "p50" : "p99";
        const std::string name = "weft" + suffix + "_" + p + "_over_eventfd_" + p;
        add_ratio(f, name, "weft_eventfd" + suffix, "raw_eventfd_epoll" + suffix, stat);
        add_goal(f, name, stat == Stat::p50 ? 1.25 : 1.5);
      }
    };
    pinned_ratios("_same_core");
    if (std::thread::hardware_concurrency() >= 2) pinned_ratios("_cross_core");
    add_ratio(f, "weft_p50_over_eventfd_p50", "weft_eventfd", "raw_eventfd_epoll", Stat::p50);
    add_ratio(f, "weft_p99_over_eventfd_p99", "weft_eventfd", "raw_eventfd_epoll", Stat::p99);
    add_ratio(f, "weft_over_asio", "weft_eventfd", "asio_spawn", Stat::p50);
    add_ratio(f, "weft_over_pthread_kill", "weft_eventfd", "pthread_kill", Stat::p50);
    add_goal(f, "weft_p50_over_eventfd_p50", 1.25);
    add_goal(f, "weft_p99_over_eventfd_p99", 1.5);
    add_goal(f, "weft_over_asio", 1.0);
    add_goal(f, "weft_over_pthread_kill", 1.0);
    out.push_back(std::move(f));
  }
}

}  // namespace weft::bench
