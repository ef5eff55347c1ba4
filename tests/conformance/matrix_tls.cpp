// The conformance matrix of the TLS calls (semantics.md §9; machinery and sources:
// matrix.hpp): handshake, recv, send before and after it committed, shutdown and close, each
// against every source of cancellation, in precise and portable mode. The peer is OpenSSL's
// own blocking I/O on a thread of the test (tls_thread_peer.hpp), not weft.
#include "../support/tls_thread_peer.hpp"
#include "matrix.hpp"

namespace weft::matrix {
namespace {

using test::await;
using test::ThreadTlsPeer;
using test::tls_pattern;

struct TlsCell {
  std::unique_ptr<ThreadTlsPeer> peer;
  std::optional<tls::Context> ctx;
  tls::Stream st;
  std::size_t queued = 0;  // plaintext queued to the peer before the call
  std::string big;         // a send's buffer, alive for the call
};

TlsCell& tc(Cell& c) { return *static_cast<TlsCell*>(c.extra.get()); }

// A TCP connection to a POSIX listener, its accepted end given to the thread peer; `small`
// makes both ends' buffers small, so that a connection fills after little data. No TLS yet.
// The stream's close waits `close_timeout` at most for room for its close_notify.
void tcp_pair(Cell& c, bool small, std::chrono::milliseconds close_timeout = 100ms) {
  auto t = std::make_shared<TlsCell>();
  c.extra = t;
  tls::Options o;
  o.ca_file = test::TestCerts::get().ca;
  o.close_timeout = close_timeout;
  auto ctx = tls::Context::client(o);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message();
  t->ctx = *ctx;
  Address addr;
  c.conn.listener = test::posix_listener(addr);
  if (small) test::set_small_buffers(c.conn.listener.get());
  c.s = c.conn.s = *socket(AF_INET, SOCK_STREAM);
  if (small) {
    int bytes = 4096;
    ASSERT_TRUE(set_option(c.s, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes).ok());
    ASSERT_TRUE(set_option(c.s, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes).ok());
  }
  ASSERT_TRUE(connect(c.s, addr).ok());
  Fd accepted = test::posix_accept(c.conn.listener.get());
  ASSERT_GE(accepted.get(), 0);
  t->peer = std::make_unique<ThreadTlsPeer>(std::move(accepted));
  auto st = tls::Stream::client(*t->ctx, c.s, "localhost");
  ASSERT_TRUE(st.ok()) << st.error().message();
  t->st = std::move(*st);
}

void handshaken(Cell& c, bool small, std::chrono::milliseconds close_timeout = 100ms) {
  tcp_pair(c, small, close_timeout);
  if (testing::Test::HasFatalFailure()) return;
  auto accepted = tc(c).peer->accept();
  ASSERT_TRUE(tc(c).st.handshake().ok());
  ASSERT_EQ(await(accepted), "ok");
}

// Fills the connection (the peer does not read) until its socket has no room.
void fill(Cell& c) { tc(c).queued = test::fill_tls(tc(c).st); }

// What the peer sees, reading to the end: "HOW BYTES"; the bytes it read must be the stream's
// own, in order.
std::string peer_end(Cell& c) {
  auto f = tc(c).peer->read_to_end();
  std::string end = await(f);
  const std::string& got = tc(c).peer->data();
  EXPECT_EQ(got, tls_pattern(0, got.size())) << "the peer read bytes out of order";
  return end;
}

// The stream still carries data both ways, in order, after `queued` bytes the peer reads now.
void expect_intact(Cell& c) {
  TlsCell& t = tc(c);
  auto queued = t.peer->recv(t.queued + 1);
  std::string one = tls_pattern(t.queued, 1);
  ASSERT_TRUE(t.st.send(one.data(), 1).ok());
  EXPECT_EQ(await(queued), tls_pattern(0, t.queued + 1));
  auto sent = t.peer->send("z");
  EXPECT_EQ(await(sent), "ok");
  char b[4];
  auto n = t.st.recv(b, sizeof b);
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(std::string(b, *n), "z");
  EXPECT_TRUE(t.st.close().ok());
}

// The table reset the stream: every call but close fails WSAECONNABORTED, and the peer sees
// the reset (after the close_notify a shutdown had sent, for `after_notify`).
void expect_reset(Cell& c, bool after_notify = false) {
  TlsCell& t = tc(c);
  char b[4];
  EXPECT_EQ(t.st.recv(b, sizeof b).error(), wsa::econnaborted);
  EXPECT_EQ(t.st.send("x", 1).error(), wsa::econnaborted);
  EXPECT_TRUE(t.st.close().ok());
  std::string end = peer_end(c);
  EXPECT_EQ(end.substr(0, end.find(' ')), after_notify ? "close_notify+reset" : "reset") << end;
}

// After the close source: the stream's handle is dead.
void expect_closed(Cell& c) {
  char b[4];
  EXPECT_EQ(tc(c).st.recv(b, sizeof b).error(), wsa::enotsock);
}

std::string how(const std::string& end) { return end.substr(0, end.find(' ')); }

std::vector<Kind> kinds() {
  std::vector<Kind> k;
  auto close_stream = [](Cell& c) { return tc(c).st.close(); };
  k.push_back({"TlsHandshake", true, [](Cell& c) { tcp_pair(c, false); },
               [](Cell& c, const CancelToken& t) { return tc(c).st.handshake(t).error(); },
               [](Cell& c) {
                 TlsCell& t = tc(c);
                 if (c.source == Source::close || c.portable) {
                   // Closed (no handshake to end with close_notify), or reset.
                   if (c.source == Source::close) expect_closed(c);
                   if (c.source != Source::close) {
                     EXPECT_EQ(t.st.handshake().error(), wsa::econnaborted);
                   }
                   auto accepted = t.peer->accept();
                   EXPECT_EQ(await(accepted), "error");
                   return;
                 }
                 // Resumed: the peer answers the ClientHello sent before the cancel.
                 auto accepted = t.peer->accept();
                 ASSERT_TRUE(t.st.handshake().ok());
                 EXPECT_EQ(await(accepted), "ok");
                 expect_intact(c);
               },
               [](Cell&) {}, close_stream});
  k.push_back({"TlsRecv", true, [](Cell& c) { handshaken(c, false); },
               [](Cell& c, const CancelToken& t) {
                 char b[16];
                 return tc(c).st.recv(b, sizeof b, t).error();
               },
               [](Cell& c) {
                 if (c.source == Source::close) {
                   expect_closed(c);
                   // Nothing consumed: precise mode ends the stream with close_notify.
                   EXPECT_EQ(how(peer_end(c)), c.portable ? "reset" : "close_notify+eof");
                   return;
                 }
                 if (c.portable) return expect_reset(c);
                 expect_intact(c);
               },
               [](Cell&) {}, close_stream});
  k.push_back({"TlsSendNothingCommitted", true,
               [](Cell& c) {
                 handshaken(c, true);
                 if (!testing::Test::HasFatalFailure()) fill(c);
               },
               [](Cell& c, const CancelToken& t) { return tc(c).st.send("y", 1, t).error(); },
               [](Cell& c) {
                 if (c.source == Source::close) {
                   // Nothing of the call committed: the close puts close_notify after what
                   // was queued if room comes within its bound (the peer's acknowledgements
                   // may still make some), and resets if not.
                   expect_closed(c);
                   std::string end = peer_end(c);
                   if (how(end) == "close_notify+eof") {
                     EXPECT_EQ(tc(c).peer->data().size(), tc(c).queued);
                   } else {
                     EXPECT_EQ(how(end), "reset");
                   }
                   return;
                 }
                 if (c.portable) return expect_reset(c);
                 expect_intact(c);
               },
               [](Cell&) {}, close_stream});
  k.push_back({"TlsSendCommitted", true,
               [](Cell& c) {
                 handshaken(c, true);
                 tc(c).big = tls_pattern(0, 1 << 20);  // more than the connection holds
               },
               [](Cell& c, const CancelToken& t) {
                 TlsCell& x = tc(c);
                 return x.st.send(x.big.data(), x.big.size(), t).error();
               },
               [](Cell& c) {
                 // Reset in both modes, whoever ended it: the peer must not take the cut-off
                 // stream for a whole one; it reads whole records, then the reset.
                 if (c.source == Source::close) {
                   expect_closed(c);
                   EXPECT_EQ(how(peer_end(c)), "reset");
                   return;
                 }
                 expect_reset(c);
               },
               [](Cell&) {}, close_stream});
  k.push_back({"TlsShutdown", true, [](Cell& c) { handshaken(c, false); },
               [](Cell& c, const CancelToken& t) { return tc(c).st.shutdown(t).error(); },
               [](Cell& c) {
                 // close_notify went out, then the wait for the peer's was cut: reset.
                 if (c.source == Source::close) {
                   expect_closed(c);
                   EXPECT_EQ(how(peer_end(c)), "close_notify+reset");
                   return;
                 }
                 expect_reset(c, true);
               },
               [](Cell&) {}, close_stream});
  k.push_back({"TlsClose", false,
               [](Cell& c) {
                 // A bound every source of the cell comes before.
                 handshaken(c, true, std::chrono::hours(1));
                 if (!testing::Test::HasFatalFailure()) fill(c);
               },
               [](Cell& c, const CancelToken& t) { return tc(c).st.close(t).error(); },
               [](Cell& c) {
                 // Reset; the stream stays open for close alone.
                 expect_reset(c);
               }});
  return k;
}

}  // namespace

const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> k = kinds();
  return k;
}

INSTANTIATE_TEST_SUITE_P(EveryTlsCallEverySource, Matrix, testing::ValuesIn(all_params()),
                         param_name);

}  // namespace weft::matrix
