// Name resolution on the thread pool.
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace {

using namespace weft;
using weft::test::run_in_fiber;

TEST(Resolve, NumericHostsAndServices) {
  run_in_fiber([] {
    auto r = resolve("127.0.0.1", "8080", AF_INET);
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_FALSE(r->empty());
    EXPECT_EQ(r->front().to_string(), "127.0.0.1:8080");
  });
}

TEST(Resolve, Localhost) {
  run_in_fiber([] {
    auto r = resolve("localhost", "80");
    ASSERT_TRUE(r.ok()) << r.error().message();
    bool loopback = std::any_of(r->begin(), r->end(), [](const Address& a) {
      return a.host() == "127.0.0.1" || a.host() == "::1";
    });
    EXPECT_TRUE(loopback);
  });
}

TEST(Resolve, ANameThatCannotExistFailsWithAWinsockResolverCode) {
  run_in_fiber([] {
    // .invalid never resolves (RFC 2606). Where no name server can be reached the lookup
    // fails for that reason instead: either way with Winsock's code in the "wsa" category,
    // never a number without a message.
    auto r = resolve("no-such-host.invalid", "80");
    ASSERT_FALSE(r.ok());
    std::error_code ec = r.error();
    EXPECT_STREQ(ec.category().name(), "wsa") << ec.value() << ": " << ec.message();
    EXPECT_TRUE(ec == wsa::host_not_found || ec == wsa::try_again || ec == wsa::no_data)
        << ec.value() << ": " << ec.message();
    EXPECT_EQ(ec.message().find("Unknown error"), std::string::npos) << ec.message();
  });
}

TEST(Resolve, BadArgumentsAreRefusedAtOnce) {
  run_in_fiber([] {
    EXPECT_EQ(resolve("", "").error(), wsa::einval);
    EXPECT_EQ(resolve("localhost", "80", AF_UNIX).error(), wsa::eafnosupport);
    EXPECT_EQ(resolve("localhost", "80", AF_INET, SOCK_RAW).error(), wsa::einval);
    EXPECT_EQ(resolve(std::string_view("a\0b", 3), "80").error(), wsa::einval);
    EXPECT_FALSE(resolve("localhost", "no-such-service-name").ok());
  });
}

TEST(Resolve, ACancelledResolveReturnsWsaeintr) {
  run_in_fiber([] {
    Result<std::vector<Address>> r = wsa::einval;
    auto resolver = spawn([&] { r = resolve("localhost", "80"); });
    this_fiber::yield();  // it has queued its request and blocks
    // The loop has not polled since, so the pool's answer cannot have been delivered.
    ASSERT_TRUE(cancel_blocking_call(*resolver).ok());
    ASSERT_TRUE(join(*resolver).ok());
    EXPECT_EQ(r.error(), wsa::eintr);
  });
}

TEST(Resolve, OutsideAFiberIsInvalid) {
  EXPECT_EQ(resolve("localhost", "80").error(), wsa::einval);
}

}  // namespace
