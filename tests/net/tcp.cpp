// TCP on fibers against plain POSIX peers: every call, its errors, IPv4 and IPv6.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::Fd;
using weft::test::run_in_fiber;

// A weft listener on loopback; returns its handle and address.
Socket weft_listener(Address& bound, int family = AF_INET) {
  auto s = socket(family, SOCK_STREAM);
  EXPECT_TRUE(s.ok()) << s.error().message();
  EXPECT_TRUE(set_reuse_address(*s, true).ok());
  EXPECT_TRUE(
      bind(*s, family == AF_INET6 ? Address::loopback_v6(0) : Address::loopback_v4(0)).ok());
  EXPECT_TRUE(listen(*s, 128).ok());
  bound = *local_address(*s);
  return *s;
}

class Tcp : public ::testing::TestWithParam<int> {};

TEST_P(Tcp, ConnectSendRecvWithAPosixPeer) {
  int family = GetParam();
  run_in_fiber([family] {
    Address addr;
    Fd l = test::posix_listener(addr, family);
    auto s = socket(family, SOCK_STREAM);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(connect(*s, addr).ok());
    Fd peer = test::posix_accept(l.get());
    ASSERT_GE(peer.get(), 0);

    ASSERT_EQ(send(*s, "hello", 5).value_or(0), 5u);
    EXPECT_EQ(test::posix_read_n(peer.get(), 5), "hello");

    test::posix_send_all(peer.get(), "world!");
    char buf[16];
    auto n = recv(*s, buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), "world!");

    auto local = local_address(*s);
    auto remote = peer_address(*s);
    ASSERT_TRUE(local.ok() && remote.ok());
    EXPECT_EQ(local->family(), family);
    EXPECT_EQ(*remote, addr);
    ASSERT_TRUE(close(*s).ok());
  });
}

TEST_P(Tcp, AcceptFromAPosixClient) {
  int family = GetParam();
  run_in_fiber([family] {
    Address addr;
    Socket l = weft_listener(addr, family);
    Fd client = test::posix_connect(addr);
    Address peer;
    auto a = accept(l, &peer);
    ASSERT_TRUE(a.ok()) << a.error().message();
    EXPECT_EQ(peer.family(), family);
    test::posix_send_all(client.get(), "ping");
    char buf[8];
    auto n = recv(*a, buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), "ping");
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(l).ok());
  });
}

TEST_P(Tcp, AcceptBlocksUntilAClientArrives) {
  int family = GetParam();
  run_in_fiber([family] {
    Address addr;
    Socket l = weft_listener(addr, family);
    Result<Socket> accepted = wsa::einval;
    auto acceptor = spawn([&] { accepted = accept(l); });
    this_fiber::yield();  // it blocks: nothing is queued
    EXPECT_FALSE(accepted.ok());
    auto c = socket(family, SOCK_STREAM);
    ASSERT_TRUE(connect(*c, addr).ok());
    ASSERT_TRUE(join(*acceptor).ok());
    ASSERT_TRUE(accepted.ok()) << accepted.error().message();
    EXPECT_TRUE(close(*accepted).ok());
    EXPECT_TRUE(close(*c).ok());
    EXPECT_TRUE(close(l).ok());
  });
}

TEST_P(Tcp, RecvBlocksUntilDataThenReturnsIt) {
  int family = GetParam();
  run_in_fiber([family] {
    auto c = test::connect_to_posix_peer(family);
    Socket* s = &c.s;
    Fd& peer = c.peer;
    std::string got;
    auto reader = spawn([&] {
      char buf[64];
      auto n = recv(*s, buf, sizeof buf);
      if (n.ok()) got.assign(buf, *n);
    });
    this_fiber::yield();
    EXPECT_TRUE(got.empty());
    test::posix_send_all(peer.get(), "late data");
    ASSERT_TRUE(join(*reader).ok());
    EXPECT_EQ(got, "late data");
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST_P(Tcp, SendOfMoreThanTheBuffersHoldBlocksUntilThePeerReads) {
  int family = GetParam();
  run_in_fiber([family] {
    auto c = test::connect_to_posix_peer(family);
    Socket* s = &c.s;
    Fd& peer = c.peer;
    std::string big(8 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131);
    Result<std::size_t> sent = wsa::einval;
    auto sender = spawn([&] { sent = send(*s, big.data(), big.size()); });
    this_fiber::yield();
    EXPECT_FALSE(sent.ok());  // still blocked: 8 MiB does not fit in the socket buffers
    std::string received;
    // Drain from this fiber without blocking the thread for long: poll with short waits.
    while (received.size() < big.size()) {
      received += test::posix_read_n(peer.get(), big.size() - received.size(), 0);
      this_fiber::yield();
    }
    ASSERT_TRUE(join(*sender).ok());
    ASSERT_TRUE(sent.ok());
    EXPECT_EQ(*sent, big.size());
    EXPECT_TRUE(received == big);
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST_P(Tcp, RecvReturnsZeroAtThePeersFin) {
  int family = GetParam();
  run_in_fiber([family] {
    auto c = test::connect_to_posix_peer(family);
    Socket* s = &c.s;
    Fd& peer = c.peer;
    test::posix_send_all(peer.get(), "last");
    peer.reset();
    char buf[16];
    auto n = recv(*s, buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), "last");
    n = recv(*s, buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0u);
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST_P(Tcp, RecvReportsThePeersReset) {
  int family = GetParam();
  run_in_fiber([family] {
    auto c = test::connect_to_posix_peer(family);
    Socket* s = &c.s;
    Fd& peer = c.peer;
    linger rst{1, 0};
    ::setsockopt(peer.get(), SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
    peer.reset();
    char buf[16];
    auto n = recv(*s, buf, sizeof buf);
    EXPECT_EQ(n.error(), wsa::econnreset);
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST_P(Tcp, ConnectToNobodyIsRefused) {
  int family = GetParam();
  run_in_fiber([family] {
    Address addr;
    { Fd l = test::posix_listener(addr, family); }  // the port is free again
    auto s = socket(family, SOCK_STREAM);
    EXPECT_EQ(connect(*s, addr).error(), wsa::econnrefused);
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST_P(Tcp, ShutdownSendGivesThePeerEofAndLaterSendsWsaeshutdown) {
  int family = GetParam();
  run_in_fiber([family] {
    auto c = test::connect_to_posix_peer(family);
    Socket* s = &c.s;
    Fd& peer = c.peer;
    ASSERT_TRUE(send(*s, "bye", 3).ok());
    ASSERT_TRUE(shutdown(*s, Shutdown::send).ok());
    auto view = test::posix_read_to_end(peer.get());
    EXPECT_EQ(view.data, "bye");
    EXPECT_TRUE(view.eof);
    EXPECT_EQ(send(*s, "x", 1).error(), wsa::eshutdown);
    // Receiving still works.
    test::posix_send_all(peer.get(), "ok");
    char buf[4];
    EXPECT_EQ(recv(*s, buf, sizeof buf).value_or(0), 2u);
    ASSERT_TRUE(shutdown(*s, Shutdown::receive).ok());
    EXPECT_EQ(recv(*s, buf, sizeof buf).error(), wsa::eshutdown);
    EXPECT_TRUE(close(*s).ok());
  });
}

INSTANTIATE_TEST_SUITE_P(Families, Tcp, ::testing::Values(AF_INET, AF_INET6),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == AF_INET ? "IPv4" : "IPv6";
                         });

}  // namespace

// Readiness nobody waits for: a socket left with unread bytes after its reader was woken
// is reported readable by every poll (the poll is level-triggered) until its interest is
// dropped. It must go after a callback or two, or the loop would keep polling through the
// reader's sleep instead of waiting for its timer.
TEST(TcpReadiness, AnUnreadSocketNobodyWaitsOnDoesNotKeepTheLoopPolling) {
  Runtime rt;
  std::uint64_t during = 0;
  ASSERT_OK(rt.spawn([&] {
    auto c = test::connect_to_posix_peer();
    // The reader parks first, so that its readable interest is armed; another fiber sends.
    auto sender = spawn([&] { test::posix_send_all(c.peer.get(), "abc"); });
    ASSERT_TRUE(sender.ok());
    char byte = 0;
    ASSERT_EQ(recv(c.s, &byte, 1).value_or(0), 1u);  // two bytes stay unread
    ASSERT_TRUE(join(*sender).ok());
    std::uint64_t before = rt.stats().loop_iterations;
    ASSERT_TRUE(this_fiber::sleep_for(100ms).ok());
    during = rt.stats().loop_iterations - before;
    EXPECT_TRUE(close(c.s).ok());
  }));
  ASSERT_TRUE(rt.run().ok());
  // The sleep's own wake-up, and a few callbacks of the unread socket; never dropping the
  // interest would make this thousands.
  EXPECT_LE(during, 8u);
}
