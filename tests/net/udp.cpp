// UDP: datagrams whole, truncation reported, IPv4 and IPv6, against POSIX peers.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

namespace {

using namespace weft;
using weft::test::Fd;
using weft::test::run_in_fiber;

class Udp : public ::testing::TestWithParam<int> {};

Address loopback(int family, std::uint16_t port = 0) {
  return family == AF_INET6 ? Address::loopback_v6(port) : Address::loopback_v4(port);
}

TEST_P(Udp, DatagramsArriveWholeFromAPosixPeer) {
  int family = GetParam();
  run_in_fiber([family] {
    auto s = socket(family, SOCK_DGRAM);
    ASSERT_TRUE(bind(*s, loopback(family)).ok());
    Address me = *local_address(*s);
    Fd peer(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    Address peer_addr = loopback(family);
    ASSERT_EQ(::bind(peer.get(), peer_addr.data(), peer_addr.size()), 0);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(peer.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    peer_addr = *Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);

    std::string d1(1000, 'a'), d2(10, 'b');
    ASSERT_EQ(::sendto(peer.get(), d1.data(), d1.size(), 0, me.data(), me.size()), 1000);
    ASSERT_EQ(::sendto(peer.get(), d2.data(), d2.size(), 0, me.data(), me.size()), 10);
    char buf[2048];
    Address from;
    auto n = recv_from(*s, buf, sizeof buf, &from);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), d1);
    EXPECT_EQ(from, peer_addr);
    n = recv_from(*s, buf, sizeof buf, &from);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), d2);

    ASSERT_EQ(send_to(*s, "reply", 5, peer_addr).value_or(0), 5u);
    ASSERT_TRUE(test::posix_readable(peer.get()));
    EXPECT_EQ(::recv(peer.get(), buf, sizeof buf, 0), 5);
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST_P(Udp, RecvFromBlocksUntilADatagramArrives) {
  int family = GetParam();
  run_in_fiber([family] {
    auto a = socket(family, SOCK_DGRAM);
    auto b = socket(family, SOCK_DGRAM);
    ASSERT_TRUE(bind(*a, loopback(family)).ok());
    Address to = *local_address(*a);
    std::string got;
    auto reader = spawn([&] {
      char buf[64];
      auto n = recv_from(*a, buf, sizeof buf, nullptr);
      if (n.ok()) got.assign(buf, *n);
    });
    this_fiber::yield();
    EXPECT_TRUE(got.empty());
    ASSERT_TRUE(send_to(*b, "dgram", 5, to).ok());
    ASSERT_TRUE(join(*reader).ok());
    EXPECT_EQ(got, "dgram");
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*b).ok());
  });
}

TEST_P(Udp, ADatagramLargerThanTheBufferIsTruncatedAndReported) {
  int family = GetParam();
  run_in_fiber([family] {
    auto a = socket(family, SOCK_DGRAM);
    auto b = socket(family, SOCK_DGRAM);
    ASSERT_TRUE(bind(*a, loopback(family)).ok());
    ASSERT_TRUE(send_to(*b, "0123456789", 10, *local_address(*a)).ok());
    ASSERT_TRUE(send_to(*b, "next", 4, *local_address(*a)).ok());
    char buf[4];
    EXPECT_EQ(recv_from(*a, buf, sizeof buf, nullptr).error(), wsa::emsgsize);
    EXPECT_EQ(std::string(buf, 4), "0123");
    auto n = recv_from(*a, buf, sizeof buf, nullptr);  // the rest was discarded
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), "next");
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*b).ok());
  });
}

TEST_P(Udp, ConnectedDatagramSocketsUseSendAndRecv) {
  int family = GetParam();
  run_in_fiber([family] {
    auto a = socket(family, SOCK_DGRAM);
    auto b = socket(family, SOCK_DGRAM);
    ASSERT_TRUE(bind(*a, loopback(family)).ok());
    ASSERT_TRUE(connect(*b, *local_address(*a)).ok());
    ASSERT_TRUE(send(*b, "hi", 2).ok());
    char buf[8];
    EXPECT_EQ(recv(*a, buf, sizeof buf).value_or(0), 2u);
    EXPECT_EQ(send_to(*a, "x", 1, loopback(family == AF_INET ? AF_INET6 : AF_INET, 9)).error(),
              wsa::eafnosupport);
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*b).ok());
  });
}

INSTANTIATE_TEST_SUITE_P(Families, Udp, ::testing::Values(AF_INET, AF_INET6),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == AF_INET ? "IPv4" : "IPv6";
                         });

}  // namespace
