// The Boost.Asio 1.81 TLS peer: asio::ssl::stream on the same OpenSSL as weft, one
// asio::spawn coroutine per connection (Asio's shape closest to a fiber), doing what weft's
// TLS echo server does: the handshake, records echoed until the peer's close_notify, then its
// own close_notify. Apart from the other Asio peers, so that only this file compiles Asio's
// SSL headers.
#include "peers_tls.hpp"

#include <boost/asio.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/asio/ssl.hpp>

#include <thread>

namespace weft::bench {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

void asio_tls_session(tcp::socket s, ssl::context& ctx, asio::yield_context y) {
  ssl::stream<tcp::socket> st(std::move(s), ctx);
  error_code ec;
  st.async_handshake(ssl::stream_base::server, y[ec]);
  if (ec) return;
  char buf[8192];
  for (;;) {
    std::size_t n = st.async_read_some(asio::buffer(buf), y[ec]);
    if (ec) break;
    asio::async_write(st, asio::buffer(buf, n), y[ec]);
    if (ec) return;
  }
  // asio::error::eof is the peer's close_notify: answer it before the socket closes.
  if (ec == asio::error::eof) st.async_shutdown(y[ec]);
}

class AsioTlsEchoServer final : public EchoServer {
 public:
  explicit AsioTlsEchoServer(const TlsCertificate& cert)
      : ctx_(ssl::context::tls_server),
        ioc_(1),
        acceptor_(ioc_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    ctx_.use_certificate_chain_file(cert.certificate_file());
    ctx_.use_private_key_file(cert.private_key_file(), ssl::context::pem);
    port_ = acceptor_.local_endpoint().port();
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
                [this, s = std::move(s)](asio::yield_context y2) mutable {
                  asio_tls_session(std::move(s), ctx_, y2);
                },
                asio::detached);
          }
        },
        asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
    clock_ = thread_cpu_clock(thread_);
  }
  ~AsioTlsEchoServer() override {
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const override { return port_; }
  std::int64_t cpu_ns() const override { return cpu_clock_ns(clock_); }

 private:
  // Declared before the io_context, so destroyed after it, and after the streams that its
  // unfinished coroutines hold.
  ssl::context ctx_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  clockid_t clock_{};
};

}  // namespace

std::unique_ptr<EchoServer> asio_tls_echo_server(const TlsCertificate& cert) {
  return std::make_unique<AsioTlsEchoServer>(cert);
}

}  // namespace weft::bench
