// The TLS figures' pieces: a certificate made at run time, weft's TLS echo server, the floor
// (plain OpenSSL over non-blocking sockets and epoll), the Go and tokio-openssl servers as
// child processes, and the one TLS client.
#include "peers_tls.hpp"

#include <weft/tls.hpp>
#include <weft/weft.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::bench {
namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "weft-bench: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

// Writes `write(FILE*)`'s PEM into a new file `path` that only its owner may read.
template <class Write>
void write_pem(const std::string& path, Write&& write) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (f == nullptr || write(f) != 1 || std::fclose(f) != 0) die("cannot write the certificate");
}

}  // namespace

// --- the certificate ------------------------------------------------------------------------

TlsCertificate::TlsCertificate() {
  std::string pattern = (std::filesystem::temp_directory_path() / "weft-bench-tls-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) die("cannot make a directory for the certificate");
  dir_ = pattern;
  cert_ = dir_ + "/cert.pem";
  key_ = dir_ + "/key.pem";

  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  if (key == nullptr || x == nullptr) die("cannot make a key");
  X509_set_version(x, 2);  // v3, for the subjectAltName extension
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 7 * 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);  // self-signed
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  if (san == nullptr || X509_add_ext(x, san, -1) != 1) die("cannot name the certificate");
  X509_EXTENSION_free(san);
  if (X509_sign(x, key, EVP_sha256()) == 0) die("cannot sign the certificate");
  write_pem(key_, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  write_pem(cert_, [&](FILE* f) { return PEM_write_X509(f, x); });
  X509_free(x);
  EVP_PKEY_free(key);
}

TlsCertificate::~TlsCertificate() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

namespace {

// --- weft ------------------------------------------------------------------------------------

// One weft TLS connection: the handshake, records echoed until the peer's close_notify, then
// the stream's own close_notify and the close (on an error, the stream's destructor closes).
void tls_echo_until_close(tls::Stream& st) {
  if (!st.handshake().ok()) return;
  char buf[8192];
  for (;;) {
    auto n = st.recv(buf, sizeof buf);
    if (!n.ok()) return;
    if (*n == 0) break;
    if (!st.send(buf, *n).ok()) return;
  }
  (void)st.close();
}

class WeftTlsEchoServer final : public EchoServer {
 public:
  explicit WeftTlsEchoServer(const TlsCertificate& cert) {
    tls::Options o;
    o.certificate_chain_file = cert.certificate_file();
    o.private_key_file = cert.private_key_file();
    auto ctx = tls::Context::server(o);
    if (!ctx.ok()) die(("weft: tls::Context::server: " + ctx.error().message()).c_str());
    ctx_.emplace(std::move(*ctx));
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
          (void)spawn([this, s = *c] {
            auto st = tls::Stream::server(*ctx_, s);
            if (!st.ok()) {
              (void)close(s);
              return;
            }
            tls_echo_until_close(*st);
          });
        }
        (void)close(*l);
      });
      (void)rt_.run();
    });
    clock_ = thread_cpu_clock(thread_);
    while (!ready.load()) std::this_thread::yield();
  }
  ~WeftTlsEchoServer() override {
    rt_.stop();
    thread_.join();
  }
  std::uint16_t port() const override { return port_; }
  std::int64_t cpu_ns() const override { return cpu_clock_ns(clock_); }

 private:
  std::optional<tls::Context> ctx_;
  Runtime rt_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  clockid_t clock_{};
};

// --- the floor: plain OpenSSL, non-blocking sockets, epoll ------------------------------------

SSL_CTX* floor_server_context(const TlsCertificate& cert) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) die("floor: SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // One recv takes what the socket holds, not a record's header and then its body: the
  // cheapest way to read records, and what weft's streams do.
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.certificate_file().c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, cert.private_key_file().c_str(), SSL_FILETYPE_PEM) != 1)
    die("floor: cannot load the certificate");
  return ctx;
}

class FloorTlsEchoServer final : public EchoServer {
 public:
  explicit FloorTlsEchoServer(const TlsCertificate& cert) : ctx_(floor_server_context(cert)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(listener_, 1024) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
      die("floor: cannot listen");
    port_ = ntohs(sa.sin_port);
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    stop_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    add(listener_, EPOLLIN, &listener_);
    add(stop_, EPOLLIN, &stop_);
    thread_ = std::thread([this] { run(); });
    clock_ = thread_cpu_clock(thread_);
  }
  ~FloorTlsEchoServer() override {
    std::uint64_t one = 1;
    (void)!::write(stop_, &one, sizeof one);
    thread_.join();
    while (conns_.next != &conns_) close_conn(conns_.next);
    ::close(listener_);
    ::close(stop_);
    ::close(epoll_);
    SSL_CTX_free(ctx_);
  }
  std::uint16_t port() const override { return port_; }
  std::int64_t cpu_ns() const override { return cpu_clock_ns(clock_); }

 private:
  // A connection, on an intrusive list of them (closed at the end). `out` bytes of `buf` are
  // an echo SSL_write has yet to take (after WANT_WRITE it must be called again with them).
  struct Conn {
    Conn* prev = this;
    Conn* next = this;
    int fd = -1;
    SSL* ssl = nullptr;
    std::uint32_t events = 0;
    int out = 0;
    char buf[8192];
  };

  void add(int fd, std::uint32_t events, void* data) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = data;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) die("floor: epoll_ctl");
  }

  // Level-triggered interest in one direction: changed only when OpenSSL asks for the other.
  void want(Conn* c, std::uint32_t events) {
    if (c->events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = c;
    (void)::epoll_ctl(epoll_, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
  }

  void run() {
    epoll_event evs[256];
    for (;;) {
      int n = ::epoll_wait(epoll_, evs, 256, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("floor: epoll_wait");
      }
      // A connection closed while this batch is handled is its own event: each descriptor
      // appears once per batch, so no later event of the batch names a closed one.
      for (int i = 0; i < n; ++i) {
        void* p = evs[i].data.ptr;
        if (p == &stop_) return;
        if (p == &listener_) {
          accept_all();
        } else {
          drive(static_cast<Conn*>(p));
        }
      }
    }
  }

  void accept_all() {
    for (;;) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN: all taken
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto* c = new Conn;
      c->fd = fd;
      c->ssl = SSL_new(ctx_);
      if (c->ssl == nullptr || SSL_set_fd(c->ssl, fd) != 1) die("floor: SSL_new");
      SSL_set_accept_state(c->ssl);
      c->next = &conns_;
      c->prev = conns_.prev;
      conns_.prev->next = c;
      conns_.prev = c;
      c->events = EPOLLIN;
      add(fd, EPOLLIN, c);
      // The client's hello is usually there already: start at once, as a fiber would.
      drive(c);
    }
  }

  void close_conn(Conn* c) {
    c->prev->next = c->next;
    c->next->prev = c->prev;
    SSL_free(c->ssl);
    ::close(c->fd);  // which also takes it out of the epoll set
    delete c;
  }

  // After an SSL call that returned r <= 0: wait for the direction OpenSSL wants, or close.
  void wait_or_close(Conn* c, int r) {
    switch (SSL_get_error(c->ssl, r)) {
      case SSL_ERROR_WANT_READ: want(c, EPOLLIN); return;
      case SSL_ERROR_WANT_WRITE: want(c, EPOLLOUT); return;
      case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify: ours, then the close
        (void)SSL_shutdown(c->ssl);
        break;
      default: break;
    }
    ERR_clear_error();  // SSL_get_error reads the queue: the next connection's must be empty
    close_conn(c);
  }

  void drive(Conn* c) {
    if (!SSL_is_init_finished(c->ssl)) {
      int r = SSL_do_handshake(c->ssl);
      if (r != 1) return wait_or_close(c, r);
    }
    for (;;) {
      if (c->out > 0) {
        int r = SSL_write(c->ssl, c->buf, c->out);
        if (r <= 0) return wait_or_close(c, r);
        c->out = 0;
        // Read on only if OpenSSL holds bytes the descriptor no longer shows (read ahead);
        // otherwise epoll says when the next record comes, and no recv is spent on EAGAIN.
        if (!SSL_has_pending(c->ssl)) return want(c, EPOLLIN);
      }
      int r = SSL_read(c->ssl, c->buf, sizeof c->buf);
      if (r <= 0) return wait_or_close(c, r);
      c->out = r;
    }
  }

  SSL_CTX* ctx_;
  int listener_ = -1, epoll_ = -1, stop_ = -1;
  std::uint16_t port_ = 0;
  Conn conns_;  // the list's head
  std::thread thread_;
  clockid_t clock_{};
};

// --- the client ------------------------------------------------------------------------------

// Every contender's client: TLS 1.3 only (so that each server speaks it), its default key
// share (X25519), the server's certificate not verified (the same work for every server, and
// none of it the server's).
SSL_CTX* client_context() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (c == nullptr) die("client: SSL_CTX_new");
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_read_ahead(c, 1);
    return c;
  }();
  return ctx;
}

// A TCP connection to the loopback port (complete when connect returns: the kernel does the
// handshake), then non-blocking, with TCP_NODELAY.
int connect_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die("client: connect");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

SSL* client_ssl(int fd) {
  SSL* ssl = SSL_new(client_context());
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) die("client: SSL_new");
  SSL_set_connect_state(ssl);
  return ssl;
}

// The poll(2) events a failed SSL call of the client asks for; a failure ends the run (a
// server that breaks a connection fails loudly).
short client_wants(SSL* ssl, int r, const char* during) {
  switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ: return POLLIN;
    case SSL_ERROR_WANT_WRITE: return POLLOUT;
    default: die(during);
  }
}

// Waits (10 s at most: a server that stalls fails loudly) for `events` on fd.
void client_wait(int fd, short events) {
  pollfd p{fd, events, 0};
  if (::poll(&p, 1, 10'000) <= 0) die("client: the server stalled");
}

}  // namespace

clockid_t thread_cpu_clock(std::thread& t) {
  clockid_t clock{};
  if (::pthread_getcpuclockid(t.native_handle(), &clock) != 0) die("pthread_getcpuclockid");
  return clock;
}

std::int64_t cpu_clock_ns(clockid_t clock) {
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::unique_ptr<EchoServer> weft_tls_echo_server(const TlsCertificate& cert) {
  return std::make_unique<WeftTlsEchoServer>(cert);
}

std::unique_ptr<EchoServer> floor_tls_echo_server(const TlsCertificate& cert) {
  return std::make_unique<FloorTlsEchoServer>(cert);
}

struct TlsEchoClient::Conn {
  int fd = -1;
  SSL* ssl = nullptr;
};

TlsEchoClient::TlsEchoClient(std::uint16_t port, std::size_t connections, std::size_t size)
    : conns_(connections), size_(size) {
  // Every handshake in flight at once: set-up, not timed, but done in every round.
  std::vector<pollfd> pfds;
  std::vector<Conn*> conn_of;
  for (Conn& c : conns_) {
    c.fd = connect_loopback(port);
    c.ssl = client_ssl(c.fd);
    conn_of.push_back(&c);
  }
  while (!conn_of.empty()) {
    pfds.clear();
    std::size_t k = 0;
    for (Conn* c : conn_of) {
      int r = SSL_do_handshake(c->ssl);
      if (r == 1) continue;
      pfds.push_back({c->fd, client_wants(c->ssl, r, "client: the handshake failed"), 0});
      conn_of[k++] = c;
    }
    conn_of.resize(k);
    if (k > 0 && ::poll(pfds.data(), k, 10'000) <= 0) die("client: the server stalled");
  }
}

TlsEchoClient::~TlsEchoClient() {
  for (Conn& c : conns_) {
    (void)SSL_shutdown(c.ssl);  // close_notify, into a send queue that has room
    SSL_free(c.ssl);
    ::close(c.fd);
  }
  ERR_clear_error();
}

std::vector<double> TlsEchoClient::run(std::size_t rounds, double* per_second) {
  const std::size_t n = conns_.size();
  std::string msg(size_, 'e');
  std::vector<char> buf(size_);
  std::vector<std::int64_t> sent_at(n);
  std::vector<std::size_t> got(n);
  std::vector<pollfd> pfds(n);
  std::vector<std::size_t> conn_of(n);  // pfds index -> connection
  std::vector<double> latencies;
  latencies.reserve(n * rounds);
  const int size = static_cast<int>(size_);
  auto start = now_ns();
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < n; ++i) {
      sent_at[i] = now_ns();
      got[i] = 0;
      // One record; the send queue has room for it but for a server that stalled.
      for (int w; (w = SSL_write(conns_[i].ssl, msg.data(), size)) != size;) {
        client_wait(conns_[i].fd, client_wants(conns_[i].ssl, w, "client: SSL_write failed"));
      }
    }
    std::size_t pending = n;
    while (pending > 0) {
      std::size_t k = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (got[i] < size_) {
          conn_of[k] = i;
          pfds[k++] = {conns_[i].fd, POLLIN, 0};
        }
      }
      if (::poll(pfds.data(), k, 10'000) <= 0) die("client: the server stalled");
      for (std::size_t j = 0; j < k; ++j) {
        if (!(pfds[j].revents & (POLLIN | POLLERR | POLLHUP))) continue;
        std::size_t i = conn_of[j];
        SSL* ssl = conns_[i].ssl;
        // Until the message is whole or the socket is drained: OpenSSL may hold the rest
        // of what it read ahead, which poll(2) would not show.
        while (got[i] < size_) {
          int m = SSL_read(ssl, buf.data(), static_cast<int>(size_ - got[i]));
          if (m <= 0) {
            if (client_wants(ssl, m, "client: SSL_read failed") == POLLIN) break;
            client_wait(conns_[i].fd, POLLOUT);
            continue;
          }
          got[i] += static_cast<std::size_t>(m);
          if (got[i] == size_) {
            latencies.push_back(static_cast<double>(now_ns() - sent_at[i]));
            --pending;
          }
        }
      }
    }
  }
  auto elapsed = now_ns() - start;
  *per_second = static_cast<double>(n * rounds) * 1e9 / static_cast<double>(elapsed);
  return latencies;
}

double tls_handshake_client(std::uint16_t port, std::size_t handshakes, std::size_t in_flight) {
  struct Slot {
    int fd = -1;
    SSL* ssl = nullptr;
    bool closing = false;  // handshaken, close_notify sent: reading to the server's end
    short events = 0;
  };
  std::vector<Slot> slots(std::min(in_flight, handshakes));
  std::size_t started = 0, done = 0;
  auto start = [&](Slot& s) {
    s.fd = connect_loopback(port);
    s.ssl = client_ssl(s.fd);
    s.closing = false;
    ++started;
  };
  // Runs a slot's connection as far as it goes without waiting; a finished one is replaced
  // by the next while there are handshakes left to start.
  auto step = [&](Slot& s) {
    for (;;) {
      if (!s.closing) {
        int r = SSL_do_handshake(s.ssl);
        if (r != 1) {
          s.events = client_wants(s.ssl, r, "client: the handshake failed");
          return;
        }
        s.closing = true;
        (void)SSL_shutdown(s.ssl);  // close_notify, into a fresh connection's empty queue
      }
      // The server's session tickets (OpenSSL takes them in passing), then its close_notify
      // or the end of the stream.
      char sink[256];
      int r = SSL_read(s.ssl, sink, sizeof sink);
      if (r > 0) continue;
      if (SSL_get_error(s.ssl, r) == SSL_ERROR_WANT_READ) {
        s.events = POLLIN;
        return;
      }
      ERR_clear_error();
      SSL_free(s.ssl);
      ::close(s.fd);
      s.fd = -1;
      ++done;
      if (started == handshakes) return;
      start(s);
    }
  };
  std::vector<pollfd> pfds;
  std::vector<Slot*> slot_of;
  auto t0 = now_ns();
  for (Slot& s : slots) {
    start(s);
    step(s);
  }
  while (done < handshakes) {
    pfds.clear();
    slot_of.clear();
    for (Slot& s : slots) {
      if (s.fd < 0) continue;
      pfds.push_back({s.fd, s.events, 0});
      slot_of.push_back(&s);
    }
    if (::poll(pfds.data(), pfds.size(), 10'000) <= 0) die("client: the server stalled");
    for (std::size_t j = 0; j < pfds.size(); ++j) {
      if (pfds[j].revents != 0) step(*slot_of[j]);
    }
  }
  auto elapsed = now_ns() - t0;
  return static_cast<double>(handshakes) * 1e9 / static_cast<double>(elapsed);
}

// --- the peers that are programs of their own -------------------------------------------------

namespace {

const char kGo[] = "weft-bench-go";
const char kTokioTls[] = "weft-bench-tokio-tls";

const std::string& tokio_tls_path() {
  static const std::string path = peer_program_path(kTokioTls);
  return path;
}

}  // namespace

std::unique_ptr<EchoServer> go_tls_echo_server(const TlsCertificate& cert) {
  static const std::string path = peer_program_path(kGo);
  return peer_program_server(path, kGo,
                             {"serve-tls-echo", cert.certificate_file(), cert.private_key_file()});
}

bool tokio_tls_available() { return !tokio_tls_path().empty(); }

std::string tokio_tls_version() { return peer_program_version(tokio_tls_path()); }

std::string tokio_tls_skip_note() {
  bool crate = false;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/usr/share/cargo/registry", ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind("tokio-openssl-", 0) == 0) crate = true;
  }
  if (crate && ::access("/usr/bin/cargo", X_OK) == 0) {
    return "skipped: weft-bench-tokio-tls was not built (cargo and the crates came after this "
           "build tree was set up: meson setup --reconfigure)";
  }
  return "skipped: Debian's cargo or the tokio-openssl crate is not installed (Debian: cargo, "
         "librust-tokio-dev, librust-tokio-openssl-dev)";
}

std::unique_ptr<EchoServer> tokio_tls_echo_server(const TlsCertificate& cert) {
  return peer_program_server(tokio_tls_path(), kTokioTls,
                             {"serve-tls-echo", cert.certificate_file(), cert.private_key_file()});
}

std::unique_ptr<EchoServer> tls_echo_server(const std::string& name, const TlsCertificate& cert) {
  if (name == "weft") return weft_tls_echo_server(cert);
  if (name == "floor") return floor_tls_echo_server(cert);
  if (name == "asio") return asio_tls_echo_server(cert);
  if (name == "go" && go_available()) return go_tls_echo_server(cert);
  if (name == "tokio" && tokio_tls_available()) return tokio_tls_echo_server(cert);
  return nullptr;
}

int serve_tls_echo(const std::string& name) {
  TlsCertificate cert;
  std::unique_ptr<EchoServer> server = tls_echo_server(name, cert);
  if (!server) {
    std::fprintf(stderr, "weft-bench: --serve-tls-echo takes weft, floor, asio, go or tokio "
                         "(the last two where their peer was built)\n");
    return 2;
  }
  std::printf("%u\n", static_cast<unsigned>(server->port()));
  std::fflush(stdout);
  char buf[256];
  while (::read(0, buf, sizeof buf) > 0) {}
  return 0;
}

}  // namespace weft::bench
