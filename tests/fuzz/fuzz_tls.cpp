// libFuzzer target: a TLS peer that sends garbage (semantics.md §9). weft's client stream W
// talks to a peer P on a real loopback connection; P is OpenSSL's server over memory BIOs, so
// it decides every byte on the wire. Each input is:
//
//   byte 0    bit 0: the garbage comes before the handshake (W's handshake reads it) or after
//             (W's recvs read it, behind whole records); bit 1: P ends with a reset, else a
//             FIN; bit 2: W's recv is cancelled once while blocked; bits 3-7: how many valid
//             records P sends before the garbage (after the handshake)
//   byte 1    the size of the pieces P cuts the garbage into (1 + byte, at most 256)
//   the rest  the garbage, raw, as P's next bytes on the wire
//
// The model: W's calls return, never crash or hang; what W's recvs deliver is exactly a prefix
// of the valid records' plaintext, in order; every failure is a "weft.tls" error or a socket's
// ("wsa": WSAECONNRESET for the truncated or reset stream), WSAEINTR only for the cancelled
// recv; after a failure the stream keeps failing, and close returns 0.
#include <weft/weft.hpp>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using namespace weft;

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_tls: model violated: %s %s\n", what, detail.c_str());
  std::abort();
}
#define REQUIRE(cond, ...)                                   \
  do {                                                       \
    if (!(cond)) violated(#cond __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

// P's certificate: a P-256 key and a self-signed certificate made once, in memory (W does
// not verify it: the target is the record layer, not verification).
struct PeerIdentity {
  SSL_CTX* ctx = nullptr;
  PeerIdentity() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

std::string record_text(int i) { return "record " + std::to_string(i) + ";"; }

// P's side: OpenSSL over memory BIOs, its bytes moved by weft socket calls on P's own socket
// (P is not a TLS stream of weft's: its records are OpenSSL's, byte for byte).
class Peer {
 public:
  Peer(SSL_CTX* ctx, Socket s) : s_(s) {
    ssl_ = SSL_new(ctx);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_accept_state(ssl_);
  }
  ~Peer() { SSL_free(ssl_); }

  bool handshake() {
    for (;;) {
      int r = SSL_do_handshake(ssl_);
      if (!flush()) return false;
      if (r == 1) return true;
      if (SSL_get_error(ssl_, r) != SSL_ERROR_WANT_READ) return false;
      char b[4096];
      auto n = recv(s_, b, sizeof b);
      if (!n.ok() || *n == 0) return false;
      BIO_write(in_, b, static_cast<int>(*n));
    }
  }
  bool send_record(const std::string& text) {
    SSL_write(ssl_, text.data(), static_cast<int>(text.size()));
    return flush();
  }
  bool send_raw(const std::uint8_t* p, std::size_t n, std::size_t piece) {
    for (std::size_t off = 0; off < n; off += piece) {
      if (!send(s_, p + off, std::min(piece, n - off)).ok()) return false;
    }
    return true;
  }

 private:
  bool flush() {
    char b[16384];
    int n;
    while ((n = BIO_read(out_, b, sizeof b)) > 0) {
      if (!send(s_, b, static_cast<std::size_t>(n)).ok()) return false;
    }
    return true;
  }

  Socket s_;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

bool acceptable_failure(const std::error_code& ec) {
  if (ec.category() == tls::category()) return true;
  return ec == wsa::econnreset || ec == wsa::econnaborted;
}

void run(const std::uint8_t* data, std::size_t size, SSL_CTX* peer_ctx, tls::Context& ctx) {
  const bool before = data[0] & 1, reset = data[0] & 2, cancel = data[0] & 4;
  const int records = before ? 0 : data[0] >> 3;
  const std::size_t piece = 1 + std::size_t{data[1]};
  const std::uint8_t* garbage = data + 2;
  const std::size_t garbage_size = size - 2;

  auto l = socket(AF_INET, SOCK_STREAM);
  REQUIRE(l.ok());
  REQUIRE(bind(*l, Address::loopback_v4(0)).ok());
  REQUIRE(listen(*l, 1).ok());
  auto w = socket(AF_INET, SOCK_STREAM);
  REQUIRE(connect(*w, *local_address(*l)).ok());
  auto p = accept(*l);
  REQUIRE(p.ok());
  (void)close(*l);

  auto peer = spawn([&] {
    Peer peer(peer_ctx, *p);
    bool ok = true;
    if (!before) ok = peer.handshake();
    for (int i = 0; ok && i < records; ++i) ok = peer.send_record(record_text(i));
    if (ok) (void)peer.send_raw(garbage, garbage_size, piece);
    if (reset) (void)set_linger(*p, std::chrono::seconds(0));
    (void)close(*p);
  });
  REQUIRE(peer.ok());

  auto st = tls::Stream::client(ctx, *w, "localhost");
  REQUIRE(st.ok());
  std::string expected;
  for (int i = 0; i < records; ++i) expected += record_text(i);
  std::string got;
  FiberId self = this_fiber::id();
  bool cancel_pending = cancel;
  bool in_recvs = true;  // W is in its recvs (a cancel must not reach its close or join)
  if (cancel) {
    (void)spawn([&] {
      // Cancels W's recv once it is blocked (or finds none: WSAEINVAL, nothing happens).
      for (int i = 0; i < 3; ++i) this_fiber::yield();
      if (!in_recvs) {
        cancel_pending = false;
        return;
      }
      Status c = cancel_blocking_call(self);
      REQUIRE(c.ok() || c.error() == wsa::einval, c.error().message());
      if (!c.ok()) cancel_pending = false;
    });
  }
  std::error_code failure;
  for (;;) {
    char b[512];
    auto n = st->recv(b, sizeof b);
    if (n.ok() && *n > 0) {
      got.append(b, *n);
      REQUIRE(got.size() <= expected.size() && expected.compare(0, got.size(), got) == 0,
              "recv delivered bytes P never sent as records");
      continue;
    }
    if (!n.ok() && n.error() == wsa::eintr) {
      REQUIRE(cancel_pending, "WSAEINTR without a cancel");
      cancel_pending = false;
      continue;
    }
    if (n.ok()) violated("a clean end (close_notify) from garbage");
    failure = n.error();
    break;
  }
  in_recvs = false;
  REQUIRE(acceptable_failure(failure), failure.message());
  // The stream keeps failing, and close returns 0.
  char b[8];
  auto again = st->recv(b, sizeof b);
  REQUIRE(!again.ok() && acceptable_failure(again.error()), again.error().message());
  REQUIRE(!st->send("x", 1).ok());
  REQUIRE(st->close().ok());
  (void)join(*peer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static PeerIdentity identity;
  static tls::Context ctx = [] {
    tls::Options o;
    o.verify_peer = false;
    return *tls::Context::client(o);
  }();
  if (size < 2) return 0;
  Runtime rt;
  (void)rt.spawn([&] { run(data, size, identity.ctx, ctx); });
  Status ran = rt.run();
  REQUIRE(ran.ok(), ran.error().message());
  return 0;
}
