// The trailing CancelToken of every blocking call, and deadlines on sources (semantics.md §6):
// a token cancelled before the call fails it at once and changes nothing; a token cancelled
// or timed out while the call is suspended ends it with the §3 rule for its operation. One
// test per kind of blocking call, each observed by plain POSIX peers.
#include "../support/peer.hpp"
#include "../support/pool_blocker.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using test::Fd;
using test::run_in_fiber;

// A token whose deadline passes while the call under test is suspended.
CancelToken soon(CancelSource& keep) {
  keep = CancelSource(30ms);
  return keep.token();
}

CancelToken cancelled_token() {
  CancelSource s;
  s.cancel();
  return s.token();
}

bool posix_has_data(int fd) { return test::posix_readable(fd, 0); }

// --- a token already cancelled: every blocking call fails at once, nothing changes --------

TEST(CallToken, ACancelledTokenFailsAStreamCallAtOnceEvenWithDataQueued) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    test::posix_send_all(c.peer.get(), "queued");
    PollEntry e{c.s, kPollIn};
    ASSERT_EQ(poll({&e, 1}, 5s).value_or(0), 1);  // the bytes are in the kernel's queue
    CancelToken t = cancelled_token();
    char b[16];
    // Data is queued, yet the call is a checkpoint: a loop over a fast stream still stops.
    EXPECT_EQ(recv(c.s, b, sizeof b, 0, t).error(), wsa::eintr);
    EXPECT_EQ(recv_exact(c.s, b, 6, t).error(), wsa::eintr);
    EXPECT_EQ(send(c.s, "x", 1, 0, t).error(), wsa::eintr);
    EXPECT_EQ(send_some(c.s, "x", 1, 0, t).error(), wsa::eintr);
    // MSG_DONTWAIT never blocks and ignores tokens; nothing was consumed or sent before.
    auto n = recv(c.s, b, sizeof b, MSG_DONTWAIT, t);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(b, *n), "queued");
    EXPECT_FALSE(posix_has_data(c.peer.get()));
    // Without the token the socket works as before.
    ASSERT_EQ(send(c.s, "ok", 2).value_or(0), 2u);
    EXPECT_EQ(test::posix_read_n(c.peer.get(), 2), "ok");
    EXPECT_TRUE(close(c.s, t).ok());  // close always closes (no linger: nothing to wait for)
  });
}

TEST(CallToken, ACancelledTokenFailsEveryOtherKindOfCallAtOnce) {
  run_in_fiber([] {
    CancelToken t = cancelled_token();
    Address at;
    Fd l = test::posix_listener(at);
    auto s = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(s.ok());
    // connect: nothing started, so the socket is unchanged and connects afterwards.
    EXPECT_EQ(connect(*s, at, 0ms, t).error(), wsa::eintr);
    EXPECT_EQ(Runtime::current()->stats().pending_connects, 0u);
    ASSERT_TRUE(connect(*s, at).ok());
    Fd accepted = test::posix_accept(l.get());

    auto listener = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(bind(*listener, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(*listener, 8).ok());
    EXPECT_EQ(accept(*listener, nullptr, t).error(), wsa::eintr);

    auto u = socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(*u, Address::loopback_v4(0)).ok());
    char b[8];
    EXPECT_EQ(recv_from(*u, b, sizeof b, nullptr, 0, t).error(), wsa::eintr);
    EXPECT_EQ(send_to(*u, "d", 1, *local_address(*u), 0, t).error(), wsa::eintr);
    EXPECT_FALSE(recv_from(*u, b, sizeof b, nullptr, MSG_DONTWAIT).ok());  // nothing was sent

    PollEntry e{*s, kPollIn};
    EXPECT_EQ(poll({&e, 1}, std::nullopt, t).error(), wsa::eintr);
    EXPECT_EQ(poll({&e, 1}, 0ms, t).value_or(-1), 0);  // a zero timeout never blocks
    SocketSet rs;
    rs.add(*s);
    EXPECT_EQ(select(&rs, nullptr, nullptr, 1h, t).error(), wsa::eintr);
    EXPECT_EQ(resolve("localhost", "80", AF_UNSPEC, SOCK_STREAM, t).error(), wsa::eintr);
    EXPECT_EQ(this_fiber::sleep_for(1h, t).error(), wsa::eintr);
    EXPECT_EQ(this_fiber::sleep_for(0ns, t).error(), wsa::eintr);  // a checkpoint too
    EXPECT_EQ(signal_wait(SIGUSR2, t).error(), wsa::eintr);

    auto sleeper = spawn([] { (void)this_fiber::sleep_for(1h); });
    this_fiber::yield();  // it blocks
    EXPECT_EQ(join(*sleeper, t).error(), wsa::eintr);
    ASSERT_TRUE(cancel_blocking_call(*sleeper).ok());
    (void)this_fiber::sleep_for(1ms);  // it ends
    // A checkpoint even where it would not wait (semantics.md §7a): the cancelled token
    // answers first; without it the ended fiber is collected.
    EXPECT_EQ(join(*sleeper, t).error(), wsa::eintr);
    EXPECT_TRUE(join(*sleeper).ok());

    for (Socket x : {*s, *listener, *u}) EXPECT_TRUE(close(x).ok());
  });
}

// --- a token cancelled while the call is suspended -----------------------------------------

TEST(CallToken, ATokenCancelledFromAnotherThreadEndsABlockedRecvAndLosesNoByte) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    CancelSource source;
    std::thread canceller([&] {
      std::this_thread::sleep_for(20ms);
      source.cancel();
    });
    char b[16];
    EXPECT_EQ(recv(c.s, b, sizeof b, 0, source.token()).error(), wsa::eintr);
    canceller.join();
    // Sticky for that token; the socket is unchanged for every other call.
    EXPECT_EQ(recv(c.s, b, sizeof b, 0, source.token()).error(), wsa::eintr);
    test::posix_send_all(c.peer.get(), "next");
    EXPECT_EQ(recv(c.s, b, sizeof b).value_or(0), 4u);
    EXPECT_EQ(std::string(b, 4), "next");
    EXPECT_TRUE(close(c.s).ok());
  });
}

// A cancel from a fiber takes the registrations of its own runtime's fibers off the token in
// runs, without the token's lock each; whatever else is registered — plain callbacks, the
// calls of another runtime's fibers — breaks a run and is reached in its turn. Every call
// ends with WSAEINTR, the callbacks run once, inline and in registration order, and the
// runtime's fibers resume in the order their calls were registered (the run queue is
// first-in, first-out).
TEST(CallToken, AFanOutReachesEveryCallAndCallbackInRegistrationOrder) {
  constexpr int kLocal = 100, kRemote = 5;
  CancelSource source;
  CancelToken token = source.token();
  std::mutex mu;
  std::condition_variable cv;
  bool remote_blocked = false;
  std::atomic<int> remote_ended{0}, remote_eintr{0};
  std::thread remote;
  run_in_fiber([&] {
    std::vector<int> resumed, ran;
    std::vector<FiberId> ids;
    std::vector<std::unique_ptr<CancelCallback>> callbacks;
    int local_eintr = 0;
    for (int i = 0; i < kLocal; ++i) {
      ids.push_back(*spawn([&, i] {
        if (this_fiber::sleep_for(24h, token).error() == wsa::eintr) ++local_eintr;
        resumed.push_back(i);
      }));
      if (i % 10 != 9) continue;
      this_fiber::yield();  // every fiber spawned so far is blocked, registered in turn
      int k = static_cast<int>(callbacks.size());
      callbacks.push_back(std::make_unique<CancelCallback>(token, [&ran, k] { ran.push_back(k); }));
      if (i == 49) {
        // Another runtime's fibers, registered here: a thread this one does not run on.
        remote = std::thread([&] {
          Runtime rt;
          (void)rt.spawn([&] {
            for (int j = 0; j < kRemote; ++j) {
              (void)spawn([&] {
                if (this_fiber::sleep_for(24h, token).error() == wsa::eintr) ++remote_eintr;
                ++remote_ended;
              });
            }
            this_fiber::yield();
            std::lock_guard lock(mu);
            remote_blocked = true;
            cv.notify_all();
          });
          (void)rt.run();
        });
        std::unique_lock lock(mu);  // holds this thread: nothing of this runtime runs meanwhile
        cv.wait(lock, [&] { return remote_blocked; });
      }
    }
    EXPECT_TRUE(source.cancel());
    // The callbacks ran inline, once each, in order; no fiber has run yet.
    std::vector<int> expected_ran(callbacks.size());
    for (std::size_t k = 0; k < expected_ran.size(); ++k) expected_ran[k] = static_cast<int>(k);
    EXPECT_EQ(ran, expected_ran);
    EXPECT_TRUE(resumed.empty());
    for (FiberId id : ids) EXPECT_TRUE(join(id).ok());
    EXPECT_EQ(local_eintr, kLocal);
    std::vector<int> expected_resumed(kLocal);
    for (int i = 0; i < kLocal; ++i) expected_resumed[i] = i;
    EXPECT_EQ(resumed, expected_resumed);
  });
  remote.join();
  EXPECT_EQ(remote_ended.load(), kRemote);
  EXPECT_EQ(remote_eintr.load(), kRemote);
}

// The fan-out's runs are cancelled under the token's lock while another thread keeps
// registering and removing callbacks on the same token: every call still ends with
// WSAEINTR, each callback runs at most once, and its destructor returns only after it ran
// (the sanitizer builds watch the token's array meanwhile).
TEST(CallToken, AFanOutRacesRegistrationsFromAnotherThread) {
  constexpr int kFibers = 200;
  for (int rep = 0; rep < 10; ++rep) {
    CancelSource source;
    CancelToken token = source.token();
    std::atomic<bool> stop{false};
    std::atomic<int> ran_twice{0}, made{0};
    std::thread churner([&] {
      while (!stop.load()) {
        int runs = 0;
        {
          CancelCallback cb(token, [&runs] { ++runs; });
          ++made;
        }
        if (runs > 1) ++ran_twice;
      }
    });
    run_in_fiber([&] {
      int eintr = 0;
      std::vector<FiberId> ids;
      for (int i = 0; i < kFibers; ++i) {
        ids.push_back(*spawn([&] {
          if (this_fiber::sleep_for(24h, token).error() == wsa::eintr) ++eintr;
        }));
      }
      this_fiber::yield();                                  // every one is blocked
      while (made.load() < 100) std::this_thread::yield();  // the churner is under way
      EXPECT_TRUE(source.cancel());
      for (FiberId id : ids) EXPECT_TRUE(join(id).ok());
      EXPECT_EQ(eintr, kFibers);
    });
    stop = true;
    churner.join();
    EXPECT_EQ(ran_twice.load(), 0);
  }
}

TEST(CallToken, ReachesTheCallsACompositeCallMakes) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    test::posix_send_all(c.peer.get(), "abc");
    CancelSource keep;
    char b[8];
    // recv_exact took 3 bytes, then its inner recv timed out: the bytes cannot be handed
    // back, so the connection is reset and the peer sees it.
    EXPECT_EQ(recv_exact(c.s, b, sizeof b, soon(keep)).error(), wsa::etimedout);
    auto view = test::posix_read_to_end(c.peer.get());
    EXPECT_EQ(view.error, ECONNRESET);
    EXPECT_EQ(recv(c.s, b, 1).error(), wsa::econnaborted);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(CallToken, ATokenAppliesInsideAShieldedScopeAndBesideAnOuterOne) {
  run_in_fiber([] {
    CancelScope outer;
    outer.cancel();
    CancelScope shield(CancelScope::shield);
    EXPECT_TRUE(this_fiber::sleep_for(1ms).ok());  // shielded
    CancelSource keep;
    EXPECT_EQ(this_fiber::sleep_for(1h, soon(keep)).error(), wsa::etimedout);
  });
}

// --- deadlines on sources, on every kind of blocking call ----------------------------------

TEST(SourceDeadline, EndsAcceptAndLeavesTheListenerServing) {
  run_in_fiber([] {
    auto l = socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(bind(*l, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(*l, 8).ok());
    CancelSource keep;
    EXPECT_EQ(accept(*l, nullptr, soon(keep)).error(), wsa::etimedout);
    Fd client = test::posix_connect(*local_address(*l));
    auto a = accept(*l);
    ASSERT_TRUE(a.ok());
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*l).ok());
  });
}

TEST(SourceDeadline, EndsConnectAndAbortsTheHandle) {
  run_in_fiber([] {
    Address at;
    Fd l = test::posix_listener(at, AF_INET, 0);
    Fd filler = test::posix_connect(at);  // the queue is full: further SYNs are dropped
    auto s = socket(AF_INET, SOCK_STREAM);
    CancelSource keep;
    EXPECT_EQ(connect(*s, at, 0ms, soon(keep)).error(), wsa::etimedout);
    EXPECT_EQ(Runtime::current()->stats().pending_connects, 1u);
    char b[4];
    EXPECT_EQ(recv(*s, b, 4).error(), wsa::econnaborted);
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST(SourceDeadline, EndsRecvAndTheNextRecvGetsTheStreamInOrder) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    CancelSource keep;
    char b[8];
    EXPECT_EQ(recv(c.s, b, sizeof b, 0, soon(keep)).error(), wsa::etimedout);
    test::posix_send_all(c.peer.get(), "1234");
    EXPECT_EQ(recv(c.s, b, sizeof b).value_or(0), 4u);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(SourceDeadline, EndsASendThatMovedNoByteAndLeavesTheSocketUnchanged) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    std::size_t queued = test::fill_send_buffer(c.s);
    CancelSource keep;
    EXPECT_EQ(send_some(c.s, "tail", 4, 0, soon(keep)).error(), wsa::etimedout);
    EXPECT_EQ(test::posix_read_n(c.peer.get(), queued).size(), queued);
    ASSERT_EQ(send(c.s, "next", 4).value_or(0), 4u);
    EXPECT_EQ(test::posix_read_n(c.peer.get(), 4), "next");
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(SourceDeadline, EndsASendThatMovedBytesWithAResetThePeerSees) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    std::string big(32 << 20, 'b');
    CancelSource keep;
    EXPECT_EQ(send(c.s, big.data(), big.size(), 0, soon(keep)).error(), wsa::etimedout);
    auto view = test::posix_read_to_end(c.peer.get());
    EXPECT_EQ(view.error, ECONNRESET);
    EXPECT_LT(view.data.size(), big.size());
    EXPECT_EQ(send(c.s, "x", 1).error(), wsa::econnaborted);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(SourceDeadline, EndsRecvFromAndConsumesNoDatagram) {
  run_in_fiber([] {
    auto u = socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(*u, Address::loopback_v4(0)).ok());
    CancelSource keep;
    char b[16];
    EXPECT_EQ(recv_from(*u, b, sizeof b, nullptr, 0, soon(keep)).error(), wsa::etimedout);
    Fd p(::socket(AF_INET, SOCK_DGRAM, 0));
    Address to = *local_address(*u);
    ASSERT_EQ(::sendto(p.get(), "dgram", 5, 0, to.data(), to.size()), 5);
    EXPECT_EQ(recv_from(*u, b, sizeof b, nullptr).value_or(0), 5u);
    EXPECT_TRUE(close(*u).ok());
  });
}

TEST(SourceDeadline, APassedDeadlineEndsSendToBeforeAnythingIsSent) {
  // A UDP send on loopback does not block (the kernel drops what the receiver cannot take),
  // so the deadline is already past: the call's checkpoint sees it.
  run_in_fiber([] {
    auto u = socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(*u, Address::loopback_v4(0)).ok());
    CancelSource past(std::chrono::steady_clock::now() - 1ms);
    EXPECT_EQ(send_to(*u, "d", 1, *local_address(*u), 0, past.token()).error(), wsa::etimedout);
    char b[4];
    EXPECT_EQ(recv_from(*u, b, sizeof b, nullptr, MSG_DONTWAIT).error(), wsa::ewouldblock);
    EXPECT_TRUE(close(*u).ok());
  });
}

TEST(SourceDeadline, EndsPollAndSelectAndLeavesTheSocketsUnchanged) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    CancelSource k1, k2;
    PollEntry e{c.s, kPollIn};
    EXPECT_EQ(poll({&e, 1}, std::nullopt, soon(k1)).error(), wsa::etimedout);
    SocketSet rs;
    rs.add(c.s);
    EXPECT_EQ(select(&rs, nullptr, nullptr, std::nullopt, soon(k2)).error(), wsa::etimedout);
    EXPECT_TRUE(rs.contains(c.s));  // the set is unchanged
    test::posix_send_all(c.peer.get(), "r");
    EXPECT_EQ(poll({&e, 1}, 5s).value_or(0), 1);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(SourceDeadline, EndsSleepJoinAndSignalWait) {
  run_in_fiber([] {
    CancelSource k1, k2, k3;
    EXPECT_EQ(this_fiber::sleep_for(1h, soon(k1)).error(), wsa::etimedout);
    auto sleeper = spawn([] { (void)this_fiber::sleep_for(1h); });
    EXPECT_EQ(join(*sleeper, soon(k2)).error(), wsa::etimedout);
    ASSERT_TRUE(cancel_blocking_call(*sleeper).ok());  // it ran on: end it now
    EXPECT_TRUE(join(*sleeper).ok());
    EXPECT_EQ(signal_wait(SIGUSR2, soon(k3)).error(), wsa::etimedout);
  });
}

TEST(SourceDeadline, EndsAResolveWaitingForThePool) {
  test::PoolBlocker blocker;
  run_in_fiber([] {
    CancelSource keep;
    EXPECT_EQ(resolve("localhost", "80", AF_UNSPEC, SOCK_STREAM, soon(keep)).error(),
              wsa::etimedout);
  });
}

TEST(SourceDeadline, EndsALingeringCloseWithAReset) {
  run_in_fiber([] {
    auto c = test::connect_to_posix_peer();
    test::set_small_buffers(c.peer.get());
    (void)test::fill_send_buffer(c.s);  // the peer reads nothing: the linger cannot finish
    ASSERT_TRUE(set_linger(c.s, 30s).ok());
    CancelSource keep;
    EXPECT_EQ(close(c.s, soon(keep)).error(), wsa::etimedout);
    auto view = test::posix_read_to_end(c.peer.get());
    EXPECT_EQ(view.error, ECONNRESET);  // treated as linger expiry
    EXPECT_TRUE(close(c.s).ok());       // the handle stayed valid until this close
  });
}

// --- the deadline itself ------------------------------------------------------------------

TEST(SourceDeadline, MayBeMovedLaterOrSooner) {
  run_in_fiber([] {
    CancelSource s(1h);
    s.set_timeout(20ms);
    EXPECT_EQ(this_fiber::sleep_for(1h, s.token()).error(), wsa::etimedout);
    EXPECT_EQ(s.token().reason(), wsa::etimedout);
  });
}

TEST(SourceDeadline, ClearedItNeverFires) {
  CancelSource s(10ms);
  EXPECT_TRUE(s.token().can_be_cancelled());
  s.clear_deadline();
  std::this_thread::sleep_for(40ms);
  EXPECT_FALSE(s.cancel_requested());
  EXPECT_TRUE(s.cancel());  // the source still works by hand
  EXPECT_EQ(s.token().reason(), wsa::eintr);
}

TEST(SourceDeadline, APastDeadlineCancelsAtOnceOnTheCallingThread) {
  bool ran_here = false;
  auto here = std::this_thread::get_id();
  CancelSource s;
  CancelCallback cb(s.token(), [&] { ran_here = std::this_thread::get_id() == here; });
  s.set_deadline(std::chrono::steady_clock::now());
  EXPECT_TRUE(s.cancel_requested());
  EXPECT_TRUE(ran_here);
  EXPECT_EQ(s.token().reason(), wsa::etimedout);
}

TEST(SourceDeadline, APendingDeadlineKeepsATokenCancellableAfterItsSourcesAreGone) {
  CancelToken t;
  {
    CancelSource s(20ms);
    t = s.token();
  }
  EXPECT_TRUE(t.can_be_cancelled());
  for (int i = 0; i < 5000 && !t.cancel_requested(); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(t.reason(), wsa::etimedout);
}

TEST(SourceDeadline, ACancelBeforeTheDeadlineKeepsItsReason) {
  CancelSource s(20ms);
  EXPECT_TRUE(s.cancel());
  std::this_thread::sleep_for(40ms);
  EXPECT_EQ(s.token().reason(), wsa::eintr);
}

}  // namespace
