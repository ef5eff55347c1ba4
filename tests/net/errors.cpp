// Bad input and wrong state: each a clear error code, never a crash (semantics.md §7).
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include "errors.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include <uv.h>

namespace {

using namespace weft;
using weft::test::Fd;
using weft::test::run_in_fiber;

TEST(SocketErrors, OutsideAnyRuntimeIsInvalid) {
  EXPECT_EQ(socket(AF_INET, SOCK_STREAM).error(), wsa::einval);
  char b;
  EXPECT_EQ(recv(static_cast<Socket>(1), &b, 1).error(), wsa::einval);
  EXPECT_EQ(close(static_cast<Socket>(1)).error(), wsa::einval);
}

TEST(SocketErrors, BadFamilyTypeAndProtocol) {
  run_in_fiber([] {
    EXPECT_EQ(socket(AF_NETLINK, SOCK_STREAM).error(), wsa::eafnosupport);
    EXPECT_EQ(socket(12345, SOCK_STREAM).error(), wsa::eafnosupport);
    EXPECT_EQ(socket(AF_INET, SOCK_RAW).error(), wsa::einval);
    EXPECT_EQ(weft::socket(AF_INET, SOCK_STREAM, IPPROTO_UDP).error(), wsa::einval);
  });
}

TEST(SocketErrors, InvalidClosedAndStaleHandlesAreNotSockets) {
  run_in_fiber([] {
    char b[4];
    EXPECT_EQ(recv(Socket::invalid, b, 4).error(), wsa::enotsock);
    EXPECT_EQ(close(static_cast<Socket>(0x1234)).error(), wsa::enotsock);
    auto first = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(close(*first).ok());
    EXPECT_EQ(close(*first).error(), wsa::enotsock);  // double close
    // The slot (and likely the descriptor) is reused by the next socket; the old handle
    // must not reach it.
    auto second = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(second.ok());
    EXPECT_NE(*first, *second);
    EXPECT_EQ(bind(*first, Address::loopback_v4(0)).error(), wsa::enotsock);
    EXPECT_EQ(set_nodelay(*first, true).error(), wsa::enotsock);
    EXPECT_TRUE(bind(*second, Address::loopback_v4(0)).ok());
    EXPECT_TRUE(close(*second).ok());
  });
}

TEST(SocketErrors, AnotherRuntimesHandleIsNotASocketHere) {
  Socket foreign = Socket::invalid;
  run_in_fiber([&] { foreign = *socket(AF_INET, SOCK_STREAM); });  // closed with its runtime
  Socket mine = Socket::invalid;
  Runtime a, b;
  std::atomic<bool> made{false}, checked{false};
  Status from_b;
  (void)a.spawn([&] {
    mine = *socket(AF_INET, SOCK_STREAM);
    made = true;
    while (!checked) (void)this_fiber::sleep_for(std::chrono::milliseconds(1));
    EXPECT_TRUE(close(mine).ok());
  });
  (void)b.spawn([&] {
    while (!made) (void)this_fiber::sleep_for(std::chrono::milliseconds(1));
    from_b = close(mine);
    EXPECT_EQ(close(foreign).error(), wsa::enotsock);
    checked = true;
  });
  std::thread ta([&] { ASSERT_TRUE(a.run().ok()); });
  std::thread tb([&] { ASSERT_TRUE(b.run().ok()); });
  ta.join();
  tb.join();
  EXPECT_EQ(from_b.error(), wsa::enotsock);
}

TEST(SocketErrors, NullBuffersAndBadFlags) {
  run_in_fiber([] {
    Address addr;
    Fd l = test::posix_listener(addr);
    auto s = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(connect(*s, addr).ok());
    EXPECT_EQ(recv(*s, nullptr, 10).error(), wsa::efault);
    EXPECT_EQ(send(*s, nullptr, 10).error(), wsa::efault);
    EXPECT_EQ(recv_from(*s, nullptr, 10, nullptr).error(), wsa::efault);
    EXPECT_EQ(send_to(*s, nullptr, 10, addr).error(), wsa::efault);
    EXPECT_EQ(recv_exact(*s, nullptr, 3).error(), wsa::efault);
    char b[4];
    EXPECT_EQ(recv(*s, b, 4, MSG_WAITALL).error(), wsa::eopnotsupp);
    EXPECT_EQ(send(*s, b, 4, MSG_MORE).error(), wsa::eopnotsupp);
    EXPECT_EQ(send(*s, b, 0).value_or(99), 0u);  // a zero-length send is fine
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST(SocketErrors, OptionsAreCheckedAndUnknownOnesRefused) {
  run_in_fiber([] {
    auto s = socket(AF_INET, SOCK_STREAM);
    int one = 1;
    EXPECT_EQ(set_option(*s, SOL_SOCKET, SO_DEBUG, &one, sizeof one).error(), wsa::enoprotoopt);
    EXPECT_EQ(set_option(*s, 999, 1, &one, sizeof one).error(), wsa::enoprotoopt);
    EXPECT_EQ(set_option(*s, SOL_SOCKET, SO_ERROR, &one, sizeof one).error(), wsa::enoprotoopt);
    EXPECT_EQ(set_option(*s, SOL_SOCKET, SO_RCVBUF, nullptr, 4).error(), wsa::efault);
    EXPECT_EQ(set_option(*s, SOL_SOCKET, SO_LINGER, &one, sizeof one).error(), wsa::efault);
    EXPECT_TRUE(set_option(*s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one).ok());
    int v = 0;
    socklen_t len = sizeof v;
    ASSERT_TRUE(get_option(*s, SOL_SOCKET, SO_KEEPALIVE, &v, &len).ok());
    EXPECT_EQ(v, 1);
    len = 1;
    EXPECT_EQ(get_option(*s, SOL_SOCKET, SO_KEEPALIVE, &v, &len).error(), wsa::efault);
    EXPECT_EQ(get_option(*s, SOL_SOCKET, SO_TYPE, &v, nullptr).error(), wsa::efault);
    len = sizeof v;
    ASSERT_TRUE(get_option(*s, SOL_SOCKET, SO_TYPE, &v, &len).ok());
    EXPECT_EQ(v, SOCK_STREAM);
    EXPECT_TRUE(set_nodelay(*s, true).ok());
    EXPECT_TRUE(set_reuse_port(*s, true).ok());
    EXPECT_TRUE(set_linger(*s, std::chrono::seconds(0)).ok());
    auto u = socket(AF_INET, SOCK_DGRAM);
    EXPECT_EQ(set_nodelay(*u, true).error(), wsa::enoprotoopt);
    EXPECT_TRUE(close(*u).ok());
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST(SocketErrors, CallsInTheWrongState) {
  run_in_fiber([] {
    auto s = socket(AF_INET, SOCK_STREAM);
    char b[4];
    EXPECT_EQ(recv(*s, b, 4).error(), wsa::enotconn);
    EXPECT_EQ(send(*s, b, 4).error(), wsa::enotconn);
    EXPECT_EQ(peer_address(*s).error(), wsa::enotconn);
    EXPECT_EQ(shutdown(*s, Shutdown::both).error(), wsa::enotconn);
    EXPECT_EQ(accept(*s).error(), wsa::einval);  // not listening
    EXPECT_EQ(listen(*s, -1).error(), wsa::einval);
    EXPECT_EQ(bind(*s, Address::loopback_v6(0)).error(), wsa::eafnosupport);
    ASSERT_TRUE(bind(*s, Address::loopback_v4(0)).ok());
    EXPECT_EQ(bind(*s, Address::loopback_v4(0)).error(), wsa::einval);  // bound twice
    ASSERT_TRUE(listen(*s, 8).ok());
    EXPECT_EQ(recv(*s, b, 4).error(), wsa::enotconn);
    EXPECT_EQ(connect(*s, *local_address(*s)).error(), wsa::einval);
    EXPECT_EQ(connect(*s, Address::loopback_v6(1)).error(), wsa::eafnosupport);
    auto u = socket(AF_INET, SOCK_DGRAM);
    EXPECT_EQ(listen(*u, 8).error(), wsa::eopnotsupp);
    EXPECT_EQ(recv(*u, b, 4).error(), wsa::einval);  // neither bound nor connected
    EXPECT_TRUE(close(*u).ok());
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST(SocketErrors, BindingAnAddressInUse) {
  run_in_fiber([] {
    auto a = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(bind(*a, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(*a, 8).ok());
    auto b = socket(AF_INET, SOCK_STREAM);
    EXPECT_EQ(bind(*b, *local_address(*a)).error(), wsa::eaddrinuse);
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*b).ok());
  });
}

TEST(SocketErrors, BlockingCallsFromAPostedFunctionAreInvalid) {
  Runtime rt;
  Status accept_result;
  Socket l = Socket::invalid;
  (void)rt.spawn([&] {
    l = *socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(bind(l, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(l, 8).ok());
    (void)Runtime::current()->post([&] { accept_result = accept(l).error(); });
    (void)this_fiber::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(close(l).ok());
  });
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(accept_result.error(), wsa::einval);
}

TEST(SocketErrors, ABlockingRecvFromAPostedFunctionIsInvalidEvenWithDataQueued) {
  // Off a fiber a blocking form is refused before it tries (semantics.md §7a step 1), so the
  // answer does not depend on whether data happened to be queued.
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    test::posix_send_all(c.peer.get(), "ab");
    char b[16];
    for (int i = 0; i < 5000 && recv(c.s, b, sizeof b, MSG_PEEK | MSG_DONTWAIT).value_or(0) < 2;
         ++i) {
      (void)this_fiber::sleep_for(std::chrono::milliseconds(1));
    }
    Result<std::size_t> posted = std::size_t{0};
    (void)Runtime::current()->post([&] { posted = recv(c.s, b, sizeof b); });
    (void)this_fiber::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(posted.error(), wsa::einval);
    EXPECT_EQ(recv(c.s, b, sizeof b).value_or(0), 2u);  // nothing was taken
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(SocketErrors, ANonBlockingRecvFromAPostedFunctionFindsQueuedDataEvenAfterAShortRead) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    test::posix_send_all(c.peer.get(), "ab");
    char b[16];
    ASSERT_EQ(recv(c.s, b, sizeof b).value_or(0), 2u);  // short: the socket looks drained
    test::posix_send_all(c.peer.get(), "cd");
    // Wait until the bytes are queued without a readiness event (which would clear the mark).
    for (int i = 0; i < 5000 && recv(c.s, b, sizeof b, MSG_PEEK | MSG_DONTWAIT).value_or(0) < 2;
         ++i) {
      (void)this_fiber::sleep_for(std::chrono::milliseconds(1));
    }
    Result<std::size_t> posted = wsa::einval;
    (void)Runtime::current()->post([&] { posted = recv(c.s, b, sizeof b, MSG_DONTWAIT); });
    (void)this_fiber::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(posted.ok()) << posted.error().message();  // it tried despite the mark
    EXPECT_EQ(*posted, 2u);
    EXPECT_TRUE(close(c.s).ok());
  });
}

// Resolver failures come as libuv's UV_EAI_* codes; each becomes the code Winsock's
// getaddrinfo gives it, in the "wsa" category (semantics.md §7).
TEST(ResolverErrors, UseWinsocksCodes) {
  struct Row {
    int uv;
    wsa code;
  };
  const Row rows[] = {
      {UV_EAI_NONAME, wsa::host_not_found}, {UV_EAI_AGAIN, wsa::try_again},
      {UV_EAI_FAIL, wsa::no_recovery},      {UV_EAI_NODATA, wsa::no_data},
      {UV_EAI_ADDRFAMILY, wsa::no_data},    {UV_EAI_MEMORY, wsa::enobufs},
      {UV_EAI_FAMILY, wsa::eafnosupport},   {UV_EAI_CANCELED, wsa::eintr},
      {UV_EAI_BADFLAGS, wsa::einval},       {UV_EAI_BADHINTS, wsa::einval},
      {UV_EAI_OVERFLOW, wsa::einval},       {UV_EAI_PROTOCOL, wsa::einval},
      {UV_EAI_SERVICE, wsa::einval},        {UV_EAI_SOCKTYPE, wsa::einval},
  };
  for (const Row& row : rows) {
    std::error_code ec = detail::uv_to_error(row.uv);
    EXPECT_EQ(ec, row.code) << uv_err_name(row.uv) << " gave " << ec.category().name() << " "
                            << ec.value() << ": " << ec.message();
  }
  // Every code libuv keeps for the family, known or not, is a "wsa" code with a message.
  for (int uv = -3000; uv >= -3014; --uv) {
    std::error_code ec = detail::uv_to_error(uv);
    EXPECT_EQ(&ec.category(), &wsa_category()) << uv << ": " << ec.message();
    EXPECT_EQ(ec.message().find("Unknown error"), std::string::npos) << uv << ": " << ec.message();
  }
}

TEST(ResolverErrors, HaveWinsocksNumbersAndMessagesButNoErrnoCondition) {
  struct Row {
    wsa code;
    int value;
    const char* name;
  };
  const Row rows[] = {{wsa::host_not_found, 11001, "WSAHOST_NOT_FOUND"},
                      {wsa::try_again, 11002, "WSATRY_AGAIN"},
                      {wsa::no_recovery, 11003, "WSANO_RECOVERY"},
                      {wsa::no_data, 11004, "WSANO_DATA"}};
  for (const Row& row : rows) {
    std::error_code ec = row.code;
    EXPECT_EQ(ec.value(), row.value);
    EXPECT_EQ(ec.message().rfind(row.name, 0), 0u) << ec.message();
    // A name lookup has no errno: no std::errc condition, so "would block" (EAGAIN) in
    // particular does not match WSATRY_AGAIN.
    EXPECT_EQ(&ec.default_error_condition().category(), &wsa_category()) << row.name;
  }
  EXPECT_NE(std::error_code(wsa::try_again), std::errc::resource_unavailable_try_again);
  EXPECT_NE(std::error_code(wsa::host_not_found), std::errc::host_unreachable);
}

TEST(Addresses, ParseAndPrint) {
  auto a = Address::parse("127.0.0.1", 80);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->to_string(), "127.0.0.1:80");
  auto b = Address::parse("::1", 443);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->family(), AF_INET6);
  EXPECT_EQ(b->to_string(), "[::1]:443");
  EXPECT_TRUE(Address::parse("[::1]", 1).ok());
  EXPECT_EQ(Address::parse("localhost", 1).error(), wsa::einval);
  EXPECT_EQ(Address::parse("", 1).error(), wsa::einval);
  EXPECT_EQ(Address::from_sockaddr(nullptr, 16).error(), wsa::efault);
  sockaddr_in short_sa{};
  short_sa.sin_family = AF_INET;
  EXPECT_EQ(Address::from_sockaddr(reinterpret_cast<sockaddr*>(&short_sa), 4).error(), wsa::efault);
  EXPECT_EQ(Address().family(), AF_UNSPEC);
}

}  // namespace
