// The conformance matrix of the socket calls on Unix-domain sockets (semantics.md §10;
// machinery and sources: matrix.hpp): accept, connect on a full backlog, recv, recv_fds,
// recv_from, send and send_fds before and after they moved bytes, recv_exact after some, and
// poll, each
// against every source of cancellation, in precise and portable mode, with a plain POSIX
// AF_UNIX socket as the peer.
//
// AF_UNIX has no RST: where the table says reset, weft closes the kernel socket at once, and
// the peer reads every byte that had reached it, then end of file (it had sent nothing that
// was left unread here). So the peer cannot tell a reset from a graceful close; the cells
// check what the reset leaves at weft's end (WSAECONNABORTED), and that the peer reads
// exactly what the table lets through.
#include "../support/unix.hpp"
#include "matrix.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace weft::matrix {
namespace {

// What the Unix kinds keep besides the Cell: a pipe whose ends are passed, and the
// descriptors a recv_fds appended.
struct UnixCell {
  Fd r, w;
  std::vector<int> received;
  ~UnixCell() {
    for (int fd : received) ::close(fd);
  }
};

UnixCell& uc(Cell& c) { return *static_cast<UnixCell*>(c.extra.get()); }

void make_pipe(Cell& c) {
  auto u = std::make_shared<UnixCell>();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  u->r = Fd(p[0]);
  u->w = Fd(p[1]);
  c.extra = u;
}

Address fresh_abstract() { return test::fresh_name(test::Space::abstract, "matrix").address(); }

// A weft AF_UNIX stream socket connected to a POSIX end; `small`: a small send buffer, which
// fills after a few kilobytes.
void unix_pair(Cell& c, bool small = false) {
  Address addr;
  c.conn.listener = test::posix_unix_listener(addr);
  c.s = c.conn.s = *socket(AF_UNIX, SOCK_STREAM);
  if (small) {
    int bytes = 4096;
    ASSERT_TRUE(set_option(c.s, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes).ok());
  }
  ASSERT_TRUE(connect(c.s, addr).ok());
  c.conn.peer = test::posix_accept(c.conn.listener.get());
  ASSERT_GE(c.conn.peer.get(), 0);
}

void expect_closed(Cell& c) { EXPECT_EQ(recv(c.s, c.buf, 1, MSG_DONTWAIT).error(), wsa::enotsock); }

// The peer reads n bytes, then end of file (if `some`, fewer than n but at least one).
void expect_peer_reads_then_eof(Cell& c, std::size_t n, bool some = false) {
  test::PeerView v = test::posix_read_to_end(c.conn.peer.get());
  if (some) {
    EXPECT_GT(v.data.size(), 0u);
    EXPECT_LT(v.data.size(), n);
  } else {
    EXPECT_EQ(v.data.size(), n);
  }
  EXPECT_TRUE(v.eof) << "error=" << v.error << " timed_out=" << v.timed_out;
}

// Reset at weft's end: every call but close fails WSAECONNABORTED.
void expect_aborted(Cell& c) {
  EXPECT_EQ(recv(c.s, c.buf, sizeof c.buf).error(), wsa::econnaborted);
  EXPECT_EQ(send(c.s, "x", 1).error(), wsa::econnaborted);
}

void expect_stream_intact(Cell& c) {
  test::posix_send_all(c.conn.peer.get(), "z");
  auto n = recv(c.s, c.buf, sizeof c.buf);
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(std::string(c.buf, *n), "z");
}

// What the peer receives with one recvmsg: bytes, and how many descriptors (closed here).
std::pair<std::string, std::size_t> peer_recvmsg(Cell& c, std::size_t n) {
  test::Received r = test::posix_recv_with_fds(c.conn.peer.get(), n);
  return {r.data, r.fds.size()};
}

// The peer reads the `queued` bytes sent before the call, with no descriptor among them.
void expect_queued_without_descriptors(Cell& c) {
  std::size_t got = 0;
  while (got < c.queued) {
    auto [data, fds] = peer_recvmsg(c, c.queued - got);
    ASSERT_FALSE(data.empty());
    EXPECT_EQ(fds, 0u);
    got += data.size();
  }
}

// For the send kinds after a cut: the peer reads part of `big` (the descriptor, if any, with
// its first bytes), then end of file.
void expect_peer_reads_part_then_eof(Cell& c, bool with_descriptor) {
  std::size_t total = 0;
  if (with_descriptor) {
    auto [data, fds] = peer_recvmsg(c, 4096);
    EXPECT_FALSE(data.empty());
    EXPECT_EQ(fds, 1u);
    total = data.size();
  }
  test::PeerView v = test::posix_read_to_end(c.conn.peer.get());
  total += v.data.size();
  EXPECT_GT(total, 0u);
  EXPECT_LT(total, c.big.size());
  EXPECT_TRUE(v.eof) << "error=" << v.error << " timed_out=" << v.timed_out;
}

// The recv kinds: after a close, the peer reads the end (nothing was sent); otherwise the
// stream is intact, or (portable) reset.
void after_recv(Cell& c) {
  if (c.source == Source::close) {
    expect_closed(c);
    return expect_peer_reads_then_eof(c, 0);
  }
  if (c.portable) {
    expect_aborted(c);
    return expect_peer_reads_then_eof(c, 0);
  }
  expect_stream_intact(c);
}

std::vector<Kind> kinds() {
  std::vector<Kind> k;
  k.push_back({"UnixAccept", true,
               [](Cell& c) {
                 c.addr = fresh_abstract();
                 c.s = *socket(AF_UNIX, SOCK_STREAM);
                 ASSERT_TRUE(bind(c.s, c.addr).ok());
                 ASSERT_TRUE(listen(c.s, 8).ok());
               },
               [](Cell& c, const CancelToken& t) { return accept(c.s, nullptr, t).error(); },
               [](Cell& c) {
                 if (c.source == Source::close) return expect_closed(c);
                 // Unchanged in both modes: still listening.
                 Fd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
                 ASSERT_EQ(::connect(client.get(), c.addr.data(), c.addr.size()), 0);
                 auto a = accept(c.s);
                 ASSERT_TRUE(a.ok()) << a.error().message();
                 EXPECT_TRUE(close(*a).ok());
                 EXPECT_TRUE(close(c.s).ok());
               }});
  k.push_back({"UnixConnect", true,
               [](Cell& c) {
                 // A listener whose backlog is full: Linux refuses an AF_UNIX connect to it
                 // with EAGAIN, and the call waits for room. (Backlog 0 admits one queued
                 // connection: the filler.)
                 c.posix = test::posix_unix_listener(c.addr, 0);
                 c.filler = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
                 ASSERT_EQ(::connect(c.filler.get(), c.addr.data(), c.addr.size()), 0);
                 c.s = *socket(AF_UNIX, SOCK_STREAM);
               },
               [](Cell& c, const CancelToken& t) { return connect(c.s, c.addr, 0ms, t).error(); },
               [](Cell& c) {
                 if (c.source == Source::close) {
                   expect_closed(c);
                 } else {
                   // Aborted in both modes, and nothing is held: no attempt outlives a refusal.
                   EXPECT_EQ(send(c.s, "x", 1).error(), wsa::econnaborted);
                   EXPECT_EQ(connect(c.s, c.addr).error(), wsa::econnaborted);
                   EXPECT_EQ(Runtime::current()->stats().pending_connects, 0u);
                   EXPECT_TRUE(close(c.s).ok());
                 }
                 // The listener's queue never saw the call: only the filler is there.
                 Fd first = test::posix_accept(c.posix.get(), 0);
                 EXPECT_GE(first.get(), 0);
                 EXPECT_FALSE(test::posix_readable(c.posix.get(), 0));
               }});
  k.push_back(
      {"UnixRecv", true, [](Cell& c) { unix_pair(c); },
       [](Cell& c, const CancelToken& t) { return recv(c.s, c.buf, sizeof c.buf, 0, t).error(); },
       after_recv});
  k.push_back({"UnixRecvFds", true,
               [](Cell& c) {
                 unix_pair(c);
                 make_pipe(c);
               },
               [](Cell& c, const CancelToken& t) {
                 return recv_fds(c.s, c.buf, sizeof c.buf, uc(c).received, t).error();
               },
               [](Cell& c) {
                 EXPECT_TRUE(uc(c).received.empty());  // no descriptor taken
                 if (c.source != Source::close && !c.portable) {
                   // The next recv_fds takes the bytes and the descriptor sent after.
                   test::posix_send_with_fd(c.conn.peer.get(), "z", uc(c).w.get());
                   auto n = recv_fds(c.s, c.buf, sizeof c.buf, uc(c).received);
                   ASSERT_TRUE(n.ok()) << n.error().message();
                   EXPECT_EQ(std::string(c.buf, *n), "z");
                   EXPECT_EQ(uc(c).received.size(), 1u);
                   return;
                 }
                 after_recv(c);
               }});
  k.push_back({"UnixRecvFrom", true,
               [](Cell& c) {
                 c.addr = fresh_abstract();
                 c.s = *socket(AF_UNIX, SOCK_DGRAM);
                 ASSERT_TRUE(bind(c.s, c.addr).ok());
                 c.posix = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
               },
               [](Cell& c, const CancelToken& t) {
                 return recv_from(c.s, c.buf, sizeof c.buf, nullptr, 0, t).error();
               },
               [](Cell& c) {
                 if (c.source == Source::close) return expect_closed(c);
                 // A datagram socket is unchanged in both modes.
                 ASSERT_EQ(::sendto(c.posix.get(), "d", 1, 0, c.addr.data(), c.addr.size()), 1);
                 auto n = recv_from(c.s, c.buf, sizeof c.buf, nullptr);
                 ASSERT_TRUE(n.ok()) << n.error().message();
                 EXPECT_EQ(*n, 1u);
                 EXPECT_TRUE(close(c.s).ok());
               }});
  for (bool fds : {false, true}) {
    k.push_back({fds ? "UnixSendFdsNothingMoved" : "UnixSendNothingMoved", true,
                 [](Cell& c) {
                   unix_pair(c, true);
                   make_pipe(c);
                   c.queued = test::fill_send_buffer(c.s);
                 },
                 [fds](Cell& c, const CancelToken& t) {
                   if (!fds) return send(c.s, "y", 1, 0, t).error();
                   const int pass[] = {uc(c).r.get()};
                   return send_fds(c.s, "y", 1, pass, t).error();
                 },
                 [fds](Cell& c) {
                   if (c.source == Source::close || c.portable) {
                     if (c.source == Source::close) {
                       expect_closed(c);
                     } else {
                       expect_aborted(c);
                     }
                     expect_queued_without_descriptors(c);
                     return expect_peer_reads_then_eof(c, 0);
                   }
                   // Unchanged: the peer reads what was queued, then what is sent after (and
                   // the descriptor only then).
                   expect_queued_without_descriptors(c);
                   const int pass[] = {uc(c).r.get()};
                   auto n = fds ? send_fds(c.s, "y", 1, pass) : send(c.s, "y", 1);
                   ASSERT_TRUE(n.ok()) << n.error().message();
                   auto [data, passed] = peer_recvmsg(c, 1);
                   EXPECT_EQ(data, "y");
                   EXPECT_EQ(passed, fds ? 1u : 0u);
                 }});
    k.push_back({fds ? "UnixSendFdsSomeMoved" : "UnixSendSomeMoved", true,
                 [](Cell& c) {
                   unix_pair(c, true);
                   make_pipe(c);
                   c.big.assign(1 << 20, 'b');  // more than the kernel takes at once
                 },
                 [fds](Cell& c, const CancelToken& t) {
                   if (!fds) return send(c.s, c.big.data(), c.big.size(), 0, t).error();
                   const int pass[] = {uc(c).r.get()};
                   return send_fds(c.s, c.big.data(), c.big.size(), pass, t).error();
                 },
                 [fds](Cell& c) {
                   // Reset in both modes, whoever ended the send.
                   if (c.source == Source::close) {
                     expect_closed(c);
                   } else {
                     expect_aborted(c);
                   }
                   expect_peer_reads_part_then_eof(c, fds);
                 }});
  }
  k.push_back({"UnixRecvExactAfterSomeBytes", true,
               [](Cell& c) {
                 unix_pair(c);
                 test::posix_send_all(c.conn.peer.get(), "abc");
               },
               [](Cell& c, const CancelToken& t) { return recv_exact(c.s, c.buf, 10, t).error(); },
               [](Cell& c) {
                 if (c.source == Source::close) {
                   expect_closed(c);
                 } else {
                   expect_aborted(c);  // the bytes taken cannot be handed back
                 }
                 expect_peer_reads_then_eof(c, 0);
               }});
  k.push_back({"UnixPoll", true, [](Cell& c) { unix_pair(c); },
               [](Cell& c, const CancelToken& t) {
                 PollEntry e{c.s, kPollIn};
                 return poll({&e, 1}, std::nullopt, t).error();
               },
               [](Cell& c) {
                 if (c.source == Source::close) return expect_closed(c);
                 expect_stream_intact(c);  // unchanged in both modes
               }});
  return k;
}

}  // namespace

const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> k = kinds();
  return k;
}

INSTANTIATE_TEST_SUITE_P(EveryUnixCallEverySource, Matrix, testing::ValuesIn(all_params()),
                         param_name);

}  // namespace weft::matrix
