// TLS contexts and errors (semantics.md §7, §9): OpenSSL's SSL_CTX behind tls::Context —
// certificates, verification, ALPN, the client's session cache — and the "weft.tls" category.
#include <weft/tls.hpp>

#include "log.hpp"
#include "tls_state.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <mutex>

namespace weft::tls {

namespace {

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.tls"; }
  std::string message(int v) const override {
    if (v < 0) {
      return std::string("certificate verify failed: ") + X509_verify_cert_error_string(-v);
    }
    auto e = static_cast<unsigned long>(v);
    if (ERR_GET_LIB(e) == ERR_LIB_SYS) return std::strerror(ERR_GET_REASON(e));
    const char* reason = ERR_reason_error_string(e);
    const char* lib = ERR_lib_error_string(e);
    std::string out = reason ? reason : "TLS error " + std::to_string(ERR_GET_REASON(e));
    if (lib) out += std::string(" (") + lib + ")";
    return out;
  }
};

const TlsCategory tls_category_instance;

}  // namespace

const std::error_category& category() noexcept { return tls_category_instance; }

namespace detail {

// The error of OpenSSL's error `e` (its queue's earliest): a system error keeps its errno.
std::error_code openssl_error(unsigned long e) noexcept {
  if (e == 0) return {static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, ERR_R_INTERNAL_ERROR)), category()};
  if (ERR_SYSTEM_ERROR(e)) {
    return {static_cast<int>(ERR_PACK(ERR_LIB_SYS, 0, ERR_GET_REASON(e))), category()};
  }
  return {static_cast<int>(ERR_PACK(ERR_GET_LIB(e), 0, ERR_GET_REASON(e))), category()};
}

// The error OpenSSL's queue holds now (its earliest entry); the queue is emptied.
std::error_code take_openssl_error() noexcept {
  std::error_code ec = openssl_error(ERR_get_error());
  ERR_clear_error();
  return ec;
}

constexpr std::size_t kSessionCacheSize = 1024;

int keep_client_session(SSL* ssl, SSL_SESSION* session) {
  auto* st = static_cast<StreamState*>(SSL_get_app_data(ssl));
  if (!st || st->session_key.empty() || !SSL_SESSION_is_resumable(session)) return 0;
  std::lock_guard<std::mutex> hold(st->ctx->lock);
  auto& cache = st->ctx->sessions;
  try {
    // Bounded: past kSessionCacheSize servers, the cache starts again (expired sessions and
    // servers never seen again would otherwise stay for the context's life).
    if (cache.size() >= kSessionCacheSize && cache.find(st->session_key) == cache.end()) {
      for (auto& kv : cache) SSL_SESSION_free(kv.second);
      cache.clear();
    }
    SSL_SESSION*& slot = cache[st->session_key];
    if (slot) SSL_SESSION_free(slot);
    slot = session;
  } catch (...) {  // out of memory: no resumption, and no exception through OpenSSL's frames
    return 0;
  }
  return 1;  // the cache keeps the reference OpenSSL handed over
}

}  // namespace detail

namespace {

using detail::ContextState;
using detail::StreamState;

// ALPN's wire form: each protocol preceded by its length. Empty on a bad protocol name.
std::string alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255) return {};
    wire += static_cast<char>(p.size());
    wire += p;
  }
  return wire;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  auto* cs = static_cast<ContextState*>(arg);
  for (const auto& mine : cs->alpn) {  // the server's order of preference decides
    for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
      unsigned int n = in[i];
      if (i + 1 + n > inlen) break;
      if (n == mine.size() && std::memcmp(in + i + 1, mine.data(), n) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(n);
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // no protocol in common: no_application_protocol
}

// The error of a file OpenSSL could not use, logged with the file's name.
std::error_code file_error(const char* what, const std::string& file) {
  std::error_code ec = detail::take_openssl_error();
  weft::detail::log_info("tls: cannot use {} {}: {}", what, file, ec.message());
  return ec;
}

Result<std::shared_ptr<ContextState>> make_context(const Options& o, bool server) {
  OPENSSL_init_ssl(0, nullptr);
  ERR_clear_error();
  if (o.close_timeout.count() < 0) return wsa::einval;
  std::string wire = alpn_wire(o.alpn);
  if (!o.alpn.empty() && wire.empty()) return wsa::einval;
  auto cs = std::make_shared<ContextState>();
  cs->server = server;
  cs->close_timeout = o.close_timeout;
  cs->alpn = o.alpn;
  cs->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!cs->ctx) return wsa::enobufs;
  SSL_CTX* ctx = cs->ctx;
  SSL_CTX_set_app_data(ctx, cs.get());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // No TLS 1.2 renegotiation: it would make a recv write and a send read, which the rows of
  // semantics §9 (and a reader and a writer sharing the stream) rule out.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // One record per SSL_write (see the top of this file), and the rest of a record retried from
  // wherever the caller's buffer is.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read what the socket holds in one recv, not a record's header and then its body.
  SSL_CTX_set_read_ahead(ctx, 1);

  if (!o.certificate_chain_file.empty() || !o.private_key_file.empty()) {
    if (o.certificate_chain_file.empty() || o.private_key_file.empty()) return wsa::einval;
    // An error code cannot carry a file's name: the log says which file failed.
    if (SSL_CTX_use_certificate_chain_file(ctx, o.certificate_chain_file.c_str()) != 1) {
      return file_error("certificate chain", o.certificate_chain_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o.private_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return file_error("private key", o.private_key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return file_error("private key (for the certificate)", o.private_key_file);
    }
  } else if (server) {
    return wsa::einval;
  }
  if (!o.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1) {
      return file_error("CA file", o.ca_file);
    }
  } else if (!server && o.verify_peer && SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return detail::take_openssl_error();
  }
  if (server) {
    static const unsigned char kSessionContext[] = "weft";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    if (!o.ca_file.empty() && o.verify_peer) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    if (!o.alpn.empty()) SSL_CTX_set_alpn_select_cb(ctx, select_alpn, cs.get());
  } else {
    SSL_CTX_set_verify(ctx, o.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    if (!o.alpn.empty() &&
        SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned int>(wire.size())) != 0) {
      return wsa::einval;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, detail::keep_client_session);
  }
  return cs;
}

}  // namespace

Result<Context> Context::server(const Options& o) {
  auto cs = make_context(o, true);
  if (!cs.ok()) return cs.error();
  return Context(std::move(*cs));
}

Result<Context> Context::client(const Options& o) {
  auto cs = make_context(o, false);
  if (!cs.ok()) return cs.error();
  return Context(std::move(*cs));
}

bool Context::is_server() const noexcept { return s_ && s_->server; }

}  // namespace weft::tls
