// Close and linger, row by row (semantics.md §4), observed by a plain POSIX peer.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::Fd;
using weft::test::run_in_fiber;

using Pair = test::PeerConnection;
Pair connected_pair() { return test::connect_to_posix_peer(); }

TEST(CloseLinger, DefaultIsGracefulPeerGetsAllDataThenEof) {
  run_in_fiber([] {
    Pair p = connected_pair();
    std::string data(200'000, 'x');  // fits in the loopback buffers: send does not block
    ASSERT_EQ(send(p.s, data.data(), data.size()).value_or(0), data.size());
    ASSERT_TRUE(close(p.s).ok());  // never blocks
    auto view = test::posix_read_to_end(p.peer.get());
    EXPECT_TRUE(view.eof);
    EXPECT_EQ(view.error, 0);
    EXPECT_TRUE(view.data == data);
  });
}

TEST(CloseLinger, LingerZeroResetsThePeerSeesEconnreset) {
  run_in_fiber([] {
    Pair p = connected_pair();
    ASSERT_TRUE(send(p.s, "unsent?", 7).ok());
    ASSERT_TRUE(set_linger(p.s, 0s).ok());
    ASSERT_TRUE(close(p.s).ok());
    auto view = test::posix_read_to_end(p.peer.get());
    EXPECT_EQ(view.error, ECONNRESET);
    EXPECT_FALSE(view.eof);
  });
}

TEST(CloseLinger, LingerBlocksUntilThePeerHasEverythingThenFin) {
  run_in_fiber([] {
    Pair p = connected_pair();
    // More than the loopback buffers hold: close is called while data is still queued.
    // (Shrinking the peer's buffers after the handshake would stall the window instead.)
    std::string data(16 << 20, 'y');
    // The peer drains in another thread.
    std::string received;
    bool eof = false;
    std::thread drain([&] {
      auto view = test::posix_read_to_end(p.peer.get(), 10'000);
      received = view.data;
      eof = view.eof;
    });
    ASSERT_TRUE(send(p.s, data.data(), data.size()).ok());
    ASSERT_TRUE(set_linger(p.s, 10s).ok());
    ASSERT_TRUE(close(p.s).ok());
    // close returned: everything was acknowledged, so the peer has it all (or will read it
    // from its buffer); the stream ends with a FIN.
    drain.join();
    EXPECT_EQ(received.size(), data.size());
    EXPECT_TRUE(eof);
  });
}

TEST(CloseLinger, LingerExpiryResetsAndCloseStillReturnsZero) {
  run_in_fiber([] {
    Pair p = connected_pair();
    test::set_small_buffers(p.peer.get());
    // The peer never reads: the data cannot all be acknowledged.
    std::string data(4 << 20, 'z');
    (void)send_some(p.s, data.data(), data.size());
    ASSERT_TRUE(set_linger(p.s, 1s).ok());
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(close(p.s).ok());
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 1s);  // it lingered
    auto view = test::posix_read_to_end(p.peer.get());
    EXPECT_EQ(view.error, ECONNRESET);
  });
}

TEST(CloseLinger, LingerOtherFibersKeepRunning) {
  run_in_fiber([] {
    Pair p = connected_pair();
    test::set_small_buffers(p.peer.get());
    std::string data(4 << 20, 'z');
    (void)send_some(p.s, data.data(), data.size());
    ASSERT_TRUE(set_linger(p.s, 1s).ok());
    int ticks = 0;
    bool closing = true;
    auto ticker = spawn([&] {
      while (closing) {
        ++ticks;
        (void)this_fiber::sleep_for(10ms);
      }
    });
    ASSERT_TRUE(close(p.s).ok());
    closing = false;
    ASSERT_TRUE(join(*ticker).ok());
    EXPECT_GT(ticks, 1);  // the loop was not blocked by the lingering close
  });
}

TEST(CloseLinger, CancelledLingerResetsAndTheHandleStaysValidUntilClosed) {
  run_in_fiber([] {
    Pair p = connected_pair();
    test::set_small_buffers(p.peer.get());
    std::string data(4 << 20, 'z');
    (void)send_some(p.s, data.data(), data.size());
    ASSERT_TRUE(set_linger(p.s, 30s).ok());
    Status closed;
    auto closer = spawn([&] { closed = close(p.s); });
    this_fiber::yield();  // it lingers
    ASSERT_TRUE(cancel_blocking_call(*closer).ok());
    ASSERT_TRUE(join(*closer).ok());
    EXPECT_EQ(closed.error(), wsa::eintr);
    auto view = test::posix_read_to_end(p.peer.get());
    EXPECT_EQ(view.error, ECONNRESET);  // treated as linger expiry
    char b[4];
    EXPECT_EQ(recv(p.s, b, 4).error(), wsa::econnaborted);  // only close is left
    EXPECT_TRUE(close(p.s).ok());
    EXPECT_EQ(close(p.s).error(), wsa::enotsock);
  });
}

TEST(CloseLinger, ClosingCancelsOtherFibersCallsWithWsaeintr) {
  run_in_fiber([] {
    Pair p = connected_pair();
    Result<std::size_t> recv_result = wsa::einval;
    auto reader = spawn([&] {
      char b[16];
      recv_result = recv(p.s, b, sizeof b);
    });
    this_fiber::yield();
    ASSERT_TRUE(close(p.s).ok());
    ASSERT_TRUE(join(*reader).ok());
    EXPECT_EQ(recv_result.error(), wsa::eintr);
    char b[4];
    EXPECT_EQ(recv(p.s, b, 4).error(), wsa::enotsock);
    auto view = test::posix_read_to_end(p.peer.get());
    EXPECT_TRUE(view.eof);
  });
}

TEST(CloseLinger, AcceptersAreCancelledByClosingTheListener) {
  run_in_fiber([] {
    auto l = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(*l, 8).ok());
    Result<Socket> r1 = wsa::einval, r2 = wsa::einval;
    auto a1 = spawn([&] { r1 = accept(*l); });
    auto a2 = spawn([&] { r2 = accept(*l); });
    this_fiber::yield();
    ASSERT_TRUE(close(*l).ok());
    ASSERT_TRUE(join(*a1).ok());
    ASSERT_TRUE(join(*a2).ok());
    EXPECT_EQ(r1.error(), wsa::eintr);
    EXPECT_EQ(r2.error(), wsa::eintr);
  });
}

}  // namespace
