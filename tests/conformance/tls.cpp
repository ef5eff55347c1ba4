// What each TLS call returns and a cancel leaves behind (semantics.md §9), one test per row,
// on real loopback sockets, against peers that are not weft: Python's ssl module
// (tls_peer.py, which decides byte by byte what goes on the wire) and `openssl s_client`.
#include "../support/tls.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using test::PyTlsPeer;
using test::run_in_fiber;
using test::TestCerts;
using test::tls_pattern;

class Tls : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(TestCerts::get().dir.empty()) << "openssl req failed"; }
};

tls::Context client_context(std::vector<std::string> alpn = {}) {
  tls::Options o;
  o.ca_file = TestCerts::get().ca;
  o.alpn = std::move(alpn);
  o.close_timeout = 500ms;
  auto c = tls::Context::client(o);
  EXPECT_TRUE(c.ok()) << c.error().message();
  return *c;
}

tls::Context server_context(std::vector<std::string> alpn = {}) {
  tls::Options o;
  o.certificate_chain_file = TestCerts::get().cert;
  o.private_key_file = TestCerts::get().key;
  o.alpn = std::move(alpn);
  auto c = tls::Context::server(o);
  EXPECT_TRUE(c.ok()) << c.error().message();
  return *c;
}

// A weft client stream connected (TCP only; no handshake yet) to the Python server's port.
tls::Stream connect_stream(tls::Context& ctx, std::uint16_t port,
                           std::string_view name = "localhost") {
  auto s = socket(AF_INET, SOCK_STREAM);
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(connect(*s, Address::loopback_v4(port)).ok());
  auto st = tls::Stream::client(ctx, *s, name);
  EXPECT_TRUE(st.ok()) << st.error().message();
  return std::move(*st);
}

// A stream whose handshake with the Python server is done.
tls::Stream handshaken(tls::Context& ctx, PyTlsPeer& peer) {
  tls::Stream st = connect_stream(ctx, peer.port());
  peer.post("handshake");
  EXPECT_TRUE(st.handshake().ok());
  EXPECT_EQ(peer.reply().rfind("ok TLSv1.3", 0), 0u);
  return st;
}

// Waits until the stream's socket has nothing left to read: a fiber blocked on the stream has
// taken what arrived (into OpenSSL's buffer) and waits for more.
void wait_drained(Socket s) {
  for (int i = 0; i < 5000; ++i) {
    PollEntry e{s, kPollIn, 0};
    auto n = poll({&e, 1}, 0ms);
    if (n.ok() && *n == 0) return;
    (void)this_fiber::sleep_for(1ms);
  }
  ADD_FAILURE() << "the blocked call never read what arrived";
}

// Runs `call` in a fiber of its own and cancels it once it is blocked — after `meanwhile`,
// which runs first (a peer's step the call waits through); returns what the call returned.
template <class F, class G = void (*)()>
auto cancelled_while_blocked(
    F call, G meanwhile = [] {}) -> decltype(call()) {
  std::optional<decltype(call())> result;
  auto f = spawn([&] { result.emplace(call()); });
  this_fiber::yield();  // it blocks
  meanwhile();
  EXPECT_TRUE(cancel_blocking_call(*f).ok());
  EXPECT_TRUE(join(*f).ok());
  return result.value_or(wsa::einval);
}

// Receives exactly n bytes of plaintext.
std::string recv_n(tls::Stream& st, std::size_t n) {
  std::string out;
  std::string buf(65536, '\0');
  while (out.size() < n) {
    auto r = st.recv(buf.data(), std::min(buf.size(), n - out.size()));
    if (!r.ok() || *r == 0) break;
    out.append(buf.data(), *r);
  }
  return out;
}

// A small receive buffer on the Python side, so that a connection fills after little data;
// a medium one where whole 16 KiB records must reach it before the connection fills.
const std::vector<std::string> kSmallWindow = {"--rcvbuf", "8192"};
const std::vector<std::string> kRecordsWindow = {"--rcvbuf", "65536"};

TEST_F(Tls, AClientExchangesDataAndClosesWithCloseNotify) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server({"--alpn", "h2,http/1.1"});
    tls::Context ctx = client_context({"http/1.1"});
    tls::Stream st = handshaken(ctx, peer);
    EXPECT_EQ(st.alpn_selected(), "http/1.1");
    EXPECT_EQ(st.version(), "TLSv1.3");
    std::string out = tls_pattern(0, 200000);
    peer.post("recv 200000");
    ASSERT_TRUE(st.send(out.data(), out.size()).ok());
    EXPECT_EQ(peer.reply(), "ok");
    peer.post("send 70000");
    EXPECT_EQ(recv_n(st, 70000), tls_pattern(0, 70000));
    EXPECT_EQ(peer.reply(), "ok");
    ASSERT_TRUE(st.close().ok());
    EXPECT_EQ(peer.cmd("read_to_end"), "ok close_notify 0 1");
    char b;
    EXPECT_EQ(st.recv(&b, 1).error(), wsa::enotsock);
    EXPECT_EQ(st.close().error(), wsa::enotsock);
  });
}

TEST_F(Tls, APeersCloseNotifyIsACleanEndOfStream) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    EXPECT_EQ(peer.cmd("send 10"), "ok");
    EXPECT_EQ(peer.cmd("close_notify"), "ok");
    EXPECT_EQ(recv_n(st, 10), tls_pattern(0, 10));
    char b[8];
    EXPECT_EQ(st.recv(b, sizeof b).value_or(99), 0u);
    EXPECT_EQ(st.recv(b, sizeof b).value_or(99), 0u);
    EXPECT_TRUE(st.close().ok());
  });
}

TEST_F(Tls, ATcpEndWithoutCloseNotifyIsATruncation) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    EXPECT_EQ(peer.cmd("send 10"), "ok");
    EXPECT_EQ(peer.cmd("fin"), "ok");
    EXPECT_EQ(recv_n(st, 10), tls_pattern(0, 10));
    char b[8];
    EXPECT_EQ(st.recv(b, sizeof b).error(), wsa::econnreset);
    EXPECT_EQ(st.recv(b, sizeof b).error(), wsa::econnreset);  // and it stays so
    EXPECT_TRUE(st.close().ok());
  });
}

// §9 row 1: a cancelled handshake resumes when called again, with half of the server's
// flight already received.
TEST_F(Tls, ACancelledHandshakeResumesWhereItStopped) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = connect_stream(ctx, peer.port());
    Status first =
        cancelled_while_blocked([&] { return st.handshake(); },
                                [&] {
                                  EXPECT_EQ(peer.cmd("hold_flight").rfind("ok held", 0), 0u);
                                  wait_drained(st.socket());  // half the flight in
                                });
    EXPECT_EQ(first.error(), wsa::eintr);
    EXPECT_FALSE(st.handshake_done());
    peer.post("release");
    ASSERT_TRUE(st.handshake().ok());
    EXPECT_EQ(peer.reply(), "ok");
    EXPECT_TRUE(st.handshake_done());
    peer.post("recv 5000");
    std::string out = tls_pattern(0, 5000);
    ASSERT_TRUE(st.send(out.data(), out.size()).ok());
    EXPECT_EQ(peer.reply(), "ok");
    EXPECT_TRUE(st.close().ok());
  });
}

// §9 row 2: a cancelled recv consumes no plaintext, even with a record half received.
TEST_F(Tls, ACancelledRecvKeepsAHalfReceivedRecord) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    char b[64];
    Result<std::size_t> got =
        cancelled_while_blocked([&] { return st.recv(b, sizeof b); },
                                [&] {
                                  EXPECT_EQ(peer.cmd("send_cut 3000").rfind("ok held", 0), 0u);
                                  wait_drained(st.socket());
                                });
    EXPECT_EQ(got.error(), wsa::eintr);
    EXPECT_EQ(peer.cmd("release"), "ok");
    EXPECT_EQ(recv_n(st, 3000), tls_pattern(0, 3000));  // whole, in order
    EXPECT_TRUE(st.close().ok());
  });
}

// §9 row 3: a send cancelled while it waits for room, nothing of it committed.
TEST_F(Tls, ASendCancelledBeforeItCommittedLeavesTheStreamUnchanged) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server(kSmallWindow);
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    std::size_t queued = test::fill_tls(st);
    ASSERT_GT(queued, 0u);
    std::string tail = tls_pattern(queued, 100);
    Status sent = cancelled_while_blocked([&] { return st.send(tail.data(), tail.size()); });
    EXPECT_EQ(sent.error(), wsa::eintr);  // it was waiting for room
    // Unchanged: the peer reads what was queued, then what comes next, in order.
    peer.post("recv " + std::to_string(queued + 100));
    std::string next = tls_pattern(queued, 100);
    ASSERT_TRUE(st.send(next.data(), next.size()).ok());
    EXPECT_EQ(peer.reply(), "ok");
    // And send_some, cancelled the same way, leaves it unchanged too.
    const std::size_t base = queued + 100;
    const std::size_t more = test::fill_tls(st, base);
    Result<std::size_t> some = cancelled_while_blocked([&] { return st.send_some("x", 1); });
    EXPECT_EQ(some.error(), wsa::eintr);
    peer.post("recv " + std::to_string(more + 50));
    std::string last = tls_pattern(base + more, 50);
    ASSERT_TRUE(st.send(last.data(), last.size()).ok());
    EXPECT_EQ(peer.reply(), "ok");
    EXPECT_TRUE(st.close().ok());
  });
}

// §9 row 4: a send cancelled after records of its own went out resets; the peer reads every
// whole record before the cut, then the reset.
TEST_F(Tls, ASendCancelledAfterItCommittedResetsAndThePeerReadsWholeRecords) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server(kRecordsWindow);
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    std::string big = tls_pattern(0, 4 << 20);
    Status sent = cancelled_while_blocked([&] { return st.send(big.data(), big.size()); });
    EXPECT_EQ(sent.error(), wsa::eintr);  // part went out, then it waited
    std::string end = peer.cmd("read_to_end");
    ASSERT_EQ(end.rfind("ok reset ", 0), 0u) << end;
    EXPECT_EQ(end.substr(end.size() - 2), " 1") << end;  // a prefix of what was sent
    EXPECT_NE(end, "ok reset 0 1");
    char b[4];
    EXPECT_EQ(st.recv(b, 4).error(), wsa::econnaborted);
    EXPECT_EQ(st.send(b, 4).error(), wsa::econnaborted);
    EXPECT_EQ(st.shutdown().error(), wsa::econnaborted);
    EXPECT_TRUE(st.close().ok());
  });
}

// send_some returns the plaintext of whole records on the wire.
TEST_F(Tls, SendSomeReportsWhatWentOut) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    std::string big = tls_pattern(0, 1 << 20);
    auto n = st.send_some(big.data(), big.size());
    ASSERT_TRUE(n.ok());
    EXPECT_GT(*n, 0u);
    EXPECT_LE(*n, big.size());
    EXPECT_EQ(peer.cmd("recv " + std::to_string(*n)), "ok");
    EXPECT_TRUE(st.close().ok());
  });
}

// §9 row 5: shutdown sends close_notify and waits for the peer's; cancelled, it resets.
TEST_F(Tls, ACancelledShutdownResets) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    Status done = cancelled_while_blocked([&] { return st.shutdown(); });
    EXPECT_EQ(done.error(), wsa::eintr);
    EXPECT_EQ(peer.cmd("read_to_end"), "ok close_notify 0 1");  // sent before the wait
    EXPECT_EQ(peer.cmd("send 10").rfind("error", 0), 0u);       // then reset
    char b[4];
    EXPECT_EQ(st.recv(b, 4).error(), wsa::econnaborted);
    EXPECT_TRUE(st.close().ok());
  });
}

TEST_F(Tls, ShutdownKeepsWhatThePeerSentBeforeItsCloseNotify) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    Status done = wsa::einval;
    auto s = spawn([&] { done = st.shutdown(); });
    EXPECT_EQ(peer.cmd("send 1000"), "ok");
    EXPECT_EQ(peer.cmd("close_notify"), "ok");
    ASSERT_TRUE(join(*s).ok());
    EXPECT_TRUE(done.ok()) << done.error().message();
    EXPECT_EQ(recv_n(st, 1000), tls_pattern(0, 1000));
    char b[4];
    EXPECT_EQ(st.recv(b, 4).value_or(99), 0u);
    EXPECT_EQ(st.send(b, 4).error(), wsa::eshutdown);
    EXPECT_TRUE(st.close().ok());
  });
}

TEST_F(Tls, AnUnknownAuthorityFailsWithItsReason) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Options o;
    o.ca_file = TestCerts::get().other_ca;
    auto ctx = tls::Context::client(o);
    ASSERT_TRUE(ctx.ok());
    tls::Stream st = connect_stream(*ctx, peer.port());
    peer.post("handshake");
    Status h = st.handshake();
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error().category(), tls::category());
    EXPECT_NE(h.error().message().find("certificate verify failed"), std::string::npos)
        << h.error().message();
    EXPECT_EQ(peer.reply().rfind("error tls", 0), 0u);  // it was told, by an alert
    char b[4];
    EXPECT_EQ(st.recv(b, 4).error(), h.error());  // every later call but close
    EXPECT_TRUE(st.close().ok());
  });
}

TEST_F(Tls, ANameMismatchFailsWithItsReason) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = connect_stream(ctx, peer.port(), "wrong.example");
    peer.post("handshake");
    Status h = st.handshake();
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error().category(), tls::category());
    EXPECT_NE(h.error().message().find("hostname mismatch"), std::string::npos)
        << h.error().message();
    (void)peer.reply();
    EXPECT_TRUE(st.close().ok());
  });
}

// close puts close_notify on the wire within its bound: with no room for it (the peer does
// not read), it resets when the bound passes; the peer reads an intact prefix, then the reset.
TEST_F(Tls, CloseResetsWhenCloseNotifyFindsNoRoomWithinItsBound) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server(kSmallWindow);
    tls::Context ctx = client_context();  // close_timeout 500 ms
    tls::Stream st = handshaken(ctx, peer);
    std::size_t queued = test::fill_tls(st);
    ASSERT_GT(queued, 0u);
    EXPECT_TRUE(st.close().ok());
    std::string end = peer.cmd("read_to_end");
    ASSERT_EQ(end.rfind("ok reset ", 0), 0u) << end;
    EXPECT_EQ(end.substr(end.size() - 2), " 1") << end;
  });
}

// A close that cuts another fiber's send short (a record partly on the wire) resets.
TEST_F(Tls, ACloseThatCutsASendResets) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server(kRecordsWindow);
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    std::string big = tls_pattern(0, 4 << 20);
    Status sent = wsa::einval;
    auto s = spawn([&] { sent = st.send(big.data(), big.size()); });
    this_fiber::yield();
    EXPECT_TRUE(st.close().ok());
    ASSERT_TRUE(join(*s).ok());
    EXPECT_EQ(sent.error(), wsa::eintr);
    std::string end = peer.cmd("read_to_end");
    ASSERT_EQ(end.rfind("ok reset ", 0), 0u) << end;
    EXPECT_EQ(end.substr(end.size() - 2), " 1") << end;
  });
}

TEST_F(Tls, LingerZeroResetsWithoutCloseNotify) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    ASSERT_TRUE(set_linger(st.socket(), 0s).ok());
    EXPECT_TRUE(st.close().ok());
    EXPECT_EQ(peer.cmd("read_to_end"), "ok reset 0 1");
  });
}

// Portable mode: every cancelled TLS call resets the stream, a handshake's too.
TEST_F(Tls, PortableModeResetsAfterACancelledRecv) {
  RuntimeOptions options;
  options.portable_mode = true;
  run_in_fiber(
      [] {
        PyTlsPeer peer = PyTlsPeer::server();
        tls::Context ctx = client_context();
        tls::Stream st = handshaken(ctx, peer);
        char b8[8];
        Result<std::size_t> got = cancelled_while_blocked([&] { return st.recv(b8, sizeof b8); });
        EXPECT_EQ(got.error(), wsa::eintr);
        EXPECT_EQ(peer.cmd("read_to_end"), "ok reset 0 1");
        char b[4];
        EXPECT_EQ(st.recv(b, 4).error(), wsa::econnaborted);
        EXPECT_TRUE(st.close().ok());
      },
      options);
}

TEST_F(Tls, PortableModeResetsAfterACancelledHandshake) {
  RuntimeOptions options;
  options.portable_mode = true;
  run_in_fiber(
      [] {
        PyTlsPeer peer = PyTlsPeer::server();
        tls::Context ctx = client_context();
        tls::Stream st = connect_stream(ctx, peer.port());
        Status h = cancelled_while_blocked(
            [&] { return st.handshake(); },
            [&] { EXPECT_EQ(peer.cmd("hold_flight").rfind("ok held", 0), 0u); });
        EXPECT_EQ(h.error(), wsa::eintr);
        EXPECT_EQ(st.handshake().error(), wsa::econnaborted);
        EXPECT_TRUE(st.close().ok());
      },
      options);
}

// A token's deadline ends a recv with WSAETIMEDOUT and leaves the stream as a cancel does.
TEST_F(Tls, ADeadlineEndsARecvAndTheStreamGoesOn) {
  run_in_fiber([] {
    PyTlsPeer peer = PyTlsPeer::server();
    tls::Context ctx = client_context();
    tls::Stream st = handshaken(ctx, peer);
    CancelSource src(std::chrono::steady_clock::now() + 20ms);
    char b[16];
    EXPECT_EQ(st.recv(b, sizeof b, src.token()).error(), wsa::etimedout);
    EXPECT_EQ(peer.cmd("send 16"), "ok");
    EXPECT_EQ(recv_n(st, 16), tls_pattern(0, 16));
    EXPECT_TRUE(st.close().ok());
  });
}

TEST_F(Tls, StopEndsBlockedCallsWithWsaenetdown) {
  Runtime rt;
  Result<std::size_t> got = wsa::einval;
  std::unique_ptr<PyTlsPeer> peer;
  std::optional<tls::Context> ctx;
  tls::Stream st;  // outlives the reader (a join at stop returns at once, WSAENETDOWN)
  (void)rt.spawn([&] {
    peer = std::make_unique<PyTlsPeer>(PyTlsPeer::server());
    ctx = client_context();
    st = handshaken(*ctx, *peer);
    auto r = spawn([&] {
      char b[8];
      got = st.recv(b, sizeof b);
    });
    this_fiber::yield();
    Runtime::current()->stop();
    EXPECT_EQ(join(*r).error(), wsa::enetdown);
    EXPECT_TRUE(st.close().ok());
  });
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(got.error(), wsa::enetdown);
  EXPECT_EQ(rt.stats().sockets_open, 0u);
}

// A weft server and `openssl s_client`, which checks the certificate against the test
// authority and negotiates ALPN.
TEST_F(Tls, AServerAnswersOpensslSClient) {
  run_in_fiber([] {
    tls::Context ctx = server_context({"weft-test"});
    auto l = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(*l, 4).ok());
    auto port = local_address(*l)->port();
    test::Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                        "-CAfile", TestCerts::get().ca, "-verify_return_error", "-verify_hostname",
                        "localhost", "-alpn", "weft-test", "-quiet"});
    ASSERT_TRUE(client.started());
    auto a = accept(*l);
    ASSERT_TRUE(a.ok());
    auto st = tls::Stream::server(ctx, *a);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(st->handshake().ok());
    EXPECT_EQ(st->alpn_selected(), "weft-test");
    client.write("hello from s_client\n");
    std::string line;
    char b[64];
    while (line.find('\n') == std::string::npos) {
      auto n = st->recv(b, sizeof b);
      ASSERT_TRUE(n.ok() && *n > 0);
      line.append(b, *n);
    }
    EXPECT_EQ(line, "hello from s_client\n");
    std::string answer = "hello from weft\n";
    ASSERT_TRUE(st->send(answer.data(), answer.size()).ok());
    EXPECT_EQ(client.line(), "hello from weft");
    EXPECT_TRUE(st->close().ok());
    EXPECT_TRUE(close(*l).ok());
  });
}

// A weft server and a weft client of one runtime, for what is not a cancel row: resumption,
// client certificates, ALPN. `serve` runs on each accepted stream after its handshake.
struct Pair {
  Socket listener = Socket::invalid;
  std::uint16_t port = 0;
  Pair() {
    listener = *socket(AF_INET, SOCK_STREAM);
    EXPECT_TRUE(bind(listener, Address::loopback_v4(0)).ok());
    EXPECT_TRUE(listen(listener, 8).ok());
    port = local_address(listener)->port();
  }
  ~Pair() { (void)close(listener); }
  // One connection: the server's handshake result comes back through `server_result`.
  FiberId serve_one(tls::Context& ctx, Status& server_result) {
    return *spawn([this, &ctx, &server_result] {
      auto a = accept(listener);
      ASSERT_TRUE(a.ok());
      auto st = tls::Stream::server(ctx, *a);
      ASSERT_TRUE(st.ok());
      server_result = st->handshake();
      if (!server_result.ok()) return;
      (void)st->send("x", 1);
      char b[8];
      (void)st->recv(b, sizeof b);  // until the client's close_notify
      (void)st->close();
    });
  }
};

TEST_F(Tls, AClientResumesItsSessionWithTheSameServer) {
  run_in_fiber([] {
    tls::Context server = server_context();
    tls::Context client = client_context();
    Pair pair;
    for (int i = 0; i < 2; ++i) {
      Status served = wsa::einval;
      FiberId f = pair.serve_one(server, served);
      tls::Stream st = connect_stream(client, pair.port);
      ASSERT_TRUE(st.handshake().ok());
      EXPECT_EQ(st.resumed(), i == 1) << "connection " << i;
      char b;
      EXPECT_EQ(st.recv(&b, 1).value_or(0), 1u);  // the session tickets came before it
      EXPECT_TRUE(st.close().ok());
      ASSERT_TRUE(join(f).ok());
      EXPECT_TRUE(served.ok()) << served.error().message();
    }
  });
}

TEST_F(Tls, AServerWithACaFileRequiresAClientCertificateItVerifies) {
  run_in_fiber([] {
    tls::Options so;
    so.certificate_chain_file = TestCerts::get().cert;
    so.private_key_file = TestCerts::get().key;
    so.ca_file = TestCerts::get().ca;
    auto server = tls::Context::server(so);
    ASSERT_TRUE(server.ok());
    Pair pair;
    {  // No certificate: the server refuses, the client learns it from the alert.
      tls::Context anonymous = client_context();
      Status served = wsa::einval;
      FiberId f = pair.serve_one(*server, served);
      tls::Stream st = connect_stream(anonymous, pair.port);
      Status h = st.handshake();
      char b;
      Result<std::size_t> r = h.ok() ? st.recv(&b, 1) : Result<std::size_t>(h.error());
      ASSERT_FALSE(r.ok());  // TLS 1.3: the client's handshake ends first, the alert follows
      EXPECT_EQ(r.error().category(), tls::category()) << r.error().message();
      ASSERT_TRUE(join(f).ok());
      ASSERT_FALSE(served.ok());
      EXPECT_EQ(served.error().category(), tls::category());
      EXPECT_TRUE(st.close().ok());
    }
    {  // A certificate the authority signed: accepted.
      tls::Options co;
      co.ca_file = TestCerts::get().ca;
      co.certificate_chain_file = TestCerts::get().cert;
      co.private_key_file = TestCerts::get().key;
      auto client = tls::Context::client(co);
      ASSERT_TRUE(client.ok());
      Status served = wsa::einval;
      FiberId f = pair.serve_one(*server, served);
      tls::Stream st = connect_stream(*client, pair.port);
      ASSERT_TRUE(st.handshake().ok());
      char b;
      EXPECT_EQ(st.recv(&b, 1).value_or(0), 1u);
      EXPECT_TRUE(st.close().ok());
      ASSERT_TRUE(join(f).ok());
      EXPECT_TRUE(served.ok()) << served.error().message();
    }
  });
}

TEST_F(Tls, AServerRefusesAClientWithNoProtocolInCommon) {
  run_in_fiber([] {
    tls::Context server = server_context({"h2", "http/1.1"});
    tls::Context client = client_context({"imap"});
    Pair pair;
    Status served = wsa::einval;
    FiberId f = pair.serve_one(server, served);
    tls::Stream st = connect_stream(client, pair.port);
    Status h = st.handshake();
    ASSERT_FALSE(h.ok());
    EXPECT_NE(h.error().message().find("no application protocol"), std::string::npos)
        << h.error().message();
    ASSERT_TRUE(join(f).ok());
    EXPECT_FALSE(served.ok());
    EXPECT_TRUE(st.close().ok());
  });
}

TEST_F(Tls, BadArgumentsAreRefusedClearly) {
  tls::Options none;
  EXPECT_EQ(tls::Context::server(none).error(), wsa::einval);  // no certificate
  tls::Options missing;
  missing.certificate_chain_file = "/nonexistent/cert.pem";
  missing.private_key_file = "/nonexistent/key.pem";
  auto e = tls::Context::server(missing);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().category(), tls::category());
  tls::Options bad_alpn;
  bad_alpn.alpn = {""};
  EXPECT_EQ(tls::Context::client(bad_alpn).error(), wsa::einval);
  run_in_fiber([] {
    tls::Context c = client_context();
    tls::Context s = server_context();
    auto sock = socket(AF_INET, SOCK_STREAM);
    EXPECT_EQ(tls::Stream::client(c, *sock, "localhost").error(), wsa::enotconn);
    EXPECT_EQ(tls::Stream::server(c, *sock).error(), wsa::einval);  // a client's context
    EXPECT_EQ(tls::Stream::client(c, Socket::invalid, "localhost").error(), wsa::enotsock);
    EXPECT_TRUE(close(*sock).ok());
    tls::Stream empty;
    char b[4];
    EXPECT_EQ(empty.recv(b, 4).error(), wsa::enotsock);
    EXPECT_EQ(empty.close().error(), wsa::enotsock);
  });
}

}  // namespace
