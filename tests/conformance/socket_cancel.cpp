// What a cancelled socket call returns and leaves behind (semantics.md §3), one test per row,
// observed by plain POSIX peers.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::Fd;
using weft::test::run_in_fiber;

using test::connect_to_posix_peer;
using test::recv_cancelled_while_blocked;
using Conn = test::PeerConnection;

using test::fill_send_buffer;

TEST(RecvCancel, CancelledRecvLosesNoBytes) {
  run_in_fiber([] {
    Conn c = connect_to_posix_peer();
    EXPECT_EQ(recv_cancelled_while_blocked(c.s).error(), wsa::eintr);
    test::posix_send_all(c.peer.get(), "0123456789");
    std::string got(10, '\0');
    ASSERT_TRUE(recv_exact(c.s, got.data(), got.size()).ok());
    EXPECT_EQ(got, "0123456789");  // the stream's next bytes, in order
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(RecvCancel, DataThatArrivedBeforeTheCancelIsStillThere) {
  run_in_fiber([] {
    Conn c = connect_to_posix_peer();
    Result<std::size_t> first = wsa::einval;
    std::string got;
    auto reader = spawn([&] {
      char b[64];
      first = recv(c.s, b, sizeof b);
      if (first.ok()) got.assign(b, *first);
    });
    this_fiber::yield();
    test::posix_send_all(c.peer.get(), "abc");
    // Whichever wins, the bytes are delivered exactly once: by the call, or by the next one.
    (void)cancel_blocking_call(*reader);
    ASSERT_TRUE(join(*reader).ok());
    if (!first.ok()) {
      EXPECT_EQ(first.error(), wsa::eintr);
      char b[8];
      auto n = recv(c.s, b, sizeof b);
      ASSERT_TRUE(n.ok());
      got.assign(b, *n);
    }
    EXPECT_EQ(got, "abc");
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(RecvFromCancel, ACancelledRecvFromConsumesNoDatagram) {
  run_in_fiber([] {
    auto a = socket(AF_INET, SOCK_DGRAM);
    auto b = socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(*a, Address::loopback_v4(0)).ok());
    Result<std::size_t> first = wsa::einval;
    auto reader = spawn([&] {
      char buf[64];
      first = recv_from(*a, buf, sizeof buf, nullptr);
    });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*reader).ok());
    ASSERT_TRUE(join(*reader).ok());
    EXPECT_EQ(first.error(), wsa::eintr);
    ASSERT_TRUE(send_to(*b, "one", 3, *local_address(*a)).ok());
    ASSERT_TRUE(send_to(*b, "two", 3, *local_address(*a)).ok());
    char buf[64];
    auto n = recv_from(*a, buf, sizeof buf, nullptr);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), "one");  // whole datagrams, in order
    n = recv_from(*a, buf, sizeof buf, nullptr);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), "two");
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*b).ok());
  });
}

// One try of the row below; true if the send blocked with nothing moved. The kernel may make
// room in a send buffer it has just reported full (acknowledgements still on their way free
// what they acknowledge), and the send then goes out whole, or in part before it blocks: such
// a try is checked against its own row (a completed send's bytes arrive after the queued
// ones; a cancelled send that moved some resets the connection) and does not count.
bool try_send_cancelled_with_nothing_moved() {
  Conn c = connect_to_posix_peer();
  std::size_t queued = fill_send_buffer(c.s);
  EXPECT_GT(queued, 0u);
  Result<std::size_t> sent = wsa::einval;
  auto sender = spawn([&] { sent = send(c.s, "tail", 4); });
  this_fiber::yield();  // blocked, or done if it found room
  Status cancelled = cancel_blocking_call(*sender);
  EXPECT_TRUE(join(*sender).ok());
  if (!cancelled.ok()) {
    EXPECT_EQ(cancelled.error(), wsa::einval);
    EXPECT_EQ(sent.value_or(0), 4u);
    EXPECT_EQ(test::posix_read_n(c.peer.get(), queued + 4).size(), queued + 4);
    EXPECT_TRUE(close(c.s).ok());
    return false;
  }
  EXPECT_EQ(sent.error(), wsa::eintr);
  // Nothing moved: the socket is as it was (a recv would wait); else it was reset.
  char b[4];
  auto probe = recv(c.s, b, sizeof b, MSG_DONTWAIT);
  if (!probe.ok() && probe.error() == wsa::econnaborted) {
    EXPECT_EQ(test::posix_read_to_end(c.peer.get()).error, ECONNRESET);
    EXPECT_TRUE(close(c.s).ok());
    return false;
  }
  EXPECT_EQ(probe.error(), wsa::ewouldblock);
  // Unchanged: the peer drains what was queued, later sends work, the stream is intact.
  std::string drained = test::posix_read_n(c.peer.get(), queued);
  EXPECT_EQ(drained.size(), queued);
  EXPECT_EQ(send(c.s, "next", 4).value_or(0), 4u);
  EXPECT_EQ(test::posix_read_n(c.peer.get(), 4), "next");
  EXPECT_TRUE(close(c.s).ok());
  return true;
}

TEST(SendCancel, NoByteTransferredLeavesTheSocketUnchanged) {
  run_in_fiber([] {
    bool nothing_moved = false;
    for (int i = 0; i < 50 && !nothing_moved; ++i) {
      nothing_moved = try_send_cancelled_with_nothing_moved();
    }
    EXPECT_TRUE(nothing_moved) << "no try's send blocked with nothing moved";
  });
}

TEST(SendCancel, SomeBytesTransferredResetsTheConnection) {
  run_in_fiber([] {
    Conn c = connect_to_posix_peer();
    // More than the buffers hold: part goes out, then the call blocks.
    std::string big(32 << 20, 'b');
    Result<std::size_t> sent = wsa::einval;
    auto sender = spawn([&] { sent = send(c.s, big.data(), big.size()); });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*sender).ok());
    ASSERT_TRUE(join(*sender).ok());
    EXPECT_EQ(sent.error(), wsa::eintr);
    // The peer observes the reset: never a silently truncated stream.
    auto view = test::posix_read_to_end(c.peer.get());
    EXPECT_EQ(view.error, ECONNRESET);
    EXPECT_FALSE(view.eof);
    EXPECT_LT(view.data.size(), big.size());
    // Every later call but close fails WSAECONNABORTED; close returns 0.
    char b[4];
    EXPECT_EQ(recv(c.s, b, 4).error(), wsa::econnaborted);
    EXPECT_EQ(send(c.s, b, 4).error(), wsa::econnaborted);
    EXPECT_EQ(shutdown(c.s, Shutdown::both).error(), wsa::econnaborted);
    EXPECT_TRUE(close(c.s).ok());
  });
}

// A cancelled accept, then a connection that is still accepted: the same in both modes.
void accept_cancel_leaves_the_listener(RuntimeOptions options) {
  run_in_fiber(
      [] {
        auto l = socket(AF_INET, SOCK_STREAM);
        ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
        ASSERT_TRUE(listen(*l, 8).ok());
        Result<Socket> first = wsa::einval;
        auto acceptor = spawn([&] { first = accept(*l); });
        this_fiber::yield();
        ASSERT_TRUE(cancel_blocking_call(*acceptor).ok());
        ASSERT_TRUE(join(*acceptor).ok());
        EXPECT_EQ(first.error(), wsa::eintr);
        // Still listening: a client connects and is accepted.
        Fd client = test::posix_connect(*local_address(*l));
        auto a = accept(*l);
        ASSERT_TRUE(a.ok());
        EXPECT_TRUE(close(*a).ok());
        EXPECT_TRUE(close(*l).ok());
      },
      options);
}

TEST(AcceptCancel, ListenerAndItsQueueAreUnchanged) { accept_cancel_leaves_the_listener({}); }

TEST(ConnectCancel, AbortsTheHandleAndTheReaperResetsALateConnection) {
  RuntimeOptions options;
  options.connect_reap_timeout = 20s;
  run_in_fiber(
      [] {
        // A listener whose accept queue is full drops further SYNs, so a connect to it stays
        // under way (the kernel retransmits the SYN after about a second).
        Address addr;
        // (Backlog 0 admits exactly one queued connection: the filler.)
        Fd l = test::posix_listener(addr, AF_INET, 0);
        Fd filler = test::posix_connect(addr);
        auto s = socket(AF_INET, SOCK_STREAM);
        Status connected;
        auto connector = spawn([&] { connected = connect(*s, addr); });
        this_fiber::yield();
        ASSERT_TRUE(cancel_blocking_call(*connector).ok());
        ASSERT_TRUE(join(*connector).ok());
        EXPECT_EQ(connected.error(), wsa::eintr);
        EXPECT_EQ(Runtime::current()->stats().pending_connects, 1u);
        // Aborted: everything but close fails WSAECONNABORTED; close returns 0 at once.
        char b[4];
        EXPECT_EQ(send(*s, b, 4).error(), wsa::econnaborted);
        EXPECT_EQ(connect(*s, addr).error(), wsa::econnaborted);
        EXPECT_TRUE(close(*s).ok());
        // Free the queue: the retransmitted SYN completes the attempt, which the reaper
        // then resets. The accepted side sees the RST. (The waits run the loop: the reaper
        // works on this thread.)
        Fd first = test::posix_accept(l.get());
        ASSERT_TRUE(test::posix_readable_from_fiber(l.get(), 15'000))
            << "the attempt never completed";
        Fd late = test::posix_accept(l.get());
        ASSERT_GE(late.get(), 0);
        ASSERT_TRUE(test::posix_readable_from_fiber(late.get(), 15'000));
        auto view = test::posix_read_to_end(late.get(), 0);
        EXPECT_EQ(view.error, ECONNRESET);
        for (int i = 0; i < 1000 && Runtime::current()->stats().pending_connects != 0; ++i) {
          (void)this_fiber::sleep_for(10ms);
        }
        EXPECT_EQ(Runtime::current()->stats().pending_connects, 0u);
      },
      options);
}

TEST(ConnectCancel, ATimedOutConnectLeavesTheSameAsACancel) {
  run_in_fiber([] {
    Address addr;
    Fd l = test::posix_listener(addr, AF_INET, 0);
    Fd filler = test::posix_connect(addr);
    auto s = socket(AF_INET, SOCK_STREAM);
    EXPECT_EQ(connect(*s, addr, 50ms).error(), wsa::etimedout);
    EXPECT_EQ(Runtime::current()->stats().pending_connects, 1u);
    char b[4];
    EXPECT_EQ(recv(*s, b, 4).error(), wsa::econnaborted);
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST(PortableMode, ACancelledRecvResetsTheSocket) {
  RuntimeOptions options;
  options.portable_mode = true;
  run_in_fiber(
      [] {
        Conn c = connect_to_posix_peer();
        EXPECT_EQ(recv_cancelled_while_blocked(c.s).error(), wsa::eintr);
        char b[4];
        EXPECT_EQ(recv(c.s, b, 4).error(), wsa::econnaborted);
        auto view = test::posix_read_to_end(c.peer.get());
        EXPECT_EQ(view.error, ECONNRESET);
        EXPECT_TRUE(close(c.s).ok());
      },
      options);
}

TEST(PortableMode, ADatagramSocketIsUnchangedByACancel) {
  RuntimeOptions options;
  options.portable_mode = true;
  run_in_fiber(
      [] {
        auto a = socket(AF_INET, SOCK_DGRAM);
        auto b = socket(AF_INET, SOCK_DGRAM);
        ASSERT_TRUE(bind(*a, Address::loopback_v4(0)).ok());
        ASSERT_TRUE(connect(*b, *local_address(*a)).ok());
        ASSERT_TRUE(connect(*a, *local_address(*b)).ok());
        Result<std::size_t> first = wsa::einval;
        auto reader = spawn([&] {
          char buf[8];
          first = recv(*a, buf, sizeof buf);
        });
        this_fiber::yield();
        ASSERT_TRUE(cancel_blocking_call(*reader).ok());
        ASSERT_TRUE(join(*reader).ok());
        EXPECT_EQ(first.error(), wsa::eintr);
        ASSERT_TRUE(send(*b, "dg", 2).ok());
        char buf[8];
        EXPECT_EQ(recv(*a, buf, sizeof buf).value_or(0), 2u);
        EXPECT_TRUE(close(*a).ok());
        EXPECT_TRUE(close(*b).ok());
      },
      options);
}

TEST(PortableMode, ACancelledAcceptStillLeavesTheListenerUnchanged) {
  RuntimeOptions options;
  options.portable_mode = true;
  accept_cancel_leaves_the_listener(options);
}

TEST(StopDuringIo, BlockedSocketCallsReturnWsaenetdown) {
  Runtime rt;
  Result<std::size_t> r = wsa::einval;
  Result<Socket> a = wsa::einval;
  (void)rt.spawn([&] {
    Conn c = connect_to_posix_peer();
    auto l = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(*l, 8).ok());
    auto reader = spawn([&] {
      char b[8];
      r = recv(c.s, b, sizeof b);
    });
    auto acceptor = spawn([&] { a = accept(*l); });
    this_fiber::yield();
    Runtime::current()->stop();
    (void)join(*reader);
    (void)join(*acceptor);
    EXPECT_EQ(close(c.s).ok(), true);
    EXPECT_EQ(close(*l).ok(), true);
  });
  ASSERT_TRUE(rt.run().ok());
  EXPECT_EQ(r.error(), wsa::enetdown);
  EXPECT_EQ(a.error(), wsa::enetdown);
  EXPECT_EQ(rt.stats().sockets_open, 0u);
}

}  // namespace
