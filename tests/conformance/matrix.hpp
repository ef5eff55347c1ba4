// The conformance matrix's machinery (semantics.md §2, §3, §6, §7, §7a), shared by its
// programs: every blocking call that can be held blocked (a Kind), against every source of
// cancellation (a Source), each in a runtime of its own, on real loopback peers, in precise
// and in portable mode. matrix.cpp holds the socket and coordination calls, matrix_tls.cpp
// the TLS calls; each lists its kinds and instantiates the one test below over them.
//
// A cell cancels only once its call is known to be outstanding: before the call, the fiber
// posts itself a message, which runs when the call blocks and records is_blocking() — so a
// call that completed at once fails the cell instead of passing it without a cancel.
#pragma once

#include "../support/peer.hpp"
#include "../support/pool_blocker.hpp"
#include "../support/run.hpp"

#include <weft/wsp.h>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace weft::matrix {

using namespace std::chrono_literals;
using test::Fd;

enum class Source {
  fiber,           // cancel_blocking_call(f) from another fiber of the runtime
  thread,          // cancel_blocking_call(f) from a plain OS thread
  token,           // the call's own token, cancelled by another fiber
  scope,           // an enclosing CancelScope on an outside token
  token_deadline,  // the call's token, from a CancelSource with a deadline
  scope_deadline,  // an enclosing CancelScope with a deadline
  stop,            // Runtime::stop()
  close,           // another fiber closes the socket the call waits on
  hook,            // the fiber's own blocking hook calls cancel_blocking_call()
  message,         // a message posted to the fiber calls cancel_blocking_call()
};

inline const char* name_of(Source s) {
  switch (s) {
    case Source::fiber: return "Fiber";
    case Source::thread: return "Thread";
    case Source::token: return "Token";
    case Source::scope: return "Scope";
    case Source::token_deadline: return "TokenDeadline";
    case Source::scope_deadline: return "ScopeDeadline";
    case Source::stop: return "Stop";
    case Source::close: return "Close";
    case Source::hook: return "Hook";
    case Source::message: return "Message";
  }
  return "?";
}

inline std::error_code expected_code(Source s) {
  switch (s) {
    case Source::token_deadline:
    case Source::scope_deadline: return wsa::etimedout;
    case Source::stop: return wsa::enetdown;
    default: return wsa::eintr;
  }
}

// What one cell's call works on; each kind fills what it needs.
struct Cell {
  bool portable = false;
  Source source = Source::fiber;
  test::PeerConnection conn;  // a weft stream socket and its POSIX peer
  Fd posix;                   // another POSIX end (a UDP sender, a full listener and its filler)
  Fd filler;
  Address addr;
  Socket s = Socket::invalid;  // the socket the call waits on, for the close source
  std::size_t queued = 0;      // bytes queued to the peer before the call
  std::string big;             // a send's buffer, alive for the call
  char buf[64] = {};
  FiberId other = FiberId::none;            // join: the fiber waited for
  std::unique_ptr<Runtime> remote;          // join across runtimes: the other runtime,
  std::unique_ptr<std::thread> runner;      // its thread,
  CancelSource remote_end;                  // and what ends its fiber
  std::unique_ptr<test::PoolBlocker> pool;  // resolve: holds the request in the pool's queue
  struct Primitives {
    Mutex mutex;
    ConditionVariable cv;
    Semaphore semaphore{0};
    Event event{Event::Reset::automatic};
    Latch latch{1};
    Channel<std::string> channel{0};  // rendezvous: a send waits for a receiver
    std::string value = "kept";
    std::optional<std::string> out;
    bool held_after = false;
    WEFT_EVENT wsa_events[2] = {WSA_INVALID_EVENT, WSA_INVALID_EVENT};  // the C adapter's
  };
  std::unique_ptr<Primitives> p = std::make_unique<Primitives>();  // the coordination calls
  std::shared_ptr<void> extra;  // what the kinds of another program keep (matrix_tls.cpp)
};

struct Kind {
  const char* name;
  bool on_socket;  // the close source applies
  std::function<void(Cell&)> prepare;
  std::function<std::error_code(Cell&, const CancelToken&)> call;
  // What the call left, checked unless the runtime was stopped (every later call would only
  // say WSAENETDOWN).
  std::function<void(Cell&)> after;
  std::function<void(Cell&)> cleanup = [](Cell&) {};
  // How the close source closes what the call waits on (default: the socket c.s).
  std::function<Status(Cell&)> close = [](Cell& c) { return weft::close(c.s); };
};

// A pair whose buffers are small from the start (set before the connection, so that the
// window the peer advertises is small too): filling them takes tens of kilobytes, not
// megabytes, and the peer reads them back at once.
inline void connect_small_pair(Cell& c) {
  Address addr;
  c.conn.listener = test::posix_listener(addr);
  test::set_small_buffers(c.conn.listener.get());
  c.s = c.conn.s = *socket(AF_INET, SOCK_STREAM);
  int small = 4096;
  ASSERT_TRUE(set_option(c.s, SOL_SOCKET, SO_SNDBUF, &small, sizeof small).ok());
  ASSERT_TRUE(set_option(c.s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small).ok());
  ASSERT_TRUE(connect(c.s, addr).ok());
  c.conn.peer = test::posix_accept(c.conn.listener.get());
  ASSERT_GE(c.conn.peer.get(), 0);
}

inline constexpr Source kSources[] = {
    Source::fiber,          Source::thread, Source::token, Source::scope, Source::token_deadline,
    Source::scope_deadline, Source::stop,   Source::close, Source::hook,  Source::message};

struct Param {
  std::size_t kind;
  Source source;
  bool portable;
};

// The program's kinds (each program defines it).
const std::vector<Kind>& all_kinds();

inline std::string param_name(const testing::TestParamInfo<Param>& info) {
  return std::string(all_kinds()[info.param.kind].name) + "_" + name_of(info.param.source) +
         (info.param.portable ? "_Portable" : "_Precise");
}

inline std::vector<Param> all_params() {
  std::vector<Param> out;
  for (std::size_t k = 0; k < all_kinds().size(); ++k) {
    for (Source s : kSources) {
      if (s == Source::close && !all_kinds()[k].on_socket) continue;
      for (bool portable : {false, true}) out.push_back({k, s, portable});
    }
  }
  return out;
}

class Matrix : public testing::TestWithParam<Param> {};

// Yields until `done` or a bound on the time passes (a hang guard, not a timing assertion).
template <class Pred>
bool yield_until(Pred&& done) {
  auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    this_fiber::yield();
  }
  return true;
}

TEST_P(Matrix, EachSourceEndsTheCallWithItsCodeAndLeavesWhatTheTableSays) {
  const Kind& kind = all_kinds()[GetParam().kind];
  const Source source = GetParam().source;
  RuntimeOptions options;
  options.portable_mode = GetParam().portable;
  options.blocking_hook_interval = 1ms;
  options.connect_reap_timeout = 200ms;
  Runtime rt(options);
  bool checked = false;
  ASSERT_OK(rt.spawn([&] {
    Cell c;
    c.portable = GetParam().portable;
    c.source = source;
    kind.prepare(c);
    if (testing::Test::HasFatalFailure()) return;

    // A deadline's source gets its deadline once the call is outstanding (below): set before,
    // it could pass while a slow call (a child's spawn) is still starting.
    CancelSource call_source;
    CancelSource scope_source;
    std::atomic<bool> blocked{false};
    std::atomic<bool> go{false};
    std::optional<std::error_code> result;
    auto target = spawn([&] {
      if (source == Source::hook) {
        (void)set_blocking_hook([&] {
          if (go.load()) (void)cancel_blocking_call();
          return false;
        });
      }
      std::optional<CancelScope> scope;
      if (source == Source::scope) scope.emplace(scope_source.token());
      if (source == Source::scope_deadline) scope.emplace(std::chrono::nanoseconds(1h));
      // Runs when the call below blocks: proof that it is outstanding. A deadline source's
      // deadline is set to pass now, by its own timer (the deadline thread, or the scope's
      // timer on the runtime), while the call waits.
      (void)post(this_fiber::id(), [&] {
        blocked = is_blocking();
        const auto soon = std::chrono::steady_clock::now() + 1ms;
        if (source == Source::token_deadline) call_source.set_deadline(soon);
        if (source == Source::scope_deadline) scope->set_deadline(soon);
      });
      const bool own = source == Source::token || source == Source::token_deadline;
      result = kind.call(c, own ? call_source.token() : CancelToken{});
    });
    ASSERT_TRUE(target.ok());
    ASSERT_TRUE(yield_until([&] { return blocked.load() || result.has_value(); }));
    ASSERT_TRUE(blocked.load()) << "the call did not block; it returned " << result->message();

    switch (source) {
      case Source::fiber: EXPECT_TRUE(cancel_blocking_call(*target).ok()); break;
      case Source::thread: {
        Status reply;
        std::thread([&] { reply = cancel_blocking_call(*target); }).join();
        EXPECT_TRUE(reply.ok()) << reply.error().message();
        break;
      }
      case Source::token: EXPECT_TRUE(call_source.cancel()); break;
      case Source::scope: EXPECT_TRUE(scope_source.cancel()); break;
      case Source::token_deadline:
      case Source::scope_deadline: break;
      case Source::stop: Runtime::current()->stop(); break;
      case Source::close: EXPECT_TRUE(kind.close(c).ok()); break;
      case Source::hook: go = true; break;
      case Source::message:
        EXPECT_TRUE(post(*target, [] { (void)cancel_blocking_call(); }).ok());
        break;
    }
    ASSERT_TRUE(yield_until([&] { return result.has_value(); })) << "the call never returned";
    EXPECT_EQ(*result, expected_code(source)) << result->message();
    if (source != Source::stop) kind.after(c);
    kind.cleanup(c);
    checked = true;
  }));
  Status ran = rt.run();  // a stop during run() still ends it normally, once every fiber has
  EXPECT_TRUE(ran.ok()) << ran.error().message();
  EXPECT_TRUE(checked);
}

}  // namespace weft::matrix
