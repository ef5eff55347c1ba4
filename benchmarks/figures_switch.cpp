// Figures of switching and waking: a context-switch round trip through the scheduler, and a
// cross-thread wake-up of a sleeping loop. Their floors are the cancel figures' floors too.
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

// A token passed back and forth between two threads, each asleep in epoll_wait on an eventfd
// of its own: one write, one wake-up and one read each way. The floor of any ping-pong
// between two loops on two threads. Per round trip, steady clock.
std::vector<double> raw_eventfd_roundtrip(const Config& cfg, Placement placement) {
  struct Side {
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    Side() {
      epoll_event ev{};
      ev.events = EPOLLIN;
      epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    }
    ~Side() {
      ::close(ep);
      ::close(efd);
    }
    void post() {
      std::uint64_t one = 1;
      (void)::write(efd, &one, sizeof one);
    }
    void wait() {
      epoll_event out{};
      while (epoll_wait(ep, &out, 1, -1) != 1) {}
      std::uint64_t v;
      (void)::read(efd, &v, sizeof v);
    }
  };
  Side ping, pong;
  std::atomic<bool> quit{false};
  std::thread echo([&] {
    pin_thread(woken_core(placement));
    for (;;) {
      pong.wait();
      if (quit.load()) return;
      ping.post();
    }
  });
  const std::size_t n = cross_pingpong_samples(cfg);
  std::vector<double> out;
  out.reserve(n);
  std::thread pinger([&] {
    pin_thread(placement == Placement::os ? -1 : 0);
    for (std::size_t i = 0; i < 100; ++i) {  // warm-up
      pong.post();
      ping.wait();
    }
    for (std::size_t i = 0; i < n; ++i) {
      auto t0 = now_ns();
      pong.post();
      ping.wait();
      out.push_back(static_cast<double>(now_ns() - t0));
    }
  });
  pinger.join();
  quit = true;
  pong.post();
  echo.join();
  return out;
}

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

namespace {

using namespace std::chrono_literals;

// --- weft ---------------------------------------------------------------------------------

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

}  // namespace

Figure figure_fiber_switch(const Config& cfg) {
  std::vector<Contender> contenders = {
      {"boost_context_roundtrip", fcontext_roundtrip, "batch, divided"},
      {"weft_yield_roundtrip", weft_yield_roundtrip, "batch, divided; through the scheduler"}};
  if (boost_fiber_available()) {
    contenders.push_back({"boost_fiber_yield_roundtrip", boost_fiber_yield_roundtrip,
                          "two fibers of one thread, boost::this_fiber::yield, round_robin "
                          "scheduler; batch, divided"});
  }
  Figure f = run_interleaved("fiber_switch", "ns", "one context-switch round trip", "same core",
                             contenders, cfg);
  add_ratio(f, "weft_yield_over_boost_context", "weft_yield_roundtrip", "boost_context_roundtrip");
  if (boost_fiber_available()) {
    add_ratio(f, "weft_over_boost_fiber", "weft_yield_roundtrip", "boost_fiber_yield_roundtrip");
  }
  return f;
}

Figure figure_wake(const Config& cfg) {
  Figure f = run_interleaved(
      "wake", "ns", "cross-thread wake-up of a sleeping loop: post to a function running",
      "cross core",
      {{"raw_eventfd_epoll", [](const Config& c) { return raw_eventfd_wake(c, Placement::os); },
        "floor"},
       {"weft_post_eventfd", [](const Config& c) { return weft_post_wake(c, WakeMethod::eventfd); },
        ""},
       {"weft_post_uv_async",
        [](const Config& c) { return weft_post_wake(c, WakeMethod::uv_async); }, ""}},
      cfg);
  add_ratio(f, "eventfd_p50_over_raw_p50", "weft_post_eventfd", "raw_eventfd_epoll", Stat::p50);
  add_ratio(f, "uv_async_p50_over_eventfd_p50", "weft_post_uv_async", "weft_post_eventfd",
            Stat::p50);
  add_ratio(f, "uv_async_p99_over_eventfd_p99", "weft_post_uv_async", "weft_post_eventfd",
            Stat::p99);
  return f;
}

}  // namespace weft::bench
