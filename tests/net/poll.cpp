// poll over sockets: readiness, timeouts, zero timeouts, many sockets.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::run_in_fiber;

TEST(Poll, ZeroTimeoutNeverBlocks) {
  run_in_fiber([] {
    auto u = socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(*u, Address::loopback_v4(0)).ok());
    bool other_ran = false;
    auto other = spawn([&] { other_ran = true; });
    PollEntry e{*u, kPollIn};
    auto n = poll({&e, 1}, 0ms);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0);
    EXPECT_FALSE(other_ran);  // the caller never gave up the thread
    ASSERT_TRUE(join(*other).ok());
    EXPECT_TRUE(close(*u).ok());
  });
}

TEST(Poll, ReportsWritableAndReadable) {
  run_in_fiber([] {
    auto a = socket(AF_INET, SOCK_DGRAM);
    auto b = socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(*a, Address::loopback_v4(0)).ok());
    PollEntry e[2] = {{*a, kPollIn}, {*b, kPollOut}};
    auto n = poll(e, 1s);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 1);
    EXPECT_EQ(e[0].revents, 0);
    EXPECT_TRUE(e[1].revents & kPollOut);
    ASSERT_TRUE(send_to(*b, "x", 1, *local_address(*a)).ok());
    PollEntry r{*a, kPollIn};
    n = poll({&r, 1});
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 1);
    EXPECT_TRUE(r.revents & kPollIn);
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*b).ok());
  });
}

TEST(Poll, BlocksUntilReadyOrTimeout) {
  run_in_fiber([] {
    auto a = socket(AF_INET, SOCK_DGRAM);
    auto b = socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(*a, Address::loopback_v4(0)).ok());
    PollEntry e{*a, kPollIn};
    auto n = poll({&e, 1}, 20ms);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0);  // timeout: nothing ready
    auto sender = spawn([&] { ASSERT_TRUE(send_to(*b, "x", 1, *local_address(*a)).ok()); });
    n = poll({&e, 1}, 10s);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 1);
    ASSERT_TRUE(join(*sender).ok());
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*b).ok());
  });
}

TEST(Poll, ListenerIsReadableWithAPendingConnection) {
  run_in_fiber([] {
    auto l = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(*l, 8).ok());
    auto c = socket(AF_INET, SOCK_STREAM);
    auto connector = spawn([&] { ASSERT_TRUE(connect(*c, *local_address(*l)).ok()); });
    PollEntry e{*l, kPollIn};
    auto n = poll({&e, 1}, 10s);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 1);
    auto a = accept(*l);  // ready: does not block
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(join(*connector).ok());
    for (Socket s : {*a, *c, *l}) EXPECT_TRUE(close(s).ok());
  });
}

TEST(Poll, OverAThousandSockets) {
  run_in_fiber([] {
    constexpr int kSockets = 1000;
    std::vector<Socket> socks;
    std::vector<PollEntry> entries;
    for (int i = 0; i < kSockets; ++i) {
      auto s = socket(AF_INET, SOCK_DGRAM);
      ASSERT_TRUE(s.ok()) << i << ": " << s.error().message();
      ASSERT_TRUE(bind(*s, Address::loopback_v4(0)).ok());
      socks.push_back(*s);
      entries.push_back({*s, kPollIn});
    }
    auto sender = socket(AF_INET, SOCK_DGRAM);
    // Only sockets 17 and 923 get a datagram.
    auto writer = spawn([&] {
      ASSERT_TRUE(send_to(*sender, "a", 1, *local_address(socks[17])).ok());
      ASSERT_TRUE(send_to(*sender, "b", 1, *local_address(socks[923])).ok());
    });
    ASSERT_TRUE(join(*writer).ok());
    auto n = poll(entries, 10s);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 2);
    for (int i = 0; i < kSockets; ++i) {
      EXPECT_EQ(entries[i].revents != 0, i == 17 || i == 923) << i;
    }
    for (Socket s : socks) EXPECT_TRUE(close(s).ok());
    EXPECT_TRUE(close(*sender).ok());
  });
}

TEST(Select, WinsockShapeLeavesTheReadySocketsInEachSet) {
  run_in_fiber([] {
    auto a = socket(AF_INET, SOCK_DGRAM);
    auto b = socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(*a, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(bind(*b, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(send_to(*b, "x", 1, *local_address(*a)).ok());
    SocketSet read, write;
    read.add(*a);
    read.add(*b);
    write.add(*b);
    auto n = select(&read, &write, nullptr, 1s);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 2);  // a readable, b writable
    EXPECT_TRUE(read.contains(*a));
    EXPECT_FALSE(read.contains(*b));
    EXPECT_TRUE(write.contains(*b));
    SocketSet none;
    none.add(*b);
    n = select(&none, nullptr, nullptr, 0ms);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0);
    EXPECT_TRUE(none.sockets.empty());
    EXPECT_EQ(select(nullptr, nullptr, nullptr, 0ms).error(), wsa::einval);
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*b).ok());
  });
}

TEST(Select, OutOfBandDataPutsTheSocketInTheExceptSet) {
  run_in_fiber([] {
    Address addr;
    test::Fd l = test::posix_listener(addr);
    auto s = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(connect(*s, addr).ok());
    test::Fd peer = test::posix_accept(l.get());
    SocketSet except;
    except.add(*s);
    auto n = select(nullptr, nullptr, &except, 0ms);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0);
    ASSERT_EQ(::send(peer.get(), "!", 1, MSG_OOB), 1);
    except.add(*s);
    n = select(nullptr, nullptr, &except, 5s);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 1);
    EXPECT_TRUE(except.contains(*s));
    char oob;
    EXPECT_EQ(recv(*s, &oob, 1, MSG_OOB).value_or(0), 1u);
    EXPECT_EQ(oob, '!');
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST(Poll, BadInput) {
  run_in_fiber([] {
    EXPECT_EQ(poll({}, 0ms).error(), wsa::einval);
    PollEntry e{Socket::invalid, kPollIn};
    EXPECT_EQ(poll({&e, 1}, 0ms).error(), wsa::enotsock);
    auto u = socket(AF_INET, SOCK_DGRAM);
    PollEntry ok{*u, kPollOut};
    EXPECT_EQ(poll({&ok, 1}, -1ms).error(), wsa::einval);
    EXPECT_TRUE(close(*u).ok());
  });
}

TEST(Poll, ACancelledPollReturnsWsaeintrAndChangesNothing) {
  run_in_fiber([] {
    auto a = socket(AF_INET, SOCK_DGRAM);
    auto b = socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(*a, Address::loopback_v4(0)).ok());
    Result<int> polled = wsa::einval;
    auto poller = spawn([&] {
      PollEntry e{*a, kPollIn};
      polled = poll({&e, 1});
    });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*poller).ok());
    ASSERT_TRUE(join(*poller).ok());
    EXPECT_EQ(polled.error(), wsa::eintr);
    // The socket is as it was: a datagram sent now is received.
    ASSERT_TRUE(send_to(*b, "x", 1, *local_address(*a)).ok());
    char c;
    EXPECT_EQ(recv_from(*a, &c, 1, nullptr).value_or(0), 1u);
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*b).ok());
  });
}

}  // namespace
