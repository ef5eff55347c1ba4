// Peers without a framework: an OS thread interrupted by pthread_kill, a raw libuv echo
// server; weft's own echo server; and the one echo client all servers are driven by.
#include "peers.hpp"

#include <weft/weft.hpp>

#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::bench {

// --- placement ----------------------------------------------------------------------------

static_assert(sizeof(cpu_set_t) <= 128, "WakerPlacement's saved mask is too small");

void pin_thread(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
}

WakerPlacement::WakerPlacement(Placement p) {
  if (p == Placement::os) return;
  auto* saved = reinterpret_cast<cpu_set_t*>(saved_);
  if (::pthread_getaffinity_np(::pthread_self(), sizeof(cpu_set_t), saved) != 0) return;
  pin_thread(0);
  pinned_ = true;
}

WakerPlacement::~WakerPlacement() {
  if (pinned_) {
    (void)::pthread_setaffinity_np(::pthread_self(), sizeof(cpu_set_t),
                                   reinterpret_cast<cpu_set_t*>(saved_));
  }
}

// --- pthread_kill -------------------------------------------------------------------------

int posix_loopback_listener(sockaddr_in& bound) {
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  bound = sockaddr_in{};
  bound.sin_family = AF_INET;
  bound.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof bound;
  if (::bind(l, reinterpret_cast<sockaddr*>(&bound), sizeof bound) != 0 || ::listen(l, 1) != 0)
    std::abort();
  ::getsockname(l, reinterpret_cast<sockaddr*>(&bound), &len);
  return l;
}

void posix_pair(int& a, int& b) {
  sockaddr_in sa{};
  int l = posix_loopback_listener(sa);
  b = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(b, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) std::abort();
  a = ::accept(l, nullptr, nullptr);
  ::close(l);
  int one = 1;
  ::setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

namespace {
void on_sigusr1(int) {}
}  // namespace

std::vector<double> pthread_kill_cancel(const Config& cfg) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = on_sigusr1;  // no SA_RESTART: recv fails with EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, &old);
  int a = -1, b = -1;
  posix_pair(a, b);
  std::atomic<std::int64_t> woke_at{0};
  std::atomic<bool> woke{false}, quit{false};
  std::thread reader([&] {
    char buf[1];
    while (!quit.load()) {
      ssize_t n = ::recv(a, buf, 1, 0);
      if (n < 0 && errno == EINTR) {
        woke_at.store(now_ns(), std::memory_order_relaxed);
        woke.store(true, std::memory_order_release);
      }
    }
  });
  std::vector<double> out;
  const std::size_t n = cfg.samples(2000);
  for (std::size_t i = 0; i < n; ++i) {
    std::this_thread::sleep_for(kIdleGap);
    woke.store(false);
    auto t0 = now_ns();
    pthread_kill(reader.native_handle(), SIGUSR1);
    // A signal that landed before the thread entered recv is lost: send again, drop the sample.
    bool lost = false;
    for (auto until = now_ns() + 20'000'000; !woke.load(std::memory_order_acquire);) {
      if (now_ns() > until) {
        lost = true;
        pthread_kill(reader.native_handle(), SIGUSR1);
        until = now_ns() + 20'000'000;
      }
    }
    if (!lost) out.push_back(static_cast<double>(woke_at.load() - t0));
  }
  quit = true;
  char one = 1;
  (void)::send(b, &one, 1, MSG_NOSIGNAL);  // ends the last recv
  reader.join();
  ::close(a);
  ::close(b);
  sigaction(SIGUSR1, &old, nullptr);
  return out;
}

// --- echo servers ---------------------------------------------------------------------------

namespace {

class LibuvEchoServer final : public EchoServer {
 public:
  LibuvEchoServer() {
    uv_loop_init(&loop_);
    uv_tcp_init(&loop_, &server_);
    server_.data = this;
    sockaddr_in sa{};
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_bind(&server_, reinterpret_cast<sockaddr*>(&sa), 0);
    if (uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 1024, on_connection) != 0) std::abort();
    int len = sizeof sa;
    uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
      uv_walk(
          a->loop,
          [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h))
              uv_close(h, [](uv_handle_t* hh) {
                if (hh->type == UV_TCP && hh->data == nullptr) delete reinterpret_cast<Conn*>(hh);
              });
          },
          nullptr);
    });
    stop_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~LibuvEchoServer() override {
    uv_async_send(&stop_);
    thread_.join();
    uv_loop_close(&loop_);
  }
  std::uint16_t port() const override { return port_; }

 private:
  // One connection: its handle, a read buffer, and one write request reused (the echo is a
  // ping-pong: reading stops while a write is in flight).
  struct Conn {
    uv_tcp_t tcp;  // first: a Conn* is its uv_tcp_t* (data stays null to say "delete me")
    uv_write_t write;
    char buf[8192];
  };
  static void on_connection(uv_stream_t* server, int status) {
    if (status != 0) return;
    auto* c = new Conn;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = nullptr;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
               [](uv_handle_t* h) { delete reinterpret_cast<Conn*>(h); });
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
  }
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* c = reinterpret_cast<Conn*>(h);
    *buf = uv_buf_init(c->buf, sizeof c->buf);
  }
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t*) {
    auto* c = reinterpret_cast<Conn*>(s);
    if (n <= 0) {
      if (n < 0)
        uv_close(reinterpret_cast<uv_handle_t*>(s),
                 [](uv_handle_t* h) { delete reinterpret_cast<Conn*>(h); });
      return;
    }
    uv_read_stop(s);
    uv_buf_t out = uv_buf_init(c->buf, static_cast<unsigned>(n));
    uv_write(&c->write, s, &out, 1, [](uv_write_t* w, int status) {
      auto* conn = reinterpret_cast<Conn*>(w->handle);
      if (status == 0) uv_read_start(w->handle, on_alloc, on_read);
      (void)conn;
    });
  }

  uv_loop_t loop_{};
  uv_tcp_t server_{};
  uv_async_t stop_{};
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// One weft echo connection: reads some bytes, sends them all back, until EOF or an error.
void echo_until_eof(Socket s) {
  char buf[8192];
  for (;;) {
    auto n = recv(s, buf, sizeof buf);
    if (!n.ok() || *n == 0 || !send(s, buf, *n).ok()) return;
  }
}

class WeftEchoServer final : public EchoServer {
 public:
  WeftEchoServer() {
    std::atomic<bool> ready{false};
    thread_ = std::thread([&] {
      (void)rt_.spawn([&] {
        auto l = socket(AF_INET, SOCK_STREAM);
        (void)bind(*l, Address::loopback_v4(0));
        (void)listen(*l, 1024);
        port_ = local_address(*l)->port();
        ready = true;
        for (;;) {
          auto c = accept(*l);
          if (!c.ok()) break;
          (void)set_nodelay(*c, true);
          (void)spawn([s = *c] {
            echo_until_eof(s);
            (void)close(s);
          });
        }
        (void)close(*l);
      });
      (void)rt_.run();
    });
    while (!ready.load()) std::this_thread::yield();
  }
  ~WeftEchoServer() override {
    rt_.stop();
    thread_.join();
  }
  std::uint16_t port() const override { return port_; }

 private:
  Runtime rt_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

class WeftGroupEchoServer final : public EchoServer {
 public:
  explicit WeftGroupEchoServer(int threads) : group_(static_cast<std::size_t>(threads)) {
    auto at =
        group_.serve(Address::loopback_v4(0), [](UniqueSocket c) { echo_until_eof(c.get()); });
    if (!at.ok()) std::abort();
    port_ = at->port();
    thread_ = std::thread([this] { (void)group_.run(); });
  }
  ~WeftGroupEchoServer() override {
    group_.stop();
    thread_.join();
  }
  std::uint16_t port() const override { return port_; }

 private:
  RuntimeGroup group_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<EchoServer> weft_group_echo_server(int threads) {
  return std::make_unique<WeftGroupEchoServer>(threads);
}
std::unique_ptr<EchoServer> libuv_echo_server() { return std::make_unique<LibuvEchoServer>(); }
std::unique_ptr<EchoServer> weft_echo_server() { return std::make_unique<WeftEchoServer>(); }

// --- the echo client ----------------------------------------------------------------------

std::vector<double> echo_client(std::uint16_t port, std::size_t connections, std::size_t size,
                                std::size_t rounds, double* per_second) {
  std::vector<int> fds;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  for (std::size_t i = 0; i < connections; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) std::abort();
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fds.push_back(fd);
  }
  std::string msg(size, 'e');
  std::vector<char> buf(size);
  std::vector<std::int64_t> sent_at(connections);
  std::vector<std::size_t> got(connections);
  std::vector<pollfd> pfds(connections);
  std::vector<std::size_t> conn_of(connections);  // pfds index -> connection
  std::vector<double> latencies;
  latencies.reserve(connections * rounds);
  auto start = now_ns();
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < connections; ++i) {
      sent_at[i] = now_ns();
      got[i] = 0;
      if (::send(fds[i], msg.data(), size, MSG_NOSIGNAL) != static_cast<ssize_t>(size))
        std::abort();
    }
    std::size_t pending = connections;
    while (pending > 0) {
      std::size_t k = 0;
      for (std::size_t i = 0; i < connections; ++i) {
        if (got[i] < size) {
          conn_of[k] = i;
          pfds[k++] = {fds[i], POLLIN, 0};
        }
      }
      if (::poll(pfds.data(), k, 10'000) <= 0) std::abort();  // a server that stalls fails loudly
      for (std::size_t j = 0; j < k; ++j) {
        if (!(pfds[j].revents & (POLLIN | POLLERR | POLLHUP))) continue;
        std::size_t i = conn_of[j];
        ssize_t n = ::recv(fds[i], buf.data(), size - got[i], MSG_DONTWAIT);
        if (n <= 0) {
          if (n < 0 && errno == EAGAIN) continue;
          std::abort();
        }
        got[i] += static_cast<std::size_t>(n);
        if (got[i] == size) {
          latencies.push_back(static_cast<double>(now_ns() - sent_at[i]));
          --pending;
        }
      }
    }
  }
  auto elapsed = now_ns() - start;
  *per_second = static_cast<double>(connections * rounds) * 1e9 / static_cast<double>(elapsed);
  for (int fd : fds) ::close(fd);
  return latencies;
}

}  // namespace weft::bench
