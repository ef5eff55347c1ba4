// One order of checks for every blocking call (semantics.md §7a): the same situation gives the
// same answer whichever call meets it, and whether or not the call would have had to wait.
//   1. off a fiber → WSAEINVAL;  2. a bad handle or argument → WSAENOTSOCK / WSAEFAULT / ...;
//   3. in a hook or message of a blocked fiber → WSAEINPROGRESS;  4. stopping → WSAENETDOWN;
//   5. a cancelled token or scope → WSAEINTR / WSAETIMEDOUT;  6. the call tries.
#include "../support/peer.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace weft {
namespace {

using namespace std::chrono_literals;
using test::run_in_fiber;

// Every kind of blocking call, each on something it could complete at once where that
// exists (data queued, a due sleep, an ended fiber, a pending connection), so that an answer
// other than the expected one cannot come from the call having waited.
struct Calls {
  test::PeerConnection conn;
  Socket listener = Socket::invalid;
  Socket udp = Socket::invalid;
  Address udp_addr;
  FiberId ended = FiberId::none;
  SignalWatch watch;  // with a delivery counted
  char buf[16] = {};

  void prepare() {
    conn = test::connect_to_posix_peer();
    test::posix_send_all(conn.peer.get(), "0123456789");
    listener = *socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(bind(listener, Address::loopback_v4(0)).ok());
    ASSERT_TRUE(listen(listener, 8).ok());
    pending_client = test::posix_connect(*local_address(listener));
    udp = *socket(AF_INET, SOCK_DGRAM);
    ASSERT_TRUE(bind(udp, Address::loopback_v4(0)).ok());
    udp_addr = *local_address(udp);
    ASSERT_TRUE(send_to(udp, "d", 1, udp_addr).ok());
    ended = *spawn([] {});
    auto w = SignalWatch::start(SIGUSR2);
    ASSERT_TRUE(w.ok());
    watch = std::move(*w);
    ASSERT_EQ(::raise(SIGUSR2), 0);  // counted at the loop's next look at its signals
    // Queued data, the connection and the delivery are there before any call is made.
    for (int i = 0; i < 1000; ++i) {
      PollEntry e[2] = {{conn.s, kPollIn}, {listener, kPollIn}};
      if (poll(e, 0ms).value_or(0) == 2) break;
      (void)this_fiber::sleep_for(1ms);
    }
    ASSERT_TRUE(join(ended).ok());
    (void)this_fiber::sleep_for(1ms);  // a turn of the loop that polls: the delivery is in
  }

  // name → the call's error with token t.
  std::vector<std::pair<std::string, std::function<std::error_code(const CancelToken&)>>> all() {
    return {
        {"recv", [this](const CancelToken& t) { return recv(conn.s, buf, 1, 0, t).error(); }},
        {"recv_exact",
         [this](const CancelToken& t) { return recv_exact(conn.s, buf, 1, t).error(); }},
        {"send", [this](const CancelToken& t) { return send(conn.s, "x", 1, 0, t).error(); }},
        {"send_some",
         [this](const CancelToken& t) { return send_some(conn.s, "x", 1, 0, t).error(); }},
        {"recv_from",
         [this](const CancelToken& t) {
           return recv_from(udp, buf, sizeof buf, nullptr, 0, t).error();
         }},
        {"send_to",
         [this](const CancelToken& t) { return send_to(udp, "d", 1, udp_addr, 0, t).error(); }},
        {"accept", [this](const CancelToken& t) { return accept(listener, nullptr, t).error(); }},
        {"connect",
         [this](const CancelToken& t) {
           Socket s = *socket(AF_INET, SOCK_STREAM);
           auto ec = connect(s, *local_address(listener), 0ms, t).error();
           (void)close(s);
           return ec;
         }},
        {"poll",
         [this](const CancelToken& t) {
           PollEntry e{conn.s, kPollIn};
           return poll({&e, 1}, 1h, t).error();
         }},
        {"select",
         [this](const CancelToken& t) {
           SocketSet r;
           r.add(conn.s);
           return select(&r, nullptr, nullptr, 1h, t).error();
         }},
        {"sleep_for(0)",
         [](const CancelToken& t) { return this_fiber::sleep_for(0ns, t).error(); }},
        {"sleep_for(1h)",
         [](const CancelToken& t) { return this_fiber::sleep_for(1h, t).error(); }},
        {"join(ended)", [this](const CancelToken& t) { return join(ended, t).error(); }},
        {"resolve",
         [](const CancelToken& t) {
           return resolve("127.0.0.1", "80", AF_INET, SOCK_STREAM, t).error();
         }},
        {"signal_wait", [](const CancelToken& t) { return signal_wait(SIGUSR2, t).error(); }},
        {"SignalWatch::wait", [this](const CancelToken& t) { return watch.wait(t).error(); }},
    };
  }

  test::Fd pending_client;
};

TEST(OrderOfChecks, UnderStopEveryCallAnswersWsaenetdownBeforeACancelledToken) {
  Runtime rt;
  int checked = 0;
  ASSERT_OK(rt.spawn([&] {
    Calls calls;
    calls.prepare();
    CancelSource source;
    source.cancel();
    Runtime::current()->stop();
    for (auto& [name, call] : calls.all()) {
      EXPECT_EQ(call(source.token()), wsa::enetdown) << name;
      EXPECT_EQ(call({}), wsa::enetdown) << name;
      ++checked;
    }
  }));
  EXPECT_TRUE(rt.run().ok());
  EXPECT_EQ(checked, 16);
}

TEST(OrderOfChecks, ACancelledTokenAnswersEvenWhereTheCallCouldCompleteAtOnce) {
  run_in_fiber([] {
    Calls calls;
    calls.prepare();
    CancelSource source;
    source.cancel();
    CancelSource deadline(std::chrono::steady_clock::now() - 1s);  // already past
    for (auto& [name, call] : calls.all()) {
      EXPECT_EQ(call(source.token()), wsa::eintr) << name;
      EXPECT_EQ(call(deadline.token()), wsa::etimedout) << name;
    }
    // Nothing was taken: the queued bytes, the datagram and the connection are all there.
    EXPECT_EQ(recv(calls.conn.s, calls.buf, 10).value_or(0), 10u);
    EXPECT_EQ(recv_from(calls.udp, calls.buf, sizeof calls.buf, nullptr).value_or(0), 1u);
    auto a = accept(calls.listener);
    ASSERT_TRUE(a.ok());
    for (Socket s : {*a, calls.listener, calls.udp, calls.conn.s}) EXPECT_TRUE(close(s).ok());
  });
}

TEST(OrderOfChecks, InsideAMessageEveryBlockingCallIsWsaeinprogressEvenIfItCouldComplete) {
  run_in_fiber([] {
    Calls calls;
    calls.prepare();
    CancelSource cancelled;
    cancelled.cancel();
    std::vector<std::pair<std::string, std::error_code>> seen;
    bool dontwait_ok = false, zero_poll_ok = false;
    auto blocked = spawn([] { (void)this_fiber::sleep_for(1h); });
    this_fiber::yield();
    ASSERT_TRUE(post(*blocked, [&] {
                  for (auto& [name, call] : calls.all()) {
                    seen.emplace_back(name, call({}));
                    seen.emplace_back(name + " (cancelled token)", call(cancelled.token()));
                  }
                  // Non-blocking forms are no blocking calls: they work here.
                  dontwait_ok = recv(calls.conn.s, calls.buf, 1, MSG_DONTWAIT).value_or(0) == 1;
                  PollEntry e{calls.conn.s, kPollIn};
                  zero_poll_ok = poll({&e, 1}, 0ms).value_or(0) == 1;
                  (void)cancel_blocking_call();
                }).ok());
    ASSERT_TRUE(join(*blocked).ok());
    ASSERT_EQ(seen.size(), 32u);
    for (auto& [name, ec] : seen) EXPECT_EQ(ec, wsa::einprogress) << name;
    EXPECT_TRUE(dontwait_ok);
    EXPECT_TRUE(zero_poll_ok);
  });
}

TEST(OrderOfChecks, ABadHandleOrArgumentAnswersBeforeAHookAStopOrAToken) {
  Runtime rt;
  ASSERT_OK(rt.spawn([&] {
    Socket s = *socket(AF_INET, SOCK_STREAM);
    ASSERT_TRUE(close(s).ok());  // s is stale from here on
    CancelSource source;
    source.cancel();
    char b[4];
    auto check = [&](const char* where) {
      EXPECT_EQ(recv(s, b, 4, 0, source.token()).error(), wsa::enotsock) << where;
      EXPECT_EQ(send(s, b, 4, 0, source.token()).error(), wsa::enotsock) << where;
      EXPECT_EQ(accept(s, nullptr, source.token()).error(), wsa::enotsock) << where;
      EXPECT_EQ(recv(s, nullptr, 4, 0, source.token()).error(), wsa::efault) << where;
      EXPECT_EQ(join(FiberId::none, source.token()).error(), wsa::einval) << where;
      PollEntry e{s, kPollIn};
      EXPECT_EQ(poll({&e, 1}, 1h, source.token()).error(), wsa::enotsock) << where;
    };
    check("cancelled token");
    auto blocked = spawn([] { (void)this_fiber::sleep_for(1h); });
    this_fiber::yield();
    ASSERT_TRUE(post(*blocked, [&] {
                  check("inside a message");
                  (void)cancel_blocking_call();
                }).ok());
    ASSERT_TRUE(join(*blocked).ok());
    Runtime::current()->stop();
    check("stopping");
  }));
  EXPECT_TRUE(rt.run().ok());
}

TEST(OrderOfChecks, OffAFiberEveryBlockingCallIsWsaeinvalEvenWithAnswersQueued) {
  Runtime rt;
  std::vector<std::pair<std::string, std::error_code>> seen;
  ASSERT_OK(rt.spawn([&] {
    Calls calls;
    calls.prepare();
    CancelSource cancelled;
    cancelled.cancel();
    // A function posted to the runtime runs on its thread, outside any fiber.
    ASSERT_TRUE(Runtime::current()
                    ->post([&] {
                      for (auto& [name, call] : calls.all()) {
                        seen.emplace_back(name, call({}));
                        seen.emplace_back(name + " (cancelled token)", call(cancelled.token()));
                      }
                    })
                    .ok());
    for (int i = 0; i < 1000 && seen.empty(); ++i) (void)this_fiber::sleep_for(1ms);
    // And a plain thread, with no runtime at all.
    std::thread([&] {
      seen.emplace_back("thread: recv", recv(calls.conn.s, calls.buf, 1).error());
      seen.emplace_back("thread: sleep_for", this_fiber::sleep_for(0ns).error());
      seen.emplace_back("thread: join", join(calls.ended).error());
    }).join();
  }));
  EXPECT_TRUE(rt.run().ok());
  ASSERT_EQ(seen.size(), 35u);
  for (auto& [name, ec] : seen) EXPECT_EQ(ec, wsa::einval) << name;
}

}  // namespace
}  // namespace weft
