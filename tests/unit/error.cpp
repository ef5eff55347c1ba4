// The "wsa" error category and Result<T> (semantics.md §7).
#include <weft/error.hpp>

#include "errors.hpp"

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
  EXPECT_EQ(static_cast<int>(wsa::host_not_found), 11001);
  EXPECT_EQ(static_cast<int>(wsa::try_again), 11002);
  EXPECT_EQ(static_cast<int>(wsa::no_recovery), 11003);
  EXPECT_EQ(static_cast<int>(wsa::no_data), 11004);
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
  // Codes with no portable condition map to themselves in the "wsa" category, and their
  // messages name them.
  struct Own {
    wsa code;
    const char* name;
  };
  // clang-format off
  const Own own[] = {
      {wsa::eshutdown, "WSAESHUTDOWN"},
      {wsa::host_not_found, "WSAHOST_NOT_FOUND"},
      {wsa::try_again, "WSATRY_AGAIN"},
      {wsa::no_recovery, "WSANO_RECOVERY"},
      {wsa::no_data, "WSANO_DATA"},
  };
  // clang-format on
  for (const Own& o : own) {
    std::error_code ec = o.code;
    EXPECT_EQ(ec.default_error_condition().category(), weft::wsa_category()) << o.name;
    EXPECT_EQ(ec.default_error_condition().value(), static_cast<int>(o.code)) << o.name;
    EXPECT_NE(ec.message().find(o.name), std::string::npos) << ec.message();
  }
  // WSATRY_AGAIN is not "would block", though EAGAIN is EWOULDBLOCK on Linux.
  EXPECT_FALSE(std::error_code(wsa::try_again) == std::errc::operation_would_block);
  EXPECT_FALSE(std::error_code(wsa::try_again) == std::errc::resource_unavailable_try_again);
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

// The value and the error share storage: each copy, move and assignment must carry the one
// that is there, and destroy a value exactly once (ASan checks the latter).
TEST(Result, CopiesMovesAndAssignsAcrossValueAndError) {
  const std::string longer(100, 'x');  // heap-allocated, unlike a short string
  Result<std::string> v = longer;
  Result<std::string> e = wsa::econnreset;
  Result<std::string> v2 = v;
  Result<std::string> e2 = e;
  EXPECT_EQ(*v2, longer);
  EXPECT_EQ(e2.error(), wsa::econnreset);
  v2 = e;  // value to error
  EXPECT_FALSE(v2.ok());
  EXPECT_EQ(v2.error(), wsa::econnreset);
  e2 = v;  // error to value
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ(*e2, longer);
  EXPECT_FALSE(e2.error());
  e2 = Result<std::string>(std::string("y"));  // value to value
  EXPECT_EQ(*e2, "y");
  Result<std::string> moved = std::move(v);
  EXPECT_EQ(*moved, longer);
  Result<std::string> moved_error = std::move(e);
  EXPECT_EQ(moved_error.error(), wsa::econnreset);
}

TEST(Result, KeepsAnotherCategorysError) {
  Result<int> r = std::make_error_code(std::errc::no_such_device_or_address);
  EXPECT_EQ(r.error(), std::errc::no_such_device_or_address);
  EXPECT_EQ(r.error().category(), std::generic_category());
  Result<int> io = std::io_errc::stream;  // an error code enum, as std::error_code takes
  EXPECT_EQ(io.error(), std::io_errc::stream);
  Status s = std::make_error_code(std::errc::address_family_not_supported);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error(), std::errc::address_family_not_supported);
  EXPECT_EQ(s.error().category(), std::generic_category());
}

TEST(Result, StatusOfAZeroErrorCodeIsOk) {
  EXPECT_TRUE(Status(std::error_code()).ok());
  EXPECT_TRUE(Status(std::error_code(0, std::generic_category())).ok());
  EXPECT_FALSE(Status(std::error_code()).error());
  Status s = wsa::eintr;
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error(), wsa::eintr);
  s = Status();
  EXPECT_TRUE(s.ok());
}

// The internal error of the calls' fast paths: "wsa" codes without their category, any
// other kept with its own, and none.
TEST(Err, ConvertsToTheSameErrorCode) {
  using weft::detail::Err;
  EXPECT_FALSE(Err());
  EXPECT_EQ(std::error_code(Err()), std::error_code());

  Err e = wsa::etimedout;
  ASSERT_TRUE(e);
  EXPECT_TRUE(e.is(wsa::etimedout));
  EXPECT_FALSE(e.is(wsa::eintr));
  std::error_code ec = e;
  EXPECT_EQ(ec, wsa::etimedout);
  EXPECT_EQ(&ec.category(), &weft::wsa_category());

  Err from_wsa_code(std::error_code(wsa::eintr));
  EXPECT_TRUE(from_wsa_code.is(wsa::eintr));

  Err other(std::make_error_code(std::errc::timed_out));
  ASSERT_TRUE(other);
  EXPECT_FALSE(other.is(wsa::etimedout));
  EXPECT_EQ(std::error_code(other), std::make_error_code(std::errc::timed_out));

  EXPECT_FALSE(Err(std::error_code()));

  Result<int> r = e;
  EXPECT_EQ(r.error(), wsa::etimedout);
  Status s = other;
  EXPECT_EQ(s.error(), std::errc::timed_out);
  Status none = Err();
  EXPECT_TRUE(none.ok());
}

TEST(ResultDeathTest, ValueOfAnErrorAbortsWithItsMessage) {
  Result<int> r = wsa::enotsock;
  EXPECT_DEATH((void)r.value(), "WSAENOTSOCK");
}

}  // namespace
