// The "wsa" error category and Result<T> (semantics.md §7).
#include <weft/error.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace {

using weft::Result;
using weft::Status;
using weft::wsa;

TEST(WsaCategory, IsNamedWsa) { EXPECT_STREQ(weft::wsa_category().name(), "wsa"); }

TEST(WsaCategory, KeepsWinsockNumbers) {
  EXPECT_EQ(static_cast<int>(wsa::eintr), 10004);
  EXPECT_EQ(static_cast<int>(wsa::efault), 10014);
  EXPECT_EQ(static_cast<int>(wsa::einval), 10022);
  EXPECT_EQ(static_cast<int>(wsa::emfile), 10024);
  EXPECT_EQ(static_cast<int>(wsa::ewouldblock), 10035);
  EXPECT_EQ(static_cast<int>(wsa::einprogress), 10036);
  EXPECT_EQ(static_cast<int>(wsa::enotsock), 10038);
  EXPECT_EQ(static_cast<int>(wsa::eaddrinuse), 10048);
  EXPECT_EQ(static_cast<int>(wsa::enetdown), 10050);
  EXPECT_EQ(static_cast<int>(wsa::econnaborted), 10053);
  EXPECT_EQ(static_cast<int>(wsa::econnreset), 10054);
  EXPECT_EQ(static_cast<int>(wsa::enobufs), 10055);
  EXPECT_EQ(static_cast<int>(wsa::enotconn), 10057);
  EXPECT_EQ(static_cast<int>(wsa::eshutdown), 10058);
  EXPECT_EQ(static_cast<int>(wsa::etimedout), 10060);
  EXPECT_EQ(static_cast<int>(wsa::econnrefused), 10061);
  std::error_code ec = wsa::eintr;
  EXPECT_EQ(ec.value(), 10004);
  EXPECT_EQ(&ec.category(), &weft::wsa_category());
}

TEST(WsaCategory, MapsToPortableConditions) {
  struct Row {
    wsa code;
    std::errc cond;
  };
  const Row rows[] = {
      {wsa::eintr, std::errc::interrupted},
      {wsa::efault, std::errc::bad_address},
      {wsa::einval, std::errc::invalid_argument},
      {wsa::emfile, std::errc::too_many_files_open},
      {wsa::ewouldblock, std::errc::operation_would_block},
      {wsa::einprogress, std::errc::operation_in_progress},
      {wsa::enotsock, std::errc::not_a_socket},
      {wsa::eaddrinuse, std::errc::address_in_use},
      {wsa::enetdown, std::errc::network_down},
      {wsa::econnaborted, std::errc::connection_aborted},
      {wsa::econnreset, std::errc::connection_reset},
      {wsa::enobufs, std::errc::no_buffer_space},
      {wsa::enotconn, std::errc::not_connected},
      {wsa::etimedout, std::errc::timed_out},
      {wsa::econnrefused, std::errc::connection_refused},
  };
  for (const Row& r : rows) {
    std::error_code ec = r.code;
    EXPECT_TRUE(ec == r.cond) << ec.message();
    EXPECT_FALSE(ec.message().empty());
  }
  std::error_code shutdown = wsa::eshutdown;
  EXPECT_EQ(shutdown.default_error_condition().category(), weft::wsa_category());
  EXPECT_NE(shutdown.message().find("WSAESHUTDOWN"), std::string::npos);
}

TEST(Result, HoldsAValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 42);
  EXPECT_FALSE(r.error());
}

TEST(Result, HoldsAnError) {
  Result<int> r = wsa::etimedout;
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), wsa::etimedout);
  EXPECT_EQ(r.value_or(7), 7);
}

TEST(Result, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  Result<std::unique_ptr<int>> moved = std::move(r);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(**moved, 5);
}

TEST(Result, StatusIsOkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  Status e = wsa::einval;
  EXPECT_EQ(e.error(), std::errc::invalid_argument);
}

TEST(ResultDeathTest, ValueOfAnErrorAbortsWithItsMessage) {
  Result<int> r = wsa::enotsock;
  EXPECT_DEATH((void)r.value(), "WSAENOTSOCK");
}

}  // namespace
