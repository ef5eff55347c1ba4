// The Boost.Asio 1.81 peers: asio::spawn coroutines (on Boost.Context, as weft's fibers are)
// and plain Asio callbacks, each doing what the weft contender of the same figure does.
#include "peers.hpp"

#include <boost/asio.hpp>
#include <boost/asio/spawn.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace weft::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// A connected loopback pair on `ioc`.
struct AsioPair {
  tcp::socket a, b;
  explicit AsioPair(asio::io_context& ioc) : a(ioc), b(ioc) {
    tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    b.connect(acc.local_endpoint());
    acc.accept(a);
    a.set_option(tcp::no_delay(true));
    b.set_option(tcp::no_delay(true));
  }
};

}  // namespace

std::vector<double> asio_spawn_cancel_same_thread(const Config& cfg) {
  asio::io_context ioc(1);
  AsioPair pair(ioc);
  asio::cancellation_signal signal;
  std::uint64_t woke = 0;
  bool done = false;
  std::vector<double> out;
  const std::size_t n = cfg.samples(20'000);
  asio::spawn(
      ioc,
      [&](asio::yield_context y) {
        char b[1];
        while (!done) {
          error_code ec;
          pair.a.async_read_some(asio::buffer(b),
                                 asio::bind_cancellation_slot(signal.slot(), y[ec]));
          if (ec == asio::error::operation_aborted) woke = ticks();
        }
      },
      asio::detached);
  asio::spawn(
      ioc,
      [&](asio::yield_context y) {
        asio::post(ioc, y);  // the reader blocks
        for (std::size_t i = 0; i < n; ++i) {
          woke = 0;
          std::uint64_t t0 = ticks();
          signal.emit(asio::cancellation_type::all);
          asio::post(ioc, y);  // the reader runs with operation_aborted, re-blocks, then us
          if (woke == 0) std::abort();  // every cancel must have landed
          out.push_back(ticks_to_ns(woke - t0));
        }
        done = true;
        signal.emit(asio::cancellation_type::all);
      },
      asio::detached);
  ioc.run();
  return out;
}

std::vector<double> asio_spawn_cancel_cross_thread(const Config& cfg) {
  asio::io_context ioc(1);
  AsioPair pair(ioc);
  asio::cancellation_signal signal;
  WakeProbe probe;
  std::atomic<bool> blocked{false}, quit{false};
  asio::spawn(
      ioc,
      [&](asio::yield_context y) {
        char b[1];
        while (!quit.load()) {
          error_code ec;
          blocked.store(true, std::memory_order_release);
          pair.a.async_read_some(asio::buffer(b),
                                 asio::bind_cancellation_slot(signal.slot(), y[ec]));
          if (ec == asio::error::operation_aborted) probe.mark();
        }
      },
      asio::detached);
  std::thread runner([&] { ioc.run(); });
  while (!blocked.load()) std::this_thread::yield();
  auto out = cross_thread_samples(cfg.samples(2000), probe, [&] {
    auto t0 = now_ns();
    // cancellation_signal is not thread-safe: the emit is posted to the io_context.
    asio::post(ioc, [&] { signal.emit(asio::cancellation_type::all); });
    return t0;
  });
  quit = true;
  asio::post(ioc, [&] { signal.emit(asio::cancellation_type::all); });
  runner.join();
  return out;
}

std::vector<double> asio_spawn_fanout(const Config&, std::size_t fibers) {
  asio::io_context ioc(1);
  std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  std::size_t resumed = 0;
  std::int64_t t0 = 0, t1 = 0;
  // After resuming, each waits on one shared gate timer (as weft's fibers join a gate fiber),
  // so that the time is the cancel's, not that of the coroutines ending.
  asio::steady_timer gate(ioc, std::chrono::hours(24));
  for (std::size_t i = 0; i < fibers; ++i) {
    signals.push_back(std::make_unique<asio::cancellation_signal>());
    timers.push_back(std::make_unique<asio::steady_timer>(ioc, std::chrono::hours(24)));
    asio::spawn(
        ioc, std::allocator_arg, boost::context::fixedsize_stack(64 * 1024),
        [&, i](asio::yield_context y) {
          error_code ec;
          timers[i]->async_wait(asio::bind_cancellation_slot(signals[i]->slot(), y[ec]));
          if (++resumed == fibers) {
            t1 = now_ns();
            gate.cancel();  // releases the others; this one is done
            return;
          }
          gate.async_wait(y[ec]);
        },
        asio::detached);
  }
  asio::post(ioc, [&] {
    // Every coroutine is blocked now: one cancel, which in Asio is one emit per coroutine.
    t0 = now_ns();
    for (auto& s : signals) s->emit(asio::cancellation_type::all);
  });
  ioc.run();
  return {static_cast<double>(t1 - t0) / static_cast<double>(fibers)};
}

// Memory peers for fiber_memory: RSS growth per coroutine, measured by the caller's `rss`
// (KiB) in a fresh process. asio::spawn's coroutines run on Boost.Context stacks of Boost's
// default size; only touched pages count, as for weft's.
double asio_spawn_recv_kib_per_coroutine(std::size_t n, double (*rss)()) {
  asio::io_context ioc(1);
  tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  double before = rss();
  std::vector<std::unique_ptr<tcp::socket>> clients;
  std::size_t blocked = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto c = std::make_unique<tcp::socket>(ioc);
    c->connect(acc.local_endpoint());
    clients.push_back(std::move(c));
    tcp::socket a = acc.accept();
    asio::spawn(
        ioc,
        [&blocked, a = std::move(a)](asio::yield_context y) mutable {
          char b[64];
          error_code ec;
          ++blocked;
          a.async_read_some(asio::buffer(b), y[ec]);
        },
        asio::detached);
  }
  while (blocked < n) ioc.run_one();
  double per = (rss() - before) / static_cast<double>(n);
  for (auto& c : clients) c->close();  // each coroutine's read ends (EOF), and it returns
  ioc.run();
  return per;
}

double asio_spawn_sleep_kib_per_coroutine(std::size_t n, double (*rss)()) {
  asio::io_context ioc(1);
  double before = rss();
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  std::size_t blocked = 0;
  for (std::size_t i = 0; i < n; ++i) {
    timers.push_back(std::make_unique<asio::steady_timer>(ioc, std::chrono::hours(24)));
    asio::spawn(
        ioc,
        [&blocked, t = timers.back().get()](asio::yield_context y) {
          error_code ec;
          ++blocked;
          t->async_wait(y[ec]);
        },
        asio::detached);
  }
  while (blocked < n) ioc.run_one();
  double per = (rss() - before) / static_cast<double>(n);
  for (auto& t : timers) t->cancel();
  ioc.run();
  return per;
}

// Echo server peers: one coroutine (or one callback chain) per connection, reading some bytes
// and writing them all back.
namespace {

void asio_spawn_echo_session(tcp::socket s, asio::yield_context y) {
  char buf[8192];
  for (;;) {
    error_code ec;
    std::size_t n = s.async_read_some(asio::buffer(buf), y[ec]);
    if (ec) return;
    asio::async_write(s, asio::buffer(buf, n), y[ec]);
    if (ec) return;
  }
}

struct CallbackSession : std::enable_shared_from_this<CallbackSession> {
  explicit CallbackSession(tcp::socket s) : sock(std::move(s)) {}
  tcp::socket sock;
  char buf[8192];
  void read() {
    sock.async_read_some(asio::buffer(buf),
                         [self = shared_from_this()](error_code ec, std::size_t n) {
                           if (ec) return;
                           asio::async_write(self->sock, asio::buffer(self->buf, n),
                                             [self](error_code ec2, std::size_t) {
                                               if (!ec2) self->read();
                                             });
                         });
  }
};

class AsioEchoServer final : public EchoServer {
 public:
  // `threads` threads run the one io_context (Asio's thread-pool shape); a coroutine has one
  // operation outstanding at a time, so its handlers never run concurrently.
  AsioEchoServer(bool coroutines, int threads)
      : ioc_(threads), acceptor_(ioc_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    port_ = acceptor_.local_endpoint().port();
    if (coroutines) {
      asio::spawn(
          ioc_,
          [this](asio::yield_context y) {
            for (;;) {
              error_code ec;
              tcp::socket s = acceptor_.async_accept(y[ec]);
              if (ec) return;
              s.set_option(tcp::no_delay(true));
              asio::spawn(
                  ioc_,
                  [s = std::move(s)](asio::yield_context y2) mutable {
                    asio_spawn_echo_session(std::move(s), y2);
                  },
                  asio::detached);
            }
          },
          asio::detached);
    } else {
      accept_one();
    }
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~AsioEchoServer() override {
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }
  std::uint16_t port() const override { return port_; }

 private:
  void accept_one() {
    acceptor_.async_accept([this](error_code ec, tcp::socket s) {
      if (ec) return;
      s.set_option(tcp::no_delay(true));
      std::make_shared<CallbackSession>(std::move(s))->read();
      accept_one();
    });
  }
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace

std::unique_ptr<EchoServer> asio_echo_server(bool coroutines, int threads) {
  return std::make_unique<AsioEchoServer>(coroutines, threads);
}

}  // namespace weft::bench
