// weft::tls::detail — what the TLS files share (tls_context.cpp: errors and contexts;
// tls_bio.cpp: a stream's BIO and its making; tls.cpp: the calls on a stream): the state behind
// a Context and behind a Stream. Not installed.
#pragma once

#include <weft/tls.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace weft::detail {
struct Sock;
}

namespace weft::tls::detail {

struct ContextState {
  SSL_CTX* ctx = nullptr;
  bool server = false;
  std::chrono::milliseconds close_timeout{};
  std::vector<std::string> alpn;  // a server's accepted protocols, in order of preference
  // A client's session cache: the newest resumable session per server (name and address).
  // Sessions arrive on the runtime threads that run the streams, hence the lock.
  std::mutex lock;
  std::unordered_map<std::string, SSL_SESSION*> sessions;

  ~ContextState() {
    for (auto& kv : sessions) SSL_SESSION_free(kv.second);
    SSL_CTX_free(ctx);
  }
};

struct StreamState {
  std::shared_ptr<ContextState> ctx;
  SSL* ssl = nullptr;
  Socket sock = Socket::invalid;
  std::string session_key;   // a client's key into its context's session cache
  bool closed = false;       // close() has ended the stream: its handle is dead
  bool closing = false;      // a close is putting close_notify on the wire
  bool notify_sent = false;  // our close_notify is on the wire (shutdown, close)
  bool peer_closed = false;  // the peer's close_notify has been read
  std::error_code failed;    // a fatal error: every later call but close returns it
  // Plaintext shutdown() read while it waited for the peer's close_notify, for recv.
  std::string tail;
  std::size_t tail_read = 0;
  // Room in the send buffer known without asking (room_for), valid while the socket's
  // SO_SNDBUF has not been set again since.
  std::size_t room = 0;
  std::uint32_t room_changes = 0;
  // A send under way has committed this much of its call (0: nothing, or no send).
  std::size_t write_at_risk = 0;
  // What the BIO saw during the last OpenSSL call.
  int io_errno = 0;
  bool eof = false;

  ~StreamState() { SSL_free(ssl); }
};

// The "weft.tls" error of OpenSSL's error `e`; and of the earliest in OpenSSL's queue now,
// the queue emptied (tls_context.cpp).
std::error_code openssl_error(unsigned long e) noexcept;
std::error_code take_openssl_error() noexcept;

// The record of the stream's socket on this thread's runtime; nullptr once the socket is
// closed, or on a thread that runs no runtime (tls_bio.cpp).
weft::detail::Sock* sock_of(StreamState* st) noexcept;

// OpenSSL's new-session callback of a client context: keeps the session in the context's
// cache under the stream's key (tls_context.cpp).
int keep_client_session(SSL* ssl, SSL_SESSION* session);

}  // namespace weft::tls::detail
