// Unix-domain sockets (semantics.md §10): weft sockets of family AF_UNIX — stream, datagram
// and seqpacket, filesystem and abstract names, pairs, adopted descriptors, a stream peer's
// credentials — against peers that are not weft: socat, Python's socket module
// (tests/support/unix_peer.py, driven line by line) and plain POSIX sockets. Descriptors passed
// both ways are in unix_fds.cpp; what a cancel leaves on these sockets, in unix_cancel.cpp.
#include "../support/unix.hpp"
#include "../support/process.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using namespace weft::test;

// --- Address ---------------------------------------------------------------------------------

TEST(UnixAddress, APathRoundTripsThroughEveryAccessor) {
  auto a = Address::unix_path("/run/app.sock");
  ASSERT_OK(a);
  EXPECT_EQ(a->family(), AF_UNIX);
  EXPECT_EQ(a->port(), 0);
  EXPECT_EQ(a->host(), "/run/app.sock");
  EXPECT_EQ(a->unix_path_name(), "/run/app.sock");
  EXPECT_EQ(a->to_string(), "/run/app.sock");
  EXPECT_EQ(a->size(), offsetof(sockaddr_un, sun_path) + 14);  // with its NUL
  EXPECT_TRUE(*a == *Address::unix_path("/run/app.sock"));
  EXPECT_FALSE(*a == *Address::unix_path("/run/app.sock2"));
  EXPECT_FALSE(*a == Address::loopback_v4(0));
  EXPECT_EQ(Address::loopback_v4(80).unix_path_name(), "");
}

TEST(UnixAddress, AnAbstractNameIsShownWithAnAt) {
  const std::string raw("\0app", 4);
  auto a = Address::unix_path(raw);
  ASSERT_OK(a);
  EXPECT_EQ(a->family(), AF_UNIX);
  EXPECT_EQ(a->to_string(), "@app");
  EXPECT_EQ(a->host(), raw);  // round-trips through unix_path
  EXPECT_EQ(a->unix_path_name(), raw);
  EXPECT_EQ(a->size(), offsetof(sockaddr_un, sun_path) + 4);  // delimited by its length
  EXPECT_FALSE(*a == *Address::unix_path("app"));
}

TEST(UnixAddress, BadPathsAreInvalid) {
  const std::size_t room = sizeof(sockaddr_un::sun_path);  // 108
  EXPECT_EQ(Address::unix_path("").error(), wsa::einval);
  EXPECT_EQ(Address::unix_path(std::string(1, '\0')).error(), wsa::einval);
  EXPECT_EQ(Address::unix_path(std::string("a\0b", 3)).error(), wsa::einval);
  EXPECT_EQ(Address::unix_path(std::string("\0a\0b", 4)).error(), wsa::einval);
  // A filesystem path keeps room for its NUL: 107 bytes fit, 108 do not.
  EXPECT_TRUE(Address::unix_path(std::string(room - 1, 'p')).ok());
  EXPECT_EQ(Address::unix_path(std::string(room, 'p')).error(), wsa::einval);
  // An abstract name may fill sun_path: the lead and 107 bytes fit, one more does not.
  EXPECT_TRUE(Address::unix_path(std::string(1, '\0') + std::string(room - 1, 'a')).ok());
  EXPECT_EQ(Address::unix_path(std::string(1, '\0') + std::string(room, 'a')).error(), wsa::einval);
}

TEST(UnixAddress, FromSockaddrTakesUnixAddressesAndKeepsOneFormOfAPath) {
  const auto base = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  // The family alone: the unnamed address.
  auto unnamed = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&un), sizeof(sa_family_t));
  ASSERT_OK(unnamed);
  EXPECT_EQ(unnamed->family(), AF_UNIX);
  EXPECT_EQ(unnamed->host(), "");
  EXPECT_EQ(unnamed->to_string(), "(unnamed)");
  // A path with its NUL, without it, and with bytes after the NUL: one address.
  std::memcpy(un.sun_path, "/tmp/x\0junk", 11);
  auto with_nul = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&un), base + 7);
  auto without = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&un), base + 6);
  auto with_junk = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&un), base + 11);
  ASSERT_OK(with_nul);
  ASSERT_OK(without);
  ASSERT_OK(with_junk);
  EXPECT_TRUE(*with_nul == *Address::unix_path("/tmp/x"));
  EXPECT_TRUE(*without == *with_nul);
  EXPECT_TRUE(*with_junk == *with_nul);
  // An abstract name is its bytes, NULs included (Python or C may bind such a name).
  std::memcpy(un.sun_path, "\0a\0b", 4);
  auto abstract = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&un), base + 4);
  ASSERT_OK(abstract);
  EXPECT_EQ(abstract->to_string(), "@a@b");
  EXPECT_EQ(abstract->unix_path_name(), std::string("\0a\0b", 4));
  un.sun_family = AF_UNSPEC;
  EXPECT_EQ(Address::from_sockaddr(reinterpret_cast<sockaddr*>(&un), sizeof un).error(),
            wsa::eafnosupport);
}

// --- each namespace: weft servers and clients, socat and Python ----------------------------

class UnixNames : public testing::TestWithParam<Space> {};

TEST_P(UnixNames, AWeftStreamServerAnswersSocat) {
  SKIP_WITHOUT_SOCAT();
  const Name name = fresh_name(GetParam(), "srv");
  run_in_fiber([&] {
    auto l = socket(AF_UNIX, SOCK_STREAM);
    ASSERT_OK(l);
    ASSERT_OK(bind(*l, name.address()));
    ASSERT_OK(listen(*l, 8));
    EXPECT_TRUE(*local_address(*l) == name.address());
    Child socat({"socat", "-t", "5", "-", name.socat("CONNECT")});
    ASSERT_TRUE(socat.started());
    Address peer;
    auto a = accept(*l, &peer);
    ASSERT_OK(a);
    EXPECT_EQ(peer.family(), AF_UNIX);
    EXPECT_EQ(peer.to_string(), "(unnamed)");  // socat's client socket is not bound
    socat.write("ping\n");
    EXPECT_EQ(recv_line(*a), "ping\n");
    ASSERT_OK(send(*a, "PONG\n", 5));
    EXPECT_EQ(socat.line(), "PONG");
    // socat's end of input is its shutdown of the stream: end of file here.
    socat.close_input();
    char b[8];
    EXPECT_EQ(recv(*a, b, sizeof b).value_or(99), 0u);
    EXPECT_TRUE(close(*a).ok());
    EXPECT_EQ(socat.line(), "eof");
    EXPECT_TRUE(close(*l).ok());
  });
}

TEST_P(UnixNames, AWeftStreamServerAnswersPythonAndKnowsItsCredentials) {
  SKIP_WITHOUT_PYTHON();
  const Name name = fresh_name(GetParam(), "srv");
  run_in_fiber([&] {
    auto l = socket(AF_UNIX, SOCK_STREAM);
    ASSERT_OK(bind(*l, name.address()));
    ASSERT_OK(listen(*l, 8));
    auto py = python_peer({"client", "stream", name.py});
    std::string hello = py->line();
    ASSERT_EQ(hello.rfind("connected ", 0), 0u) << hello;
    Address peer;
    auto a = accept(*l, &peer);
    ASSERT_OK(a);
    EXPECT_EQ(peer.to_string(), "(unnamed)");
    auto creds = peer_credentials(*a);
    ASSERT_OK(creds);
    const PeerCredentials expected = credentials_in(hello);
    EXPECT_EQ(creds->pid, expected.pid);
    EXPECT_EQ(creds->uid, expected.uid);
    EXPECT_EQ(creds->gid, expected.gid);
    EXPECT_EQ(cmd(*py, "send hello"), "ok");
    EXPECT_EQ(recv_string(*a), "hello");
    ASSERT_OK(send(*a, "HELLO", 5));
    EXPECT_EQ(cmd(*py, "recv 64"), "ok HELLO");
    // Python sees this process at the other end.
    expect_this_process(credentials_in(cmd(*py, "peercred")));
    EXPECT_TRUE(close(*a).ok());
    EXPECT_EQ(cmd(*py, "recv 64"), "eof");
    EXPECT_TRUE(close(*l).ok());
  });
}

TEST_P(UnixNames, AWeftStreamClientTalksToAPythonServer) {
  SKIP_WITHOUT_PYTHON();
  const Name name = fresh_name(GetParam(), "py");
  run_in_fiber([&] {
    auto py = python_peer({"server", "stream", name.py});
    ASSERT_EQ(py->line(), "ready");
    auto s = socket(AF_UNIX, SOCK_STREAM);
    ASSERT_OK(connect(*s, name.address()));
    EXPECT_EQ(py->line(), "accepted");
    EXPECT_TRUE(*peer_address(*s) == name.address());
    ASSERT_OK(send(*s, "ping", 4));
    EXPECT_EQ(cmd(*py, "recv 64"), "ok ping");
    EXPECT_EQ(cmd(*py, "send pong"), "ok");
    EXPECT_EQ(recv_string(*s), "pong");
    auto creds = peer_credentials(*s);
    ASSERT_OK(creds);
    EXPECT_NE(creds->pid, ::getpid());  // the Python process
    EXPECT_EQ(creds->uid, ::getuid());
    EXPECT_EQ(cmd(*py, "close"), "ok");
    EXPECT_EQ(recv_string(*s), "");  // end of file
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST_P(UnixNames, AWeftDatagramServerAnswersSocat) {
  SKIP_WITHOUT_SOCAT();
  const Name name = fresh_name(GetParam(), "dsrv");
  const Name client = fresh_name(GetParam(), "dcli");
  run_in_fiber([&] {
    auto d = socket(AF_UNIX, SOCK_DGRAM);
    ASSERT_OK(bind(*d, name.address()));
    Child socat({"socat", "-t", "5", "-", name.socat("SENDTO") + ",bind=" + client.plain});
    ASSERT_TRUE(socat.started());
    socat.write("ping\n");
    char b[64];
    Address from;
    auto n = recv_from(*d, b, sizeof b, &from);
    ASSERT_OK(n);
    EXPECT_EQ(std::string(b, *n), "ping\n");
    EXPECT_TRUE(from == client.address()) << from.to_string();
    ASSERT_OK(send_to(*d, "PONG\n", 5, from));
    EXPECT_EQ(socat.line(), "PONG");
    EXPECT_TRUE(close(*d).ok());
  });
}

TEST_P(UnixNames, AWeftDatagramServerAnswersPython) {
  SKIP_WITHOUT_PYTHON();
  const Name name = fresh_name(GetParam(), "dsrv");
  const Name client = fresh_name(GetParam(), "dcli");
  run_in_fiber([&] {
    auto d = socket(AF_UNIX, SOCK_DGRAM);
    ASSERT_OK(bind(*d, name.address()));
    auto py = python_peer({"client", "dgram", name.py, client.py});
    ASSERT_EQ(py->line().rfind("connected ", 0), 0u);
    EXPECT_EQ(cmd(*py, "send one"), "ok");
    EXPECT_EQ(cmd(*py, "send two"), "ok");
    char b[64];
    Address from;
    auto n = recv_from(*d, b, sizeof b, &from);
    ASSERT_OK(n);
    EXPECT_EQ(std::string(b, *n), "one");  // whole datagrams, in order
    EXPECT_TRUE(from == client.address()) << from.to_string();
    n = recv_from(*d, b, sizeof b, &from);
    ASSERT_OK(n);
    EXPECT_EQ(std::string(b, *n), "two");
    ASSERT_OK(send_to(*d, "ONE", 3, from));
    EXPECT_EQ(cmd(*py, "recv 64"), "ok ONE");
    // Larger than the buffer: truncated, WSAEMSGSIZE, as for UDP.
    EXPECT_EQ(cmd(*py, "send 0123456789"), "ok");
    EXPECT_EQ(recv_from(*d, b, 4, &from).error(), wsa::emsgsize);
    EXPECT_TRUE(close(*d).ok());
  });
}

TEST_P(UnixNames, AWeftDatagramClientTalksToAPythonServer) {
  SKIP_WITHOUT_PYTHON();
  const Name name = fresh_name(GetParam(), "dpy");
  const Name mine = fresh_name(GetParam(), "dweft");
  run_in_fiber([&] {
    auto py = python_peer({"server", "dgram", name.py});
    ASSERT_EQ(py->line(), "ready");
    auto d = socket(AF_UNIX, SOCK_DGRAM);
    ASSERT_OK(bind(*d, mine.address()));
    ASSERT_OK(connect(*d, name.address()));
    ASSERT_OK(send(*d, "ping", 4));
    EXPECT_EQ(cmd(*py, "recvfrom"), "ok ping " + mine.py);
    EXPECT_EQ(cmd(*py, "reply pong"), "ok");
    EXPECT_EQ(recv_string(*d), "pong");
    // An unbound sender is unnamed, to Python as to weft.
    auto anon = socket(AF_UNIX, SOCK_DGRAM);
    ASSERT_OK(send_to(*anon, "anon", 4, name.address()));
    EXPECT_EQ(cmd(*py, "recvfrom"), "ok anon -");
    EXPECT_TRUE(close(*anon).ok());
    EXPECT_TRUE(close(*d).ok());
  });
}

TEST_P(UnixNames, ASeqpacketServerKeepsPythonsMessagesWhole) {
  SKIP_WITHOUT_PYTHON();
  const Name name = fresh_name(GetParam(), "seq");
  run_in_fiber([&] {
    auto l = socket(AF_UNIX, SOCK_SEQPACKET);
    ASSERT_OK(l);
    ASSERT_OK(bind(*l, name.address()));
    ASSERT_OK(listen(*l, 8));
    auto py = python_peer({"client", "seqpacket", name.py});
    ASSERT_EQ(py->line().rfind("connected ", 0), 0u);
    auto a = accept(*l);
    ASSERT_OK(a);
    EXPECT_EQ(cmd(*py, "send first"), "ok");
    EXPECT_EQ(cmd(*py, "send second"), "ok");
    EXPECT_EQ(recv_string(*a), "first");  // one message a recv, never glued
    char b[3];
    EXPECT_EQ(recv_from(*a, b, sizeof b, nullptr).error(), wsa::emsgsize);  // the rest is dropped
    ASSERT_OK(send(*a, "answer", 6));
    EXPECT_EQ(cmd(*py, "recv 64"), "ok answer");
    ASSERT_OK(peer_credentials(*a));
    EXPECT_TRUE(close(*a).ok());
    EXPECT_EQ(cmd(*py, "recv 64"), "eof");
    EXPECT_TRUE(close(*l).ok());
  });
}

INSTANTIATE_TEST_SUITE_P(Both, UnixNames, testing::Values(Space::filesystem, Space::abstract),
                         [](const testing::TestParamInfo<Space>& p) {
                           return p.param == Space::filesystem ? "Filesystem" : "Abstract";
                         });

// --- pairs ------------------------------------------------------------------------------------

TEST(UnixSocketPair, StreamEndsTalkBothWaysAndKnowTheirOwnProcess) {
  run_in_fiber([] {
    auto pair = socketpair(SOCK_STREAM);
    ASSERT_OK(pair);
    auto [a, b] = *pair;
    ASSERT_OK(send(a, "to-b", 4));
    EXPECT_EQ(recv_string(b), "to-b");
    ASSERT_OK(send(b, "to-a", 4));
    EXPECT_EQ(recv_string(a), "to-a");
    auto creds = peer_credentials(a);
    ASSERT_OK(creds);
    expect_this_process(*creds);
    EXPECT_EQ(local_address(a)->to_string(), "(unnamed)");
    // A reader blocked on one end is woken by the other's send, across fibers.
    std::string got;
    auto reader = spawn([&] { got = recv_string(a); });
    this_fiber::yield();
    ASSERT_OK(send(b, "later", 5));
    ASSERT_OK(join(*reader));
    EXPECT_EQ(got, "later");
    ASSERT_OK(shutdown(b, Shutdown::send));
    EXPECT_EQ(recv_string(a), "");  // end of file
    EXPECT_TRUE(close(a).ok());
    EXPECT_TRUE(close(b).ok());
  });
}

TEST(UnixSocketPair, DatagramAndSeqpacketPairsKeepMessagesWhole) {
  run_in_fiber([] {
    for (int type : {SOCK_DGRAM, SOCK_SEQPACKET}) {
      auto pair = socketpair(type);
      ASSERT_OK(pair);
      auto [a, b] = *pair;
      ASSERT_OK(send(a, "one", 3));
      ASSERT_OK(send(a, "two", 3));
      ASSERT_OK(send(a, "three", 5));
      EXPECT_EQ(recv_string(b), "one");
      EXPECT_EQ(recv_string(b), "two");
      char small[2];
      EXPECT_EQ(recv_from(b, small, sizeof small, nullptr).error(), wsa::emsgsize) << type;
      PollEntry e{b, kPollIn, 0};
      EXPECT_EQ(poll({&e, 1}, 0ms).value_or(-1), 0);  // the rest of "three" went with it
      auto creds = peer_credentials(b);
      ASSERT_OK(creds);
      expect_this_process(*creds);
      EXPECT_TRUE(close(a).ok());
      EXPECT_TRUE(close(b).ok());
    }
  });
}

TEST(UnixSocketPair, AnotherTypeOrNoRuntimeIsInvalid) {
  run_in_fiber([] { EXPECT_EQ(socketpair(SOCK_RAW).error(), wsa::einval); });
  Result<std::pair<Socket, Socket>> r = wsa::eintr;
  std::thread([&] { r = socketpair(SOCK_STREAM); }).join();
  EXPECT_EQ(r.error(), wsa::einval);
}

TEST(UnixSocketPair, PollSeesAUnixSocketReady) {
  run_in_fiber([] {
    auto [a, b] = *socketpair(SOCK_STREAM);
    PollEntry e{a, kPollIn, 0};
    Result<int> ready = wsa::einval;
    auto poller = spawn([&] { ready = poll({&e, 1}); });
    this_fiber::yield();
    ASSERT_OK(send(b, "x", 1));
    ASSERT_OK(join(*poller));
    EXPECT_EQ(ready.value_or(0), 1);
    EXPECT_TRUE(e.revents & kPollIn);
    EXPECT_TRUE(close(a).ok());
    EXPECT_TRUE(close(b).ok());
  });
}

// --- adopt --------------------------------------------------------------------------------------

TEST(UnixAdopt, AnEndOfARawSocketpairBecomesAWeftSocketThatOwnsIt) {
  run_in_fiber([] {
    for (int type : {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET}) {
      int sv[2];
      ASSERT_EQ(::socketpair(AF_UNIX, type, 0, sv), 0);  // blocking, inherited across exec
      Fd other(sv[1]);
      auto s = adopt(sv[0]);
      ASSERT_OK(s);
      EXPECT_TRUE(non_blocking(sv[0]));
      EXPECT_TRUE(close_on_exec(sv[0]));
      ASSERT_OK(send(*s, "to-posix", 8));
      EXPECT_EQ(test::posix_read_n(other.get(), 8), "to-posix");
      test::posix_send_all(other.get(), "to-weft");
      EXPECT_EQ(recv_string(*s), "to-weft");
      expect_this_process(*peer_credentials(*s));
      // close() closes the descriptor: weft owned it.
      EXPECT_TRUE(close(*s).ok());
      EXPECT_FALSE(is_open(sv[0]));
      if (type != SOCK_DGRAM) {
        EXPECT_TRUE(test::posix_read_to_end(other.get()).eof);
      }
    }
  });
}

TEST(UnixAdopt, AnEndOfASocketpairMadeByPython) {
  SKIP_WITHOUT_PYTHON();
  const Name name = fresh_name(Space::abstract, "adopt");
  run_in_fiber([&] {
    auto l = socket(AF_UNIX, SOCK_STREAM);
    ASSERT_OK(bind(*l, name.address()));
    ASSERT_OK(listen(*l, 8));
    auto py = python_peer({"client", "stream", name.py});
    ASSERT_EQ(py->line().rfind("connected ", 0), 0u);
    auto a = accept(*l);
    ASSERT_OK(a);
    // Python makes a pair and hands one end over; weft adopts it.
    EXPECT_EQ(cmd(*py, "send_pair P"), "ok");
    char b[8];
    std::vector<int> fds;
    auto n = recv_fds(*a, b, sizeof b, fds);
    ASSERT_OK(n);
    EXPECT_EQ(std::string(b, *n), "P");
    ASSERT_EQ(fds.size(), 1u);
    auto end = adopt(fds[0]);
    ASSERT_OK(end);
    ASSERT_OK(send(*end, "via-pair", 8));
    EXPECT_EQ(cmd(*py, "pair_recv 64"), "ok via-pair");
    EXPECT_EQ(cmd(*py, "pair_send back"), "ok");
    EXPECT_EQ(recv_string(*end), "back");
    EXPECT_TRUE(close(*end).ok());
    EXPECT_EQ(cmd(*py, "pair_recv 64"), "eof");
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*l).ok());
  });
}

TEST(UnixAdopt, AListeningSocketKeepsListeningAndItsQueue) {
  run_in_fiber([] {
    // An AF_UNIX listener with a connection already queued, as socket activation hands over.
    Address addr;
    Fd raw = posix_unix_listener(addr);
    Fd early(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(early.get(), addr.data(), addr.size()), 0);
    auto l = adopt(raw.get());
    ASSERT_OK(l);
    const int fd = raw.fd;
    raw.fd = -1;  // weft's now
    auto a = accept(*l);
    ASSERT_OK(a);
    test::posix_send_all(early.get(), "queued");
    EXPECT_EQ(recv_string(*a), "queued");
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*l).ok());
    EXPECT_FALSE(is_open(fd));
    // A TCP listener, the other thing socket activation passes.
    Address tcp_addr;
    Fd tcp = test::posix_listener(tcp_addr);
    auto tl = adopt(tcp.get());
    ASSERT_OK(tl);
    tcp.fd = -1;
    Fd client = test::posix_connect(tcp_addr);
    auto ta = accept(*tl);
    ASSERT_OK(ta);
    EXPECT_TRUE(close(*ta).ok());
    EXPECT_TRUE(close(*tl).ok());
  });
}

TEST(UnixAdopt, AnOpenSocketIsOpenAndBoundOnlyIfItHasAName) {
  run_in_fiber([] {
    // Unbound: a datagram recv needs a name first, as for a socket weft made.
    auto unbound = adopt(::socket(AF_UNIX, SOCK_DGRAM, 0));
    ASSERT_OK(unbound);
    char b[8];
    EXPECT_EQ(recv(*unbound, b, sizeof b, MSG_DONTWAIT).error(), wsa::einval);
    const Name name = fresh_name(Space::abstract, "open");
    ASSERT_OK(bind(*unbound, name.address()));
    // Bound before adoption: bind again is refused, datagrams are received.
    const Name other = fresh_name(Space::abstract, "open");
    int raw = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    ASSERT_EQ(::bind(raw, other.address().data(), other.address().size()), 0);
    auto bound = adopt(raw);
    ASSERT_OK(bound);
    EXPECT_EQ(bind(*bound, name.address()).error(), wsa::einval);
    ASSERT_OK(send_to(*unbound, "d", 1, other.address()));
    EXPECT_EQ(recv_string(*bound), "d");
    // An unconnected stream socket may still connect.
    Address addr;
    Fd l = posix_unix_listener(addr);
    auto s = adopt(::socket(AF_UNIX, SOCK_STREAM, 0));
    ASSERT_OK(s);
    EXPECT_EQ(send(*s, "x", 1).error(), wsa::enotconn);
    ASSERT_OK(connect(*s, addr));
    EXPECT_TRUE(close(*s).ok());
    EXPECT_TRUE(close(*bound).ok());
    EXPECT_TRUE(close(*unbound).ok());
  });
}

TEST(UnixAdopt, APipeIsNotASocketAndIsLeftUntouched) {
  run_in_fiber([] {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);  // blocking, inherited across exec
    Fd r(p[0]), w(p[1]);
    const int fl = ::fcntl(r.get(), F_GETFL);
    const int fdfl = ::fcntl(r.get(), F_GETFD);
    EXPECT_EQ(adopt(r.get()).error(), wsa::enotsock);
    EXPECT_EQ(adopt(w.get()).error(), wsa::enotsock);
    EXPECT_EQ(::fcntl(r.get(), F_GETFL), fl);
    EXPECT_EQ(::fcntl(r.get(), F_GETFD), fdfl);
    EXPECT_EQ(::write(w.get(), "x", 1), 1);  // still open, still the caller's
    char c = 0;
    EXPECT_EQ(::read(r.get(), &c, 1), 1);
    EXPECT_EQ(c, 'x');
    Fd file(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(adopt(file.get()).error(), wsa::enotsock);
    EXPECT_EQ(adopt(-1).error(), wsa::enotsock);
    int closed = ::dup(r.get());
    ::close(closed);
    EXPECT_EQ(adopt(closed).error(), wsa::enotsock);
  });
}

TEST(UnixAdopt, AnotherFamilyOrNoRuntimeIsRefusedAndLeftUntouched) {
  run_in_fiber([] {
    Fd netlink(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (netlink.get() >= 0) {
      EXPECT_EQ(adopt(netlink.get()).error(), wsa::eafnosupport);
      EXPECT_FALSE(non_blocking(netlink.get()));
    }
  });
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  Result<Socket> r = wsa::eintr;
  std::thread([&] { r = adopt(a.get()); }).join();  // no runtime on that thread
  EXPECT_EQ(r.error(), wsa::einval);
  EXPECT_FALSE(non_blocking(a.get()));
}

// --- arguments and options ----------------------------------------------------------------------

TEST(UnixErrors, SocketKindsListenAndFamiliesOfAddresses) {
  run_in_fiber([] {
    EXPECT_EQ(weft::socket(AF_UNIX, SOCK_RAW).error(), wsa::einval);
    EXPECT_EQ(weft::socket(AF_UNIX, SOCK_STREAM, 1).error(), wsa::einval);
    EXPECT_EQ(weft::socket(AF_INET, SOCK_SEQPACKET).error(), wsa::einval);
    auto u = socket(AF_UNIX, SOCK_STREAM);
    auto d = socket(AF_UNIX, SOCK_DGRAM);
    auto t = socket(AF_INET, SOCK_STREAM);
    EXPECT_EQ(listen(*u, 1).error(), wsa::einval);  // not bound
    EXPECT_EQ(listen(*d, 1).error(), wsa::eopnotsupp);
    const Address path = fresh_name(Space::filesystem, "fam").address();
    EXPECT_EQ(bind(*u, Address::loopback_v4(0)).error(), wsa::eafnosupport);
    EXPECT_EQ(bind(*t, path).error(), wsa::eafnosupport);
    EXPECT_EQ(connect(*u, Address::loopback_v4(1)).error(), wsa::eafnosupport);
    EXPECT_EQ(connect(*t, path).error(), wsa::eafnosupport);
    EXPECT_EQ(send_to(*d, "x", 1, Address::loopback_v4(1)).error(), wsa::eafnosupport);
    const Name missing_dir{Space::filesystem, temp_dir() + "/no/such/dir", "", ""};
    EXPECT_EQ(bind(*u, missing_dir.address()).error(), std::errc::no_such_file_or_directory);
    for (Socket s : {*u, *d, *t}) EXPECT_TRUE(close(s).ok());
  });
}

TEST(UnixErrors, TcpOptionsOnAUnixSocketAreNoProtocolOption) {
  run_in_fiber([] {
    auto [a, b] = *socketpair(SOCK_STREAM);
    EXPECT_EQ(set_nodelay(a, true).error(), wsa::enoprotoopt);
    int v = 0;
    socklen_t len = sizeof v;
    EXPECT_EQ(get_option(a, IPPROTO_TCP, TCP_NODELAY, &v, &len).error(), wsa::enoprotoopt);
    int size = 8192;
    EXPECT_TRUE(set_option(a, SOL_SOCKET, SO_SNDBUF, &size, sizeof size).ok());
    len = sizeof v;
    ASSERT_OK(get_option(a, SOL_SOCKET, SO_TYPE, &v, &len));
    EXPECT_EQ(v, SOCK_STREAM);
    EXPECT_TRUE(set_reuse_address(a, true).ok());  // accepted, and meaningless here
    EXPECT_TRUE(close(a).ok());
    EXPECT_TRUE(close(b).ok());
  });
}

}  // namespace
