// The rows of semantics.md §3 and §4 on a Unix stream (semantics.md §10), as the kernel makes
// them: AF_UNIX has no RST, and a connect to a full backlog is refused rather than left under
// way. The peers are plain POSIX AF_UNIX sockets.
#include "../support/process.hpp"
#include "../support/run.hpp"
#include "../support/unix.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using namespace weft::test;

// --- §3 on a Unix stream --------------------------------------------------------------------

TEST(UnixCancel, ACancelledRecvConsumesNothing) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    EXPECT_EQ(recv_cancelled_while_blocked(c.s).error(), wsa::eintr);
    test::posix_send_all(c.peer.get(), "0123456789");
    std::string got(10, '\0');
    ASSERT_OK(recv_exact(c.s, got.data(), got.size()));
    EXPECT_EQ(got, "0123456789");
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(UnixCancel, ACancelledRecvFdsTakesNoByteAndNoDescriptor) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    Result<std::size_t> first = wsa::einval;
    std::vector<int> fds;
    auto reader = spawn([&] {
      char b[8];
      first = recv_fds(c.s, b, sizeof b, fds);
    });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*reader).ok());
    ASSERT_OK(join(*reader));
    EXPECT_EQ(first.error(), wsa::eintr);
    EXPECT_TRUE(fds.empty());
    Pipe pipe;
    posix_send_with_fd(c.peer.get(), "m", pipe.w.get());
    char b[8];
    auto n = recv_fds(c.s, b, sizeof b, fds);
    ASSERT_OK(n);
    EXPECT_EQ(std::string(b, *n), "m");
    ASSERT_EQ(fds.size(), 1u);
    Fd passed(fds[0]);
    ASSERT_EQ(::write(passed.get(), "p", 1), 1);
    char p = 0;
    EXPECT_EQ(::read(pipe.r.get(), &p, 1), 1);
    EXPECT_EQ(p, 'p');
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(UnixCancel, ACancelledRecvFromConsumesNoDatagram) {
  run_in_fiber([] {
    const Name name = fresh_name(Space::abstract, "dg");
    auto d = socket(AF_UNIX, SOCK_DGRAM);
    ASSERT_OK(bind(*d, name.address()));
    Result<std::size_t> first = wsa::einval;
    auto reader = spawn([&] {
      char b[8];
      first = recv_from(*d, b, sizeof b, nullptr);
    });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*reader).ok());
    ASSERT_OK(join(*reader));
    EXPECT_EQ(first.error(), wsa::eintr);
    Fd sender(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    for (const char* m : {"one", "two"}) {
      ASSERT_EQ(::sendto(sender.get(), m, 3, 0, name.address().data(), name.address().size()), 3);
    }
    EXPECT_EQ(recv_string(*d), "one");
    EXPECT_EQ(recv_string(*d), "two");
    EXPECT_TRUE(close(*d).ok());
  });
}

TEST(UnixCancel, ACancelledSendThatMovedNothingLeavesTheSocketUnchanged) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    std::size_t queued = test::fill_send_buffer(c.s);
    ASSERT_GT(queued, 0u);
    Result<std::size_t> sent = wsa::einval;
    auto sender = spawn([&] { sent = send(c.s, "tail", 4); });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*sender).ok());
    ASSERT_OK(join(*sender));
    EXPECT_EQ(sent.error(), wsa::eintr);
    EXPECT_EQ(test::posix_read_n(c.peer.get(), queued).size(), queued);
    ASSERT_EQ(send(c.s, "next", 4).value_or(0), 4u);
    EXPECT_EQ(test::posix_read_n(c.peer.get(), 4), "next");
    EXPECT_TRUE(close(c.s).ok());
  });
}

// A send of more than the socket takes at once, cancelled once it has moved part: the bytes
// it moved, and what the peer then sees.
struct CutSend {
  Result<std::size_t> result = wsa::einval;
  test::PeerView peer;
};

CutSend cancel_a_send_midway(test::PeerConnection& c) {
  CutSend out;
  std::string big(4 << 20, 'b');
  auto sender = spawn([&] { out.result = send(c.s, big.data(), big.size()); });
  this_fiber::yield();
  EXPECT_TRUE(cancel_blocking_call(*sender).ok());
  EXPECT_TRUE(join(*sender).ok());
  out.peer = test::posix_read_to_end(c.peer.get());
  EXPECT_GT(out.peer.data.size(), 0u);
  EXPECT_LT(out.peer.data.size(), big.size());
  return out;
}

TEST(UnixCancel, ACancelledSendThatMovedBytesClosesAndThePeerReadsThemThenEndOfFile) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    CutSend cut = cancel_a_send_midway(c);
    EXPECT_EQ(cut.result.error(), wsa::eintr);
    // No RST on AF_UNIX: every byte that reached the peer is read, then end of file.
    EXPECT_TRUE(cut.peer.eof);
    EXPECT_EQ(cut.peer.error, 0);
    char b[4];
    EXPECT_EQ(recv(c.s, b, 4).error(), wsa::econnaborted);
    EXPECT_EQ(send(c.s, b, 4).error(), wsa::econnaborted);
    EXPECT_EQ(shutdown(c.s, Shutdown::both).error(), wsa::econnaborted);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(UnixCancel, ACancelledSendThatMovedBytesIsEconnresetToAPeerWhoseBytesWereUnread) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    test::posix_send_all(c.peer.get(), "never read");
    CutSend cut = cancel_a_send_midway(c);
    EXPECT_EQ(cut.result.error(), wsa::eintr);
    EXPECT_EQ(cut.peer.error, ECONNRESET);  // after every byte that reached it
    EXPECT_FALSE(cut.peer.eof);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(UnixCancel, ACancelledSendFdsThatMovedNothingPassedNoDescriptor) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    std::size_t queued = test::fill_send_buffer(c.s);
    Pipe pipe;
    const int fds[] = {pipe.r.get()};
    Result<std::size_t> sent = wsa::einval;
    auto sender = spawn([&] { sent = send_fds(c.s, "F", 1, fds); });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*sender).ok());
    ASSERT_OK(join(*sender));
    EXPECT_EQ(sent.error(), wsa::eintr);
    // The peer reads what was queued before, and no descriptor came with it.
    std::size_t got = 0;
    while (got < queued) {
      Received r = posix_recv_with_fds(c.peer.get(), queued - got);
      ASSERT_FALSE(r.data.empty());
      EXPECT_TRUE(r.fds.empty());
      got += r.data.size();
    }
    EXPECT_TRUE(posix_recv_with_fds(c.peer.get(), 1, MSG_DONTWAIT).would_block);
    // Unchanged: the next send_fds passes its descriptor.
    ASSERT_EQ(send_fds(c.s, "G", 1, fds).value_or(0), 1u);
    Received r = posix_recv_with_fds(c.peer.get(), 8);
    EXPECT_EQ(r.data, "G");
    EXPECT_EQ(r.fds.size(), 1u);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(UnixCancel, ACancelledSendFdsThatMovedBytesResetsAfterPassingItsDescriptors) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    Pipe pipe;
    const int fds[] = {pipe.r.get()};
    std::string big(4 << 20, 'b');
    Result<std::size_t> sent = wsa::einval;
    auto sender = spawn([&] { sent = send_fds(c.s, big.data(), big.size(), fds); });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*sender).ok());
    ASSERT_OK(join(*sender));
    EXPECT_EQ(sent.error(), wsa::eintr);
    char b[4];
    EXPECT_EQ(recv(c.s, b, 4).error(), wsa::econnaborted);
    // The descriptor came with the first bytes; then the bytes that reached it, then the end.
    Received first = posix_recv_with_fds(c.peer.get(), 4096);
    EXPECT_FALSE(first.data.empty());
    EXPECT_EQ(first.fds.size(), 1u);
    test::PeerView rest = test::posix_read_to_end(c.peer.get());
    EXPECT_LT(first.data.size() + rest.data.size(), big.size());
    EXPECT_TRUE(rest.eof);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(UnixCancel, PortableModeResetsAfterACancelledRecv) {
  RuntimeOptions options;
  options.portable_mode = true;
  run_in_fiber(
      [] {
        auto c = connect_to_posix_unix_peer();
        EXPECT_EQ(recv_cancelled_while_blocked(c.s).error(), wsa::eintr);
        char b[4];
        EXPECT_EQ(recv(c.s, b, 4).error(), wsa::econnaborted);
        EXPECT_EQ(send(c.s, b, 4).error(), wsa::econnaborted);
        // The kernel socket is closed; with nothing of the peer's unread, it reads the end.
        EXPECT_TRUE(test::posix_read_to_end(c.peer.get()).eof);
        EXPECT_TRUE(close(c.s).ok());
      },
      options);
}

TEST(UnixCancel, TheKernelsEconnresetIsWsaeconnresetAndStays) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    ASSERT_OK(send(c.s, "unread", 6));
    test::posix_send_all(c.peer.get(), "last words");
    c.peer.reset();  // closes with "unread" unread: Linux gives this side ECONNRESET
    EXPECT_EQ(recv_string(c.s), "last words");
    char b[8];
    EXPECT_EQ(recv(c.s, b, sizeof b).error(), wsa::econnreset);
    EXPECT_EQ(recv(c.s, b, sizeof b).error(), wsa::econnreset);  // sticky
    EXPECT_EQ(send(c.s, b, 1).error(), wsa::econnreset);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(UnixCancel, ADeadlineEndsARecvAndTakesNothing) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    CancelSource deadline(20ms);
    char b[8];
    EXPECT_EQ(recv(c.s, b, sizeof b, 0, deadline.token()).error(), wsa::etimedout);
    test::posix_send_all(c.peer.get(), "x");
    EXPECT_EQ(recv_string(c.s), "x");
    EXPECT_TRUE(close(c.s).ok());
  });
}

// A listener whose backlog is full: Linux refuses a non-blocking AF_UNIX connect to it with
// EAGAIN. Backlog 0 admits one queued connection: the filler's.
struct FullListener {
  Fd listener;
  Fd filler;
  Address addr;
  FullListener() {
    listener = posix_unix_listener(addr, 0);
    filler = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(::connect(filler.get(), addr.data(), addr.size()), 0);
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    EXPECT_EQ(::connect(probe.get(), addr.data(), addr.size()), -1);
    EXPECT_EQ(errno, EAGAIN) << "the backlog is not full";
  }
  // The filler is the only connection ever queued: accepted, and nothing after it.
  void expect_only_the_filler_queued() {
    Fd first = test::posix_accept(listener.get(), 0);
    EXPECT_GE(first.get(), 0);
    EXPECT_FALSE(test::posix_readable(listener.get(), 0));
  }
};

TEST(UnixConnect, ACancelledConnectOnAFullBacklogAbortsTheSocketAndHoldsNothing) {
  run_in_fiber([] {
    FullListener full;
    auto s = socket(AF_UNIX, SOCK_STREAM);
    Status connected;
    auto connector = spawn([&] { connected = connect(*s, full.addr); });
    this_fiber::yield();
    (void)this_fiber::sleep_for(5ms);  // a few refused retries; none can succeed
    ASSERT_TRUE(cancel_blocking_call(*connector).ok());
    ASSERT_OK(join(*connector));
    EXPECT_EQ(connected.error(), wsa::eintr);
    EXPECT_EQ(Runtime::current()->stats().pending_connects, 0u);  // nothing under way
    char b[4];
    EXPECT_EQ(send(*s, b, 4).error(), wsa::econnaborted);
    EXPECT_EQ(connect(*s, full.addr).error(), wsa::econnaborted);
    EXPECT_TRUE(close(*s).ok());
    full.expect_only_the_filler_queued();
  });
}

TEST(UnixConnect, ATimedOutConnectOnAFullBacklogLeavesTheSameAsACancel) {
  run_in_fiber([] {
    FullListener full;
    auto s = socket(AF_UNIX, SOCK_STREAM);
    EXPECT_EQ(connect(*s, full.addr, 30ms).error(), wsa::etimedout);
    EXPECT_EQ(Runtime::current()->stats().pending_connects, 0u);
    char b[4];
    EXPECT_EQ(recv(*s, b, 4).error(), wsa::econnaborted);
    EXPECT_TRUE(close(*s).ok());
    full.expect_only_the_filler_queued();
  });
}

TEST(UnixConnect, AConnectWaitingOnAFullBacklogConnectsWhenRoomComes) {
  run_in_fiber([] {
    FullListener full;
    auto s = socket(AF_UNIX, SOCK_STREAM);
    Status connected = wsa::einval;
    auto connector = spawn([&] { connected = connect(*s, full.addr); });
    this_fiber::yield();  // refused once: it waits
    EXPECT_EQ(connect(*s, full.addr).error(), wsa::einprogress);
    Fd first = test::posix_accept(full.listener.get(), 0);  // room for one more
    ASSERT_OK(join(*connector));
    EXPECT_TRUE(connected.ok()) << connected.error().message();
    Fd second = test::posix_accept(full.listener.get());
    ASSERT_GE(second.get(), 0);
    ASSERT_OK(send(*s, "hi", 2));
    EXPECT_EQ(test::posix_read_n(second.get(), 2), "hi");
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST(UnixConnect, AClosedSocketEndsAConnectWaitingOnAFullBacklog) {
  run_in_fiber([] {
    FullListener full;
    auto s = socket(AF_UNIX, SOCK_STREAM);
    Status connected;
    auto connector = spawn([&] { connected = connect(*s, full.addr); });
    this_fiber::yield();
    EXPECT_TRUE(close(*s).ok());
    ASSERT_OK(join(*connector));
    EXPECT_EQ(connected.error(), wsa::eintr);
    full.expect_only_the_filler_queued();
  });
}

TEST(UnixConnect, RefusedAndMissingNamesSayWhy) {
  run_in_fiber([] {
    // A path bound by a socket that does not listen.
    const Name bound = fresh_name(Space::filesystem, "notlistening");
    auto quiet = socket(AF_UNIX, SOCK_STREAM);
    ASSERT_OK(bind(*quiet, bound.address()));
    auto s = socket(AF_UNIX, SOCK_STREAM);
    EXPECT_EQ(connect(*s, bound.address()).error(), wsa::econnrefused);
    // An abstract name nobody holds.
    EXPECT_EQ(connect(*s, fresh_name(Space::abstract, "nobody").address()).error(),
              wsa::econnrefused);
    // A path where nothing is.
    Status missing = connect(*s, fresh_name(Space::filesystem, "missing").address());
    EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory) << missing.error().message();
    // The socket is still usable after each refusal.
    Address addr;
    Fd l = posix_unix_listener(addr);
    EXPECT_TRUE(connect(*s, addr).ok());
    EXPECT_TRUE(close(*s).ok());
    EXPECT_TRUE(close(*quiet).ok());
  });
}

// --- §4: close and linger on a Unix stream ------------------------------------------------------

TEST(UnixClose, LingerZeroClosesAtOnceAndThePeerReadsWhatReachedIt) {
  run_in_fiber([] {
    {
      auto c = connect_to_posix_unix_peer();
      ASSERT_OK(send(c.s, "data", 4));
      ASSERT_OK(set_linger(c.s, 0s));
      EXPECT_TRUE(close(c.s).ok());
      test::PeerView v = test::posix_read_to_end(c.peer.get());
      EXPECT_EQ(v.data, "data");  // nothing discarded: it was in the peer's queue
      EXPECT_TRUE(v.eof);
    }
    {
      auto c = connect_to_posix_unix_peer();
      test::posix_send_all(c.peer.get(), "unread");
      ASSERT_OK(send(c.s, "data", 4));
      ASSERT_OK(set_linger(c.s, 0s));
      EXPECT_TRUE(close(c.s).ok());
      test::PeerView v = test::posix_read_to_end(c.peer.get());
      EXPECT_EQ(v.data, "data");
      EXPECT_EQ(v.error, ECONNRESET);
    }
  });
}

TEST(UnixClose, LingerWaitsUntilThePeerHasReadEverything) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    std::size_t queued = test::fill_send_buffer(c.s);
    ASSERT_OK(set_linger(c.s, 30s));
    Status closed = wsa::einval;
    bool returned = false;
    auto closer = spawn([&] {
      closed = close(c.s);
      returned = true;
    });
    this_fiber::yield();
    EXPECT_FALSE(returned);                                    // the peer has read nothing yet
    test::PeerView v = test::posix_read_to_end(c.peer.get());  // shut down for writing: EOF
    EXPECT_EQ(v.data.size(), queued);
    EXPECT_TRUE(v.eof);
    ASSERT_OK(join(*closer));
    EXPECT_TRUE(closed.ok());
  });
}

TEST(UnixClose, ACancelledLingerClosesAndTheHandleStaysValidUntilClosed) {
  run_in_fiber([] {
    auto c = connect_to_posix_unix_peer();
    std::size_t queued = test::fill_send_buffer(c.s);
    ASSERT_OK(set_linger(c.s, 30s));
    Status closed;
    auto closer = spawn([&] { closed = close(c.s); });
    this_fiber::yield();
    ASSERT_TRUE(cancel_blocking_call(*closer).ok());
    ASSERT_OK(join(*closer));
    EXPECT_EQ(closed.error(), wsa::eintr);
    char b;
    EXPECT_EQ(recv(c.s, &b, 1).error(), wsa::econnaborted);
    EXPECT_TRUE(close(c.s).ok());
    test::PeerView v = test::posix_read_to_end(c.peer.get());
    EXPECT_EQ(v.data.size(), queued);  // it had all reached the peer
    EXPECT_TRUE(v.eof);
  });
}

TEST(UnixClose, APathStaysAfterCloseAndBindingItAgainIsAddressInUse) {
  run_in_fiber([] {
    const Name name = fresh_name(Space::filesystem, "stays");
    auto s = socket(AF_UNIX, SOCK_STREAM);
    ASSERT_OK(bind(*s, name.address()));
    ASSERT_OK(listen(*s, 1));
    auto again = socket(AF_UNIX, SOCK_STREAM);
    EXPECT_EQ(bind(*again, name.address()).error(), wsa::eaddrinuse);
    EXPECT_TRUE(close(*s).ok());
    struct stat st {};
    ASSERT_EQ(::stat(name.path.c_str(), &st), 0);  // weft does not unlink it
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(bind(*again, name.address()).error(), wsa::eaddrinuse);
    ASSERT_EQ(::unlink(name.path.c_str()), 0);
    EXPECT_TRUE(bind(*again, name.address()).ok());
    EXPECT_TRUE(close(*again).ok());
  });
}

}  // namespace

namespace {

TEST(UnixConnect, ItsTimeoutEndsItEvenWhenARetryComesDueInTheSameTurn) {
  run_in_fiber([] {
    FullListener full;
    // A fiber that keeps the loop busy for 3 ms at a time, so that it often wakes late, with
    // the retry's timer and the timeout's both due: the timeout must not be lost to the retry.
    bool stop = false;
    auto busy = spawn([&] {
      while (!stop) {
        auto until = std::chrono::steady_clock::now() + 3ms;
        while (std::chrono::steady_clock::now() < until) {}
        this_fiber::yield();
      }
    });
    // A hang guard, not a timing assertion: a lost timeout would leave the call waiting
    // until the guard's cancel, and it would return WSAEINTR instead of WSAETIMEDOUT.
    CancelSource guard;
    std::atomic<bool> done{false};
    std::thread watchdog([&] {
      for (int i = 0; i < 3000 && !done.load(); ++i) std::this_thread::sleep_for(10ms);
      guard.cancel();
    });
    for (int ms = 1; ms <= 12; ++ms) {
      auto s = socket(AF_UNIX, SOCK_STREAM);
      EXPECT_EQ(connect(*s, full.addr, std::chrono::milliseconds(ms), guard.token()).error(),
                wsa::etimedout)
          << ms << " ms";
      EXPECT_TRUE(close(*s).ok());
    }
    done = true;
    watchdog.join();
    stop = true;
    ASSERT_OK(join(*busy));
  });
}

}  // namespace
