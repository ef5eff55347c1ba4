// weft benchmarks — the TLS figures' pieces (figures_tls.cpp): a certificate made at run time,
// the TLS echo servers (weft, the plain-OpenSSL floor, Asio, Go, tokio-openssl) and the one
// TLS client every server is driven by.
#pragma once

#include "peers.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

namespace weft::bench {

// A self-signed ECDSA P-256 certificate for "localhost" and 127.0.0.1, made in this process
// (no private key is ever part of the repository), written as PEM into a directory of its own
// under the temporary directory, which is removed with this object. P-256 so that a handshake
// costs what it costs with a common modern certificate, not an RSA signature.
class TlsCertificate {
 public:
  TlsCertificate();
  ~TlsCertificate();
  TlsCertificate(const TlsCertificate&) = delete;
  TlsCertificate& operator=(const TlsCertificate&) = delete;
  const std::string& certificate_file() const { return cert_; }
  const std::string& private_key_file() const { return key_; }

 private:
  std::string dir_, cert_, key_;
};

// A server thread's CPU-time clock, and a clock's reading in ns (-1 if it cannot be read): a
// server's EchoServer::cpu_ns().
clockid_t thread_cpu_clock(std::thread& t);
std::int64_t cpu_clock_ns(clockid_t clock);

// A TLS echo server on a loopback port: per connection, a full handshake, then records echoed
// (what one read returns, written back whole) until the peer's close_notify, answered by its
// own before the connection is closed. So one server serves both figures: tls_echo's
// ping-pong and tls_handshake's connect, handshake, close. cpu_ns() counts all its threads.
//
// weft: one fiber per connection on one runtime (tls::Stream: handshake, recv, send, close).
std::unique_ptr<EchoServer> weft_tls_echo_server(const TlsCertificate& cert);
// The floor: plain OpenSSL on one thread, no runtime at all — non-blocking sockets in one
// level-triggered epoll set, SSL_set_fd, SSL_read and SSL_write, with SSL_ERROR_WANT_READ and
// WANT_WRITE turned into the descriptor's epoll interest.
std::unique_ptr<EchoServer> floor_tls_echo_server(const TlsCertificate& cert);
// Boost.Asio 1.81: asio::ssl::stream over a tcp::socket, one asio::spawn coroutine per
// connection, on one thread (peers_asio_tls.cpp).
std::unique_ptr<EchoServer> asio_tls_echo_server(const TlsCertificate& cert);
// Go: weft-bench-go serve-tls-echo, crypto/tls, a goroutine per connection (GOMAXPROCS=1).
std::unique_ptr<EchoServer> go_tls_echo_server(const TlsCertificate& cert);
// tokio-openssl: weft-bench-tokio-tls serve-tls-echo, a task per connection on a
// current_thread runtime.
bool tokio_tls_available();
std::string tokio_tls_version();
std::string tokio_tls_skip_note();
std::unique_ptr<EchoServer> tokio_tls_echo_server(const TlsCertificate& cert);
// A server by its contender name (weft, floor, asio, go, tokio); null for another name or a
// peer that was not built.
std::unique_ptr<EchoServer> tls_echo_server(const std::string& name, const TlsCertificate& cert);

// The one TLS client (TLS 1.3 only, X25519, no verification of the certificate — the
// CertificateVerify signature is still checked, as the protocol requires), on the calling
// thread, with non-blocking sockets and poll(2).
//
// tls_echo: `connections` connections, connected and handshaken when it is made (not timed),
// then run() ping-pongs `size`-byte messages on all of them at once, `rounds` exchanges each;
// returns the round-trip latencies (ns), and the throughput in `*per_second`.
class TlsEchoClient {
 public:
  TlsEchoClient(std::uint16_t port, std::size_t connections, std::size_t size);
  ~TlsEchoClient();
  TlsEchoClient(const TlsEchoClient&) = delete;
  TlsEchoClient& operator=(const TlsEchoClient&) = delete;
  std::vector<double> run(std::size_t rounds, double* per_second);

 private:
  struct Conn;
  std::vector<Conn> conns_;
  std::size_t size_;
};

// tls_handshake: `handshakes` connections, `in_flight` at a time, each a fresh TCP connection
// and a full handshake (never a resumed one), then this side's close_notify, then the server's
// close_notify or the end of the stream awaited, then the close. Returns handshakes per
// second from the first connect to the last close.
double tls_handshake_client(std::uint16_t port, std::size_t handshakes, std::size_t in_flight);

// --serve-tls-echo NAME: one TLS echo server, alone in this process with a certificate of its
// own, until standard input closes; its port is the first line of standard output. For
// counting its instructions under cachegrind (benchmarks/instructions.py).
int serve_tls_echo(const std::string& name);

}  // namespace weft::bench
