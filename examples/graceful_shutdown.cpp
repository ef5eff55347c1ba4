// weft-graceful: a line-oriented server that shuts down gracefully on SIGINT or SIGTERM.
//
//   weft-graceful [--port PORT] [--debug-port PORT]      (prints "listening on ADDRESS")
//
// Each connection is a member of one FiberGroup. A request is one line; "sleep MS" makes the
// server work for MS milliseconds before answering, anything else is answered at once. On
// SIGINT/SIGTERM (received by a fiber through weft::signal_wait) the group is cancelled:
// connections waiting for a request end at once, while a request in flight finishes under a
// shielded scope — its answer is sent — and then its connection closes. The process exits 0.
//
// For the operator (operations.hpp): --debug-port PORT serves /debug/fibers, /debug/fibers.json
// and /metrics on 127.0.0.1:PORT (0: any free port); SIGQUIT prints the fiber dump to standard
// error and the server goes on. Both end with the group's cancel.
#include <weft/weft.hpp>

#include "operations.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// Handles one request inside a shielded scope: the group's cancellation does not cut it.
void answer(weft::Socket conn, const std::string& line) {
  weft::CancelScope finish_this_one(weft::CancelScope::shield);
  std::string reply;
  if (line.rfind("sleep ", 0) == 0) {
    int ms = std::atoi(line.c_str() + 6);
    (void)weft::this_fiber::sleep_for(std::chrono::milliseconds(ms));
    reply = "slept " + std::to_string(ms) + "\n";
  } else {
    reply = "echo " + line + "\n";
  }
  (void)weft::send(conn, reply.data(), reply.size());
}

void serve(weft::Socket c) {
  weft::UniqueSocket conn(c);
  std::string pending;
  char buf[1024];
  for (;;) {
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      answer(conn.get(), pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
    auto n = weft::recv(conn.get(), buf, sizeof buf);  // cancelled by the group: WSAEINTR
    if (!n.ok() || *n == 0) return;                    // close: graceful (the UniqueSocket)
    pending.append(buf, *n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 7778;
  long debug_port = -1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--port") && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--debug-port") && i + 1 < argc &&
               parse_debug_port(argv[i + 1], &debug_port)) {
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--port PORT] [--debug-port PORT]\n"
                   "  --debug-port PORT  serve /debug/fibers and /metrics on 127.0.0.1:PORT (0: "
                   "any free one)\n"
                   "SIGQUIT prints every fiber and what it waits on to standard error.\n",
                   argv[0]);
      return 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  weft::Runtime rt;
  int status = 0;
  (void)rt.spawn([&] {
    auto l = weft::socket(AF_INET, SOCK_STREAM);
    if (!l.ok() || !weft::set_reuse_address(*l, true).ok() ||
        !weft::bind(*l, weft::Address::loopback_v4(static_cast<std::uint16_t>(port))).ok() ||
        !weft::listen(*l, 128).ok()) {
      std::fprintf(stderr, "weft-graceful: cannot listen on port %d\n", port);
      status = 1;
      return;
    }
    weft::UniqueSocket listener(*l);
    std::printf("listening on %s\n", weft::local_address(listener.get())->to_string().c_str());
    std::fflush(stdout);

    weft::FiberGroup connections;
    // The signal watchers: the first of SIGINT/SIGTERM cancels the group.
    weft::FiberGroup watchers;
    for (int sig : {SIGINT, SIGTERM}) {
      (void)watchers.spawn([&, sig] {
        if (weft::signal_wait(sig).ok()) {
          std::printf("signal %d: shutting down\n", sig);
          std::fflush(stdout);
          connections.cancel();
          watchers.cancel();
        }
      });
    }
    // The operator's view; it ends with the group's cancel (or here, on the way out).
    Operations operations(connections.token());
    if (!operations.start("weft-graceful", debug_port)) {
      status = 1;
      connections.cancel();
      watchers.cancel();
      return;
    }
    {
      weft::CancelScope accepting(connections.token());
      for (;;) {
        auto c = weft::accept(listener.get());
        if (!c.ok()) break;  // WSAEINTR once the group is cancelled
        if (!connections.spawn([s = *c] { serve(s); }).ok()) (void)weft::close(*c);
      }
    }
  });  // the groups' destructors wait for in-flight requests and the watchers
  if (!rt.run().ok()) return 1;
  std::printf("stopped\n");
  return status;
}
