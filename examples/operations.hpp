// Shared by the example servers: an operator's view of a running server (weft/debug.hpp).
//
//   * --debug-port PORT: weft::debug::serve on 127.0.0.1:PORT (0: any free port), which answers
//     /debug/fibers, /debug/fibers.json and /metrics; one line on standard error says where:
//     "debug listener on 127.0.0.1:PORT". Without the option, no listener.
//   * SIGQUIT prints the fiber dump (every runtime of the process) to standard error, as Go
//     prints its goroutines, and the server keeps running.
//
// Each is a fiber on the runtime that calls Operations::start, and both end when the server's
// shutdown token is cancelled, when the Operations object is destroyed, or when the runtime
// stops, whichever comes first: they never keep run() from returning.
#pragma once

#include <weft/weft.hpp>

#include "cli.hpp"

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <system_error>

// --debug-port's value: 0 to 65535 (0: any free port) into *port; false otherwise. A server
// keeps -1 for "no listener" when the option is absent.
inline bool parse_debug_port(const char* text, long* port) {
  return parse_number(text, 0, 65535, port);
}

class Operations {
 public:
  // `shutdown`: the token whose cancel ends the server (a default token for a server that
  // ends by stopping its runtimes). Any thread.
  explicit Operations(const weft::CancelToken& shutdown)
      : ending_(weft::CancelSource::linked({shutdown})) {}
  ~Operations() { ending_.cancel(); }
  Operations(const Operations&) = delete;
  Operations& operator=(const Operations&) = delete;

  // From a fiber: starts the SIGQUIT dump, then (debug_port >= 0) the debug listener, and
  // prints where it listens. False, with a message naming `program`, if the listener cannot
  // be had (nothing is left running then).
  bool start(const char* program, long debug_port) {
    const weft::CancelToken ending = ending_.token();
    // A SignalWatch, not signal_wait in a loop: between two signal_waits the signal would
    // have its default action (the process would end, with a core dump), and a second SIGQUIT
    // can come while the first dump is printed. Deliveries during a dump make one more dump.
    auto watcher = weft::spawn(
        [ending, program] {
          auto watch = weft::SignalWatch::start(SIGQUIT);
          if (!watch.ok()) {
            std::fprintf(stderr, "%s: cannot watch SIGQUIT: %s\n", program,
                         watch.error().message().c_str());
            return;
          }
          while (watch->wait(ending).ok()) {
            std::string out = std::string(program) + ": SIGQUIT: fiber dump\n" +
                              weft::debug::fibers_text(weft::debug::fibers());
            std::fwrite(out.data(), 1, out.size(), stderr);
            std::fflush(stderr);
          }
        },
        {.name = "sigquit"});
    if (!watcher.ok()) return refuse(program, "cannot start the SIGQUIT fiber", watcher.error());
    weft::this_fiber::yield();  // the watcher waits now: from here on SIGQUIT is its

    if (debug_port < 0) return true;
    auto listener = weft::debug::serve(
        weft::Address::loopback_v4(static_cast<std::uint16_t>(debug_port)), ending);
    if (!listener.ok()) {
      return refuse(program,
                    "cannot serve the debug listener on 127.0.0.1:" + std::to_string(debug_port),
                    listener.error());
    }
    std::fprintf(stderr, "debug listener on %s\n", listener->address.to_string().c_str());
    std::fflush(stderr);
    return true;
  }

 private:
  bool refuse(const char* program, const std::string& what, const std::error_code& why) {
    std::fprintf(stderr, "%s: %s: %s\n", program, what.c_str(), why.message().c_str());
    ending_.cancel();
    return false;
  }

  weft::CancelSource ending_;
};
