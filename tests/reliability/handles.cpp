// Security of handles: no path from a stale, forged or foreign-runtime handle to another
// socket or to memory. A live socket is watched by a POSIX peer throughout: nothing done
// through a bad handle may reach it.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/wsp.h>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using test::run_in_fiber;

Socket forge(std::uint64_t bits) { return static_cast<Socket>(bits); }

// Every call a handle can be given, with the errors a bad handle may produce; anything else
// (or a success) fails the test.
void expect_no_path(Socket bad) {
  char b[8] = {};
  auto not_a_socket = [](std::error_code ec) { return ec == wsa::enotsock; };
  EXPECT_TRUE(not_a_socket(recv(bad, b, sizeof b, MSG_DONTWAIT).error()));
  EXPECT_TRUE(not_a_socket(send(bad, b, sizeof b, MSG_DONTWAIT).error()));
  EXPECT_TRUE(not_a_socket(send_to(bad, b, 1, Address::loopback_v4(9), MSG_DONTWAIT).error()));
  EXPECT_TRUE(not_a_socket(shutdown(bad, Shutdown::both).error()));
  EXPECT_TRUE(not_a_socket(bind(bad, Address::loopback_v4(0)).error()));
  EXPECT_TRUE(not_a_socket(listen(bad, 1).error()));
  EXPECT_TRUE(not_a_socket(local_address(bad).error()));
  EXPECT_TRUE(not_a_socket(peer_address(bad).error()));
  EXPECT_TRUE(not_a_socket(set_nodelay(bad, true).error()));
  EXPECT_TRUE(not_a_socket(set_linger(bad, 0s).error()));
  PollEntry e{bad, kPollIn};
  EXPECT_TRUE(not_a_socket(poll({&e, 1}, 0ms).error()));
  EXPECT_TRUE(not_a_socket(close(bad).error()));
}

// A live connection whose peer must see nothing but what the test itself sends.
struct Watched {
  test::PeerConnection c = test::connect_to_posix_peer();
  void expect_untouched() {
    ASSERT_EQ(send(c.s, "ok", 2).value_or(0), 2u);
    EXPECT_EQ(test::posix_read_n(c.peer.get(), 2), "ok");
    EXPECT_FALSE(test::posix_readable(c.peer.get(), 0));  // nothing else arrived, no FIN/RST
  }
};

TEST(HandleSecurity, AStaleHandleNeverReachesTheSocketThatReusedItsSlotAndDescriptor) {
  run_in_fiber([] {
    auto old = *socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(close(old).ok());
    Watched w;  // most likely reuses old's slot and descriptor
    expect_no_path(old);
    w.expect_untouched();
    EXPECT_TRUE(close(w.c.s).ok());
  });
}

TEST(HandleSecurity, ForgedHandlesNeverReachALiveSocket) {
  run_in_fiber([] {
    Watched w;
    auto live = static_cast<std::uint64_t>(w.c.s);
    std::vector<std::uint64_t> forged = {
        0,
        1,
        ~std::uint64_t{0},
        ~std::uint64_t{0} - 1,
        live ^ 1,                               // another generation, same slot and runtime
        live + (std::uint64_t{1} << 32),        // the neighbouring slot, same generation
        live ^ (std::uint64_t{1} << 52),        // another runtime index
        live & 0xffffffffull,                   // generation only
        live | (std::uint64_t{0xfffff} << 32),  // the last slot
    };
    std::mt19937_64 rng(12345);
    for (int i = 0; i < 5000; ++i) forged.push_back(rng());
    for (int i = 0; i < 5000; ++i) forged.push_back(live ^ (std::uint64_t{1} << (rng() % 64)));
    for (std::uint64_t bits : forged) {
      if (bits == live) continue;
      char b[4];
      ASSERT_EQ(recv(forge(bits), b, sizeof b, MSG_DONTWAIT).error(), wsa::enotsock)
          << std::hex << bits;
      ASSERT_EQ(send(forge(bits), "xx", 2, MSG_DONTWAIT).error(), wsa::enotsock)
          << std::hex << bits;
      ASSERT_EQ(close(forge(bits)).error(), wsa::enotsock) << std::hex << bits;
    }
    expect_no_path(forge(live ^ 1));
    w.expect_untouched();
    EXPECT_TRUE(close(w.c.s).ok());
  });
}

TEST(HandleSecurity, AnotherRuntimesHandleNeverReachesItsSocketFromHere) {
  Socket theirs = Socket::invalid;
  Runtime other;
  std::thread runner;
  std::atomic<bool> ready{false}, done{false};
  test::PeerConnection conn;
  ASSERT_OK(other.spawn([&] {
    conn = test::connect_to_posix_peer();
    theirs = conn.s;
    ready = true;
    while (!done.load()) (void)this_fiber::sleep_for(1ms);
    (void)close(conn.s);
  }));
  runner = std::thread([&] { (void)other.run(); });
  while (!ready.load()) std::this_thread::yield();
  run_in_fiber([&] { expect_no_path(theirs); });
  done = true;
  runner.join();
  EXPECT_FALSE(test::posix_read_to_end(conn.peer.get(), 2000).error);  // a clean FIN, no RST
}

TEST(HandleSecurity, AHandleFromADestroyedRuntimeNeverReachesALaterRuntimesSocket) {
  Socket old = Socket::invalid;
  run_in_fiber([&] { old = *socket(AF_INET, SOCK_STREAM); });  // destroyed with its runtime
  run_in_fiber([&] {
    Watched w;
    expect_no_path(old);
    w.expect_untouched();
    EXPECT_TRUE(close(w.c.s).ok());
  });
}

TEST(HandleSecurity, TheCAdapterRefusesForgedSocketsWithWsaenotsock) {
  run_in_fiber([] {
    Watched w;
    std::mt19937_64 rng(99);
    for (int i = 0; i < 2000; ++i) {
      auto forged = static_cast<WEFT_SOCKET>(rng());
      if (forged == static_cast<WEFT_SOCKET>(w.c.s)) continue;
      int err = 0;
      char b[4];
      ASSERT_EQ(WSPRecv(forged, b, sizeof b, 0, &err), SOCKET_ERROR);
      ASSERT_EQ(err, WSAENOTSOCK);
      ASSERT_EQ(WSPCloseSocket(forged, &err), SOCKET_ERROR);
      ASSERT_EQ(err, WSAENOTSOCK);
    }
    w.expect_untouched();
    EXPECT_TRUE(close(w.c.s).ok());
  });
}

}  // namespace
