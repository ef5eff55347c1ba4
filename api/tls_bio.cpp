// TLS streams (semantics.md §9): the BIO OpenSSL reads and writes a stream's socket through,
// never blocking (a read or write that would block is a retry for OpenSSL, and a wait for
// tls.cpp), and the making of a stream over a connected socket. The calls on a stream are in
// tls.cpp.
#include <weft/tls.hpp>

#include "park.hpp"
#include "tls_state.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <string>

#include <arpa/inet.h>
#include <sys/socket.h>

namespace weft::tls {

using weft::detail::Sock;
using weft::detail::SockRef;
using weft::detail::SockState;

using detail::ContextState;
using detail::StreamState;

namespace detail {

Sock* sock_of(StreamState* st) noexcept {
  weft::detail::RuntimeImpl* rt = weft::detail::tls_runtime;
  return rt ? rt->sockets().get(st->sock) : nullptr;
}

}  // namespace detail

namespace {

using detail::sock_of;

// --- the BIO: the socket, without blocking ---------------------------------------------------

// The stream of BIO b and its socket, its retry flags cleared; nullptr (the error noted for
// the stream) once the socket is closed or cut off.
Sock* open_sock(BIO* b, StreamState*& st) noexcept {
  st = static_cast<StreamState*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  Sock* s = sock_of(st);
  if (s && s->fd >= 0) return s;
  st->io_errno = s ? ECONNABORTED : ENOTSOCK;
  return nullptr;
}

int bio_read(BIO* b, char* out, int len) {
  StreamState* st;
  Sock* s = open_sock(b, st);
  if (!s) return -1;
  ssize_t n = weft::detail::retry_eintr(
      [&] { return weft::detail::sys_recv(s->fd, out, static_cast<std::size_t>(len), 0); });
  if (n > 0) {
    // Less than OpenSSL asked for: the receive queue is most likely empty now (as a socket
    // recv marks it), and the next recv waits for readiness before it reads.
    s->drained = n < static_cast<ssize_t>(len);
    return static_cast<int>(n);
  }
  if (n == 0) {
    st->eof = true;
    return 0;
  }
  if (errno == EAGAIN) {
    s->drained = true;
    BIO_set_retry_read(b);
    return -1;
  }
  if (errno == ECONNRESET) s->reset_by_peer = true;
  st->io_errno = errno;
  return -1;
}

int bio_write(BIO* b, const char* in, int len) {
  StreamState* st;
  Sock* s = open_sock(b, st);
  if (!s) return -1;
  ssize_t n = weft::detail::retry_eintr([&] {
    return weft::detail::sys_send(s->fd, in, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  });
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN) {
    BIO_set_retry_write(b);
    return -1;
  }
  if (errno == ECONNRESET || errno == EPIPE) s->reset_by_peer = true;
  st->io_errno = errno;
  return -1;
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:  // every write is already the kernel's
    case BIO_CTRL_DUP: return 1;
    default: return 0;
  }
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft socket");
    if (m) {
      BIO_meth_set_read(m, bio_read);
      BIO_meth_set_write(m, bio_write);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, bio_create);
    }
    return m;
  }();
  return method;
}

}  // namespace

namespace {

// A stream of context `cs` over socket s, which must be a connected TCP socket of this
// thread's runtime.
Result<std::unique_ptr<StreamState>> new_stream(const std::shared_ptr<ContextState>& cs,
                                                bool server, Socket s) {
  if (!cs || cs->server != server) return wsa::einval;
  SockRef r;
  if (auto ec = weft::detail::sock_lookup(s, r)) return ec;
  if (auto ec = weft::detail::sock_gate(r.s)) return ec;
  if (r.s->type != SOCK_STREAM || r.s->state != SockState::connected) return wsa::enotconn;
  static BIO_METHOD* method = socket_bio_method();
  if (!method) return wsa::enobufs;
  auto st = std::make_unique<StreamState>();
  st->ctx = cs;
  st->sock = s;
  st->ssl = SSL_new(cs->ctx);
  BIO* bio = st->ssl ? BIO_new(method) : nullptr;
  if (!bio) {
    ERR_clear_error();
    return wsa::enobufs;
  }
  BIO_set_data(bio, st.get());
  SSL_set_bio(st->ssl, bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_app_data(st->ssl, st.get());
  if (server) {
    SSL_set_accept_state(st->ssl);
  } else {
    SSL_set_connect_state(st->ssl);
  }
  return st;
}

bool is_numeric_host(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

Result<Stream> Stream::server(Context& ctx, Socket s) {
  return server(static_cast<const Context&>(ctx), s);
}

Result<Stream> Stream::client(Context& ctx, Socket s, std::string_view server_name) {
  return client(static_cast<const Context&>(ctx), s, server_name);
}

Result<Stream> Stream::server(const Context& ctx, Socket s) {
  auto st = new_stream(ctx.s_, true, s);
  if (!st.ok()) return st.error();
  return Stream(std::move(*st));
}

Result<Stream> Stream::client(const Context& ctx, Socket s, std::string_view server_name) {
  std::string name(server_name);
  if (name.find('\0') != std::string::npos) return wsa::einval;
  const bool verify = ctx.s_ && SSL_CTX_get_verify_mode(ctx.s_->ctx) != SSL_VERIFY_NONE;
  if (verify && name.empty()) return wsa::einval;
  auto made = new_stream(ctx.s_, false, s);
  if (!made.ok()) return made.error();
  std::unique_ptr<StreamState> st = std::move(*made);
  SSL* ssl = st->ssl;
  const bool numeric = is_numeric_host(name);
  if (!name.empty() && !numeric && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    ERR_clear_error();
    return wsa::einval;
  }
  if (verify) {
    int ok = numeric ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())
                     : SSL_set1_host(ssl, name.c_str());
    if (ok != 1) {
      ERR_clear_error();
      return wsa::einval;
    }
  }
  // Resumption: the newest session this context kept for the same name and address (a TLS
  // 1.3 ticket is used once).
  auto peer = weft::peer_address(s);
  st->session_key = name + "|" + (peer.ok() ? peer->to_string() : std::string());
  {
    std::lock_guard<std::mutex> hold(ctx.s_->lock);
    auto it = ctx.s_->sessions.find(st->session_key);
    if (it != ctx.s_->sessions.end()) {
      SSL_set_session(ssl, it->second);
      SSL_SESSION_free(it->second);
      ctx.s_->sessions.erase(it);
    }
  }
  return Stream(std::move(st));
}

}  // namespace weft::tls
