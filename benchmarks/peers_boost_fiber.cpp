// The Boost.Fiber 1.81 peers of the coordination figures, of fiber_switch and of
// fiber_memory: the same shapes as weft's rows (figures_coordination.cpp, figures_switch.cpp,
// figures_memory.cpp) with Boost.Fiber's yield, channels, mutex and condition variable under
// its default round-robin scheduler, one scheduler per thread. Each round runs on threads of
// its own, so that every round starts with fresh schedulers; a memory sample runs in a process
// of its own. Built when meson finds Boost.Fiber's library (Debian: libboost-fiber1.81-dev);
// otherwise boost_fiber_available() is false.
#include "peers.hpp"

#if WEFT_BENCH_BOOST_FIBER

#include <boost/context/protected_fixedsize_stack.hpp>
#include <boost/fiber/all.hpp>
#include <boost/version.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace weft::bench {
namespace {

namespace bf = boost::fibers;

constexpr bf::channel_op_status kOk = bf::channel_op_status::success;

// Calls f(there, back) with two channels of `capacity`: unbuffered for 0; for 1, a
// buffered_channel of 2, since Boost.Fiber's ring keeps one of its slots free.
template <class F>
void with_channels(std::size_t capacity, F&& f) {
  if (capacity == 0) {
    bf::unbuffered_channel<int> there, back;
    f(there, back);
  } else {
    bf::buffered_channel<int> there(capacity + 1), back(capacity + 1);
    f(there, back);
  }
}

// The partner of a ping-pong: sends back each value it receives, until `there` is closed.
template <class Channel>
void echo_values(Channel& there, Channel& back) {
  int v = 0;
  while (there.pop(v) == kOk) {
    if (back.push(v) != kOk) return;
  }
}

// n fibers running fn() on the calling thread, joined.
template <class F>
void run_fibers(int n, const F& fn) {
  std::vector<bf::fiber> fibers;
  fibers.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) fibers.emplace_back([&fn] { fn(); });
  for (bf::fiber& f : fibers) f.join();
}

}  // namespace

bool boost_fiber_available() { return true; }

std::string boost_fiber_version() {
  return std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
         "." + std::to_string(BOOST_VERSION % 100);
}

std::vector<double> boost_fiber_pingpong(const Config& cfg, std::size_t capacity) {
  std::vector<double> out;
  const std::size_t per_batch = pingpong_per_batch(cfg);
  std::thread runner([&] {
    with_channels(capacity, [&](auto& there, auto& back) {
      bf::fiber partner([&] { echo_values(there, back); });
      int v = 0;
      for (int i = 0; i < 1000; ++i) {  // warm-up
        (void)there.push(i);
        (void)back.pop(v);
      }
      for (std::size_t b = 0; b < kPingPongBatches; ++b) {
        auto t0 = now_ns();
        for (std::size_t i = 0; i < per_batch; ++i) {
          (void)there.push(static_cast<int>(i));
          (void)back.pop(v);
        }
        out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(per_batch));
      }
      there.close();
      partner.join();
    });
  });
  runner.join();
  return out;
}

std::vector<double> boost_fiber_pingpong_cross_thread(const Config& cfg, std::size_t capacity,
                                                      Placement placement) {
  std::vector<double> out;
  const std::size_t n = cross_pingpong_samples(cfg);
  out.reserve(n);
  with_channels(capacity, [&](auto& there, auto& back) {
    std::thread pinger([&] {
      pin_thread(placement == Placement::os ? -1 : 0);
      int v = 0;
      for (int i = 0; i < 100; ++i) {  // warm-up
        (void)there.push(i);
        (void)back.pop(v);
      }
      for (std::size_t i = 0; i < n; ++i) {
        auto t0 = now_ns();
        (void)there.push(static_cast<int>(i));
        (void)back.pop(v);
        out.push_back(static_cast<double>(now_ns() - t0));
      }
      there.close();
    });
    std::thread echo([&] {
      pin_thread(woken_core(placement));
      echo_values(there, back);
    });
    pinger.join();
    echo.join();
  });
  return out;
}

std::vector<double> boost_fiber_stream(const Config& cfg, int producers, int consumers,
                                       bool two_threads) {
  return flow_samples(cfg, [=](FlowSample& fs) {
    bf::buffered_channel<int> ch(kStreamCapacity);
    std::atomic<int> producing{producers};
    auto produce = [&] {
      fs.start();
      for (int v = 0; !fs.stopped(); ++v) {
        if (ch.push(v) != kOk) break;
      }
      if (producing.fetch_sub(1) == 1) ch.close();
    };
    auto consume = [&] {
      std::uint64_t n = 0;
      int v = 0;
      while (ch.pop(v) == kOk) ++n;
      fs.finish(n);
    };
    if (two_threads) {
      std::thread tp([&] { run_fibers(producers, produce); });
      std::thread tc([&] { run_fibers(consumers, consume); });
      tp.join();
      tc.join();
    } else {
      std::thread t([&] {
        std::vector<bf::fiber> fibers;
        for (int i = 0; i < producers; ++i) fibers.emplace_back(produce);
        for (int i = 0; i < consumers; ++i) fibers.emplace_back(consume);
        for (bf::fiber& f : fibers) f.join();
      });
      t.join();
    }
  });
}

std::vector<double> boost_fiber_mutex(const Config& cfg, bool two_threads) {
  return flow_samples(cfg, [=](FlowSample& fs) {
    bf::mutex m;
    std::uint64_t counter = 0;
    auto take = [&] {
      fs.start();
      std::uint64_t mine = 0;
      for (;;) {
        m.lock();
        if (fs.stopped()) {
          m.unlock();
          break;
        }
        ++counter;
        ++mine;
        boost::this_fiber::yield();
        m.unlock();
      }
      fs.finish(mine);
    };
    if (two_threads) {
      std::thread ta([&] { run_fibers(kMutexFibers / 2, take); });
      std::thread tb([&] { run_fibers(kMutexFibers / 2, take); });
      ta.join();
      tb.join();
    } else {
      std::thread t([&] { run_fibers(kMutexFibers, take); });
      t.join();
    }
  });
}

std::vector<double> boost_fiber_yield_roundtrip(const Config& cfg) {
  std::vector<double> out;
  const std::size_t batches = 20, per_batch = cfg.samples(200'000);
  std::thread runner([&] {
    bool done = false;
    bf::fiber partner([&] {
      while (!done) boost::this_fiber::yield();
    });
    for (std::size_t b = 0; b < batches; ++b) {
      auto t0 = now_ns();
      for (std::size_t i = 0; i < per_batch; ++i) boost::this_fiber::yield();
      out.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(per_batch));
    }
    done = true;
    partner.join();
  });
  runner.join();
  return out;
}

double boost_fiber_wait_kib_per_fiber(std::size_t n, BoostFiberWait how,
                                      std::size_t guarded_stack_size, double (*rss)()) {
  // The fibers are never woken, so what they wait on is never freed (peers.hpp).
  struct Waiters {
    bf::mutex m;
    bf::condition_variable cv;
  };
  auto* waiters = new Waiters;
  // Detached rather than joined, so that no vector of n handles grows the RSS measured.
  auto wait = [waiters, how] {
    if (how == BoostFiberWait::sleep) {
      boost::this_fiber::sleep_for(std::chrono::hours(24));
    } else {
      std::unique_lock<bf::mutex> lock(waiters->m);
      waiters->cv.wait(lock);
    }
  };
  boost::this_fiber::yield();  // makes this thread's scheduler before the count starts
  const double before = rss();
  for (std::size_t i = 0; i < n; ++i) {
    if (guarded_stack_size == 0) {
      bf::fiber(wait).detach();
    } else {
      bf::fiber(std::allocator_arg, boost::context::protected_fixedsize_stack(guarded_stack_size),
                wait)
          .detach();
    }
  }
  // The new fibers are queued behind this one: one yield lets each run into its wait.
  boost::this_fiber::yield();
  return (rss() - before) / static_cast<double>(n);
}

}  // namespace weft::bench

#else  // Boost.Fiber's library was not found: its rows are skipped.

namespace weft::bench {

bool boost_fiber_available() { return false; }
std::string boost_fiber_version() { return {}; }
std::vector<double> boost_fiber_pingpong(const Config&, std::size_t) { return {}; }
std::vector<double> boost_fiber_pingpong_cross_thread(const Config&, std::size_t, Placement) {
  return {};
}
std::vector<double> boost_fiber_stream(const Config&, int, int, bool) { return {}; }
std::vector<double> boost_fiber_mutex(const Config&, bool) { return {}; }
std::vector<double> boost_fiber_yield_roundtrip(const Config&) { return {}; }
double boost_fiber_wait_kib_per_fiber(std::size_t, BoostFiberWait, std::size_t, double (*)()) {
  return 0;
}

}  // namespace weft::bench

#endif
