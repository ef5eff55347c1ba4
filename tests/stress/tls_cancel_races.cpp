// Cancel storms against TLS streams (semantics.md §2 rule 5, §9): no plaintext byte is lost or
// duplicated to a race. A peer that is not weft (OpenSSL on a thread, over memory BIOs, so it
// cuts its records into pieces on the wire at will) streams a known sequence while cancels hit
// the weft fiber at random moments, from a fiber of the same runtime and from another thread;
// and weft sends a known sequence under the same storm while the peer checks what it reads.
#include "../support/peer.hpp"
#include "../support/tls.hpp"

#include <weft/weft.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using test::Fd;
using test::TestCerts;
using test::tls_pattern;

// Sanitizer builds set WEFT_TORTURE_ATTEMPTS lower; the normal build makes a hundred thousand
// (a TLS record costs more than a socket's bytes: a tenth of the socket storm's attempts).
long attempts_wanted() {
  const char* env = std::getenv("WEFT_TORTURE_ATTEMPTS");
  return env ? std::atol(env) / 10 + 1000 : 100'000;
}

// The peer's TLS: OpenSSL's server over memory BIOs on a blocking POSIX socket, so it decides
// how the ciphertext is cut on the wire.
class MemPeer {
 public:
  explicit MemPeer(Fd fd) : fd_(std::move(fd)) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx_, TestCerts::get().cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, TestCerts::get().key.c_str(), SSL_FILETYPE_PEM);
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_accept_state(ssl_);
  }
  ~MemPeer() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }

  bool handshake() {
    for (;;) {
      int r = SSL_do_handshake(ssl_);
      flush();
      if (r == 1) return true;
      if (SSL_get_error(ssl_, r) != SSL_ERROR_WANT_READ || !pump()) return false;
    }
  }
  // Encrypts `plain` and writes the ciphertext in pieces of 1 to `piece` bytes.
  void send(const std::string& plain, std::mt19937& rng, std::size_t piece) {
    SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
    std::string wire = drain();
    for (std::size_t off = 0; off < wire.size();) {
      std::size_t n = std::min(wire.size() - off, 1 + rng() % piece);
      if (!send_all(wire.substr(off, n))) return;
      off += n;
    }
  }
  // Reads plaintext until the stream ends; returns how it ended ("close_notify", "reset",
  // "eof", "error").
  std::string read_to_end(std::string& out) {
    std::string buf(65536, '\0');
    for (;;) {
      int r = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
      if (r > 0) {
        out.append(buf.data(), static_cast<std::size_t>(r));
        continue;
      }
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_ZERO_RETURN) return "close_notify";
      if (e != SSL_ERROR_WANT_READ) return "error";
      int got = pump_status();
      if (got == 0) return reset_seen_ ? "reset" : "eof";
      if (got < 0) return errno == ECONNRESET ? "reset" : "error";
    }
  }
  void close_notify() {
    SSL_shutdown(ssl_);
    flush();
  }
  int fd() const { return fd_.get(); }

 private:
  std::string drain() {
    std::string wire;
    char b[16384];
    int n;
    while ((n = BIO_read(out_, b, sizeof b)) > 0) wire.append(b, static_cast<std::size_t>(n));
    return wire;
  }
  void flush() { (void)send_all(drain()); }
  // Every byte, or false (a connection weft reset).
  bool send_all(const std::string& data) {
    for (std::size_t off = 0; off < data.size();) {
      ssize_t n = ::send(fd_.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        // Linux reports a reset once: to this send, and later reads then see 0.
        if (errno == ECONNRESET || errno == EPIPE) reset_seen_ = true;
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  int pump_status() {
    char b[16384];
    ssize_t n = ::recv(fd_.get(), b, sizeof b, 0);
    if (n > 0) BIO_write(in_, b, static_cast<int>(n));
    return static_cast<int>(n);
  }
  bool pump() { return pump_status() > 0; }

  Fd fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
  bool reset_seen_ = false;
};

tls::Context client_context() {
  tls::Options o;
  o.ca_file = TestCerts::get().ca;
  auto c = tls::Context::client(o);
  EXPECT_TRUE(c.ok()) << c.error().message();
  return *c;
}

TEST(TlsCancelRaces, RecvDeliversEveryPlaintextByteExactlyOnceInOrder) {
  ASSERT_FALSE(TestCerts::get().dir.empty());
  const long wanted = attempts_wanted();
  Runtime rt;
  Address addr;
  Fd listener = test::posix_listener(addr);
  std::atomic<FiberId> reader_id{FiberId::none};
  std::atomic<long> attempts{0}, bad_replies{0};
  std::atomic<std::uint64_t> consumed{0};
  std::atomic<bool> done{false};
  std::uint64_t received = 0, mismatches = 0, interrupted = 0, other_errors = 0;

  (void)rt.spawn([&] {
    tls::Context ctx = client_context();
    auto s = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(connect(*s, addr).ok());
    auto st = tls::Stream::client(ctx, *s, "localhost");
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(st->handshake().ok());
    auto reader = spawn([&] {
      reader_id = this_fiber::id();
      std::mt19937 rng(1);
      std::vector<char> buf(64);
      while (!done.load()) {
        auto n = st->recv(buf.data(), 1 + rng() % buf.size());
        if (!n.ok()) {
          if (n.error() == wsa::eintr) {
            ++interrupted;
          } else {
            ++other_errors;
            ADD_FAILURE() << n.error().message();
            break;
          }
          continue;
        }
        if (*n == 0) break;  // the peer's close_notify
        std::string expected = tls_pattern(received, *n);
        if (std::string(buf.data(), *n) != expected) ++mismatches;
        received += *n;
        consumed.store(received, std::memory_order_release);
      }
    });
    test::cancel_from_this_runtime(*reader, done, attempts, bad_replies);
    ASSERT_TRUE(join(*reader).ok());
    EXPECT_TRUE(st->close().ok());
  });
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });

  MemPeer peer(test::posix_accept(listener.get()));
  ASSERT_TRUE(peer.handshake());
  while (reader_id.load() == FiberId::none) std::this_thread::yield();
  std::thread foreign([&] {
    while (!done.load()) {
      Status c = cancel_blocking_call(reader_id.load());
      if (!c.ok() && c.error() != wsa::einval) bad_replies.fetch_add(1);
      attempts.fetch_add(1, std::memory_order_relaxed);
    }
  });
  // Bursts of records, their ciphertext cut in pieces (records arrive in parts, where cancels
  // land between the parts); each burst waits until the reader has it.
  std::uint64_t sent = 0;
  std::mt19937 rng(2);
  for (int bursts = 0; attempts.load() < wanted || bursts < 2000; ++bursts) {
    std::string burst = tls_pattern(sent, 1 + rng() % 4096);
    peer.send(burst, rng, 1 + rng() % 700);
    sent += burst.size();
    while (consumed.load(std::memory_order_acquire) < sent) std::this_thread::yield();
  }
  done = true;
  peer.close_notify();  // ends the reader if it is blocked
  foreign.join();
  runner.join();

  EXPECT_EQ(received, sent);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(other_errors, 0u);
  EXPECT_EQ(bad_replies.load(), 0);
  EXPECT_GE(attempts.load(), wanted);
  EXPECT_GT(interrupted, 0u);
  std::printf("tls recv race: %ld cancel attempts, %llu recvs interrupted, %llu bytes in order\n",
              attempts.load(), static_cast<unsigned long long>(interrupted),
              static_cast<unsigned long long>(received));
}

// Sends under a storm: each send either completes, or is cancelled with nothing committed (the
// sender sends the same bytes again), or is cancelled after committing (the stream resets and
// the sender opens a new connection). The peer reads each connection to its end: a prefix of
// the sequence, never a byte twice or out of place; exactly what was sent when it ends with
// close_notify.
TEST(TlsCancelRaces, ASendCancelledMidwayResetsAndNoByteIsDuplicated) {
  ASSERT_FALSE(TestCerts::get().dir.empty());
  const long wanted = attempts_wanted() / 4;
  Runtime rt;
  Address addr;
  Fd listener = test::posix_listener(addr);
  // A small window at the peer: with 8 KiB of send buffer, no send of 20 KB or more fits at
  // once, so each one waits, and the same-runtime canceller below runs while it does.
  test::set_small_buffers(listener.get());
  std::atomic<FiberId> sender_id{FiberId::none};
  std::atomic<long> attempts{0};
  std::atomic<bool> done{false}, finished{false};
  std::vector<std::uint64_t> committed;  // per connection, bytes of sends that succeeded
  std::vector<bool> reset;               // per connection: weft said it was reset
  std::uint64_t interrupted = 0;

  (void)rt.spawn([&] {
    sender_id = this_fiber::id();
    struct Finish {
      std::atomic<bool>& f;
      ~Finish() { f = true; }  // also when an assertion ends the fiber early
    } finish{finished};
    tls::Context ctx = client_context();
    // Connections come from a fiber of their own, out of the storm's way (a cancelled connect
    // would leave the peer a connection nobody sends on), one at a time and in order.
    Channel<Socket> connections(0);
    auto connector = spawn([&] {
      for (;;) {
        auto s = socket(AF_INET, SOCK_STREAM);
        ASSERT_TRUE(s.ok());
        int bytes = 8192;
        (void)set_option(*s, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
        ASSERT_TRUE(connect(*s, addr).ok());
        Socket made = *s;
        if (!connections.send(std::move(made)).ok()) {  // closed: the sender has finished
          EXPECT_TRUE(close(*s).ok());
          return;
        }
      }
    });
    std::mt19937 rng(3);
    std::string buf;
    for (int made = 0; !done.load() || made < 100; ++made) {
      Result<Socket> s = wsa::eintr;
      while (s.error() == wsa::eintr) s = connections.recv();  // the storm reaches it too
      ASSERT_TRUE(s.ok()) << s.error().message();
      auto st = tls::Stream::client(ctx, *s, "localhost");
      ASSERT_TRUE(st.ok());
      Status h = wsa::eintr;
      while (h.error() == wsa::eintr) h = st->handshake();  // resumes after each cancel
      ASSERT_TRUE(h.ok()) << h.error().message();
      std::uint64_t sent = 0;
      for (int i = 0; i < 200 && (i < 5 || !done.load()); ++i) {  // five sends at least
        buf = tls_pattern(sent, 20000 + rng() % 20000);
        Status r = st->send(buf.data(), buf.size());
        if (r.ok()) {
          sent += buf.size();
        } else if (r.error() == wsa::eintr) {
          ++interrupted;  // unchanged (the same bytes go again), or reset (the next call says)
        } else {
          EXPECT_EQ(r.error(), wsa::econnaborted) << r.error().message();
          break;
        }
      }
      // Reset or not, as weft says; then closed (a cancelled close resets, and closes next).
      bool was_reset = st->send(nullptr, 0).error() == wsa::econnaborted;
      Status closed = st->close();
      if (closed.error() == wsa::eintr) {
        was_reset = true;
        closed = st->close();
      }
      EXPECT_TRUE(closed.ok()) << closed.error().message();
      committed.push_back(sent);
      reset.push_back(was_reset);
    }
    connections.close();
    Status joined = wsa::eintr;
    while (joined.error() == wsa::eintr) joined = join(*connector);
    EXPECT_TRUE(joined.ok()) << joined.error().message();
  });
  // A canceller of the same runtime: whenever it runs the sender is blocked or ready, so its
  // cancels land (every third time it runs, so that sends also complete); and one on another
  // thread, whose cancels land at any moment.
  (void)rt.spawn([&] {
    for (unsigned i = 0; !finished.load(); ++i) {
      if (FiberId f = sender_id.load(); f != FiberId::none && i % 3 == 0) {
        (void)cancel_blocking_call(f);
      }
      this_fiber::yield();
    }
  });
  std::thread runner([&] { ASSERT_TRUE(rt.run().ok()); });
  std::thread canceller([&] {
    while (!finished.load()) {
      if (FiberId f = sender_id.load(); f != FiberId::none) (void)cancel_blocking_call(f);
      if (attempts.fetch_add(1, std::memory_order_relaxed) >= wanted) done = true;
      std::this_thread::yield();
    }
  });
  // The peer: each connection read to its end, until the sender has finished.
  std::vector<std::string> ends;
  std::vector<std::uint64_t> read;
  std::vector<bool> in_order;
  while (!finished.load()) {
    Fd fd = test::posix_accept(listener.get(), 100);
    if (fd.get() < 0) continue;
    MemPeer peer(std::move(fd));
    std::string got;
    ends.push_back(peer.handshake() ? peer.read_to_end(got) : "handshake");
    read.push_back(got.size());
    in_order.push_back(got == tls_pattern(0, got.size()));
  }
  canceller.join();
  runner.join();
  // The connector's last connection, made as the sender finished, never saw TLS.
  ASSERT_GE(ends.size(), committed.size());
  for (std::size_t i = committed.size(); i < ends.size(); ++i) EXPECT_EQ(ends[i], "handshake");
  ends.resize(committed.size());
  for (std::size_t i = 0; i < ends.size(); ++i) {
    EXPECT_TRUE(in_order[i]) << "connection " << i << ": bytes out of order or twice";
    if (ends[i] == "close_notify") {
      EXPECT_FALSE(reset[i]) << "connection " << i;
      EXPECT_EQ(read[i], committed[i]) << "connection " << i;
    } else {
      EXPECT_EQ(ends[i], "reset") << "connection " << i << ": read " << read[i] << " of "
                                  << committed[i] << " committed, reset " << reset[i];
      EXPECT_TRUE(reset[i]) << "connection " << i << " reset, but weft said nothing";
      EXPECT_LE(read[i], committed[i] + 40000) << "connection " << i;
    }
  }
  EXPECT_GT(interrupted, 0u);
  std::printf("tls send race: %ld cancel attempts, %zu connections, %llu sends interrupted\n",
              attempts.load(), ends.size(), static_cast<unsigned long long>(interrupted));
}

}  // namespace
