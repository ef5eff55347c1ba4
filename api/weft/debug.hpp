// weft — what an operator asks a running process (semantics.md §11): every fiber and what it
// waits on, every runtime's counters, and an opt-in HTTP listener that serves both.
//
//   weft::debug::serve(weft::Address::loopback_v4(6060));   // from a fiber, once
//   $ curl -s localhost:6060/debug/fibers        # text, in the spirit of Go's goroutine dump
//   $ curl -s localhost:6060/debug/fibers.json
//   $ curl -s localhost:6060/metrics             # Prometheus text exposition format 0.0.4
//
// A fiber dump lists, per runtime, each fiber: its id; its name (SpawnOptions::name) and where
// it was spawned; its state (running, ready, blocked, parked); the blocking call under way and
// what it waits on (a socket and its peer, a primitive, a fiber, a file, a child process, a
// signal; a timer shows as the deadline alone); since when; the earliest deadline that applies
// to it (its own, its token's, its cancel scopes'); and its cancel state (a cancel that has
// fixed the call's outcome but not yet resumed it, a request left by a cancel that found the
// call completed, a token already cancelled).
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/fiber_id.hpp>
#include <weft/net.hpp>
#include <weft/runtime.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::debug {

struct FiberInfo {
  FiberId id = FiberId::none;
  std::string name;        // SpawnOptions::name, or the spawning function's if none was given
  std::string spawned_by;  // the function that spawned it
  std::string spawned_at;  // its file:line
  // running: on its thread now; ready: queued to run; blocked: in a blocking call whose outcome
  // is not fixed; parked: suspended outside any cancellable call (an uncancellable wait).
  std::string state;
  std::string call;              // the blocking call under way ("recv", "Mutex::lock"...), or empty
  std::string waits_on;          // what it waits on ("socket 4097 tcp connected 127.0.0.1:8080 <-
                                 // 127.0.0.1:40000", "fiber 12", "fd 7 /var/log/x"...), or empty
  std::int64_t blocked_ms = -1;  // how long the call has been outstanding; -1: no call
  std::int64_t deadline_ms = -1;  // time left to the earliest deadline; -1: none applies
  // none; cancelled, timed out or stopped: the call's outcome is fixed and the fiber is about
  // to return from it; requested: a cancel found the call completed and stays asked for;
  // token cancelled: a token that applies is cancelled (the call ends at once).
  std::string cancel;
};

struct RuntimeDump {
  std::uint32_t index = 0;  // the runtime's index, as logs and metrics give it
  bool stopping = false;
  // False when the runtime did not list its fibers within the wait (its thread runs a fiber
  // that does not yield, or it is not running): `fibers` is empty, `stats` still read.
  bool answered = false;
  // When it did not answer because one fiber ran on its thread, without a switch, from before
  // the runtime was asked until the wait ended (a loop that never yields, or a call that is
  // not weft's and blocks the thread): that fiber, and how long it had run so at least (the
  // wait, in milliseconds). FiberId::none and -1 otherwise (a runtime that answered, is not
  // running, or switched fibers meanwhile without reaching its loop).
  FiberId holder = FiberId::none;
  std::int64_t held_ms = -1;
  RuntimeStats stats;
  std::vector<FiberInfo> fibers;
};

// Every runtime of the process, in index order, each listing its own fibers on its thread.
// Any thread. From a fiber the call waits without holding its thread (the other fibers run);
// from a plain thread it blocks; from a runtime's thread outside any fiber (a posted
// function) only that runtime lists its fibers. A runtime that does not answer within `wait`
// is reported unanswered.
WEFT_API std::vector<RuntimeDump> fibers(std::chrono::milliseconds wait = std::chrono::seconds(1));

// The dump as text (one paragraph per fiber, as Go prints goroutines) and as JSON.
WEFT_API std::string fibers_text(const std::vector<RuntimeDump>& dump);
WEFT_API std::string fibers_json(const std::vector<RuntimeDump>& dump);

// Every runtime's counters, and the cancels asked from threads that run no runtime, in the
// Prometheus text exposition format (version 0.0.4, with HELP and TYPE lines). Read without
// the runtimes' cooperation: any thread, at once.
WEFT_API std::string metrics_text();

// Cancel requests made from threads that run no runtime, by reply (the runtimes count their
// own: RuntimeStats::cancels_ok...).
struct CancelCounts {
  std::uint64_t ok = 0;
  std::uint64_t einval = 0;
  std::uint64_t enetdown = 0;
};
WEFT_API CancelCounts thread_cancels() noexcept;

struct Listener {
  Address address;  // where it listens (port 0 asked: the port chosen)
  FiberId fiber = FiberId::none;
};

// Serves GET /debug/fibers (text), /debug/fibers.json and /metrics over HTTP/1.1 at
// `address` (loopback unless told otherwise: the dump names peers and files), from a fiber
// of its own on the calling thread's runtime ("weft.debug"). One request per connection, each
// read within 5 s. The fiber keeps its runtime's run() going: it ends when `token` is
// cancelled, when its accept is cancelled (weft::cancel_blocking_call(listener.fiber)) or at
// runtime stop, and closes the listening socket.
// Errors: WSAEINVAL off a runtime's thread; those of socket(2), bind(2), listen(2).
WEFT_API Result<Listener> serve(const Address& address = Address::loopback_v4(0),
                                const CancelToken& token = {});

}  // namespace weft::debug
