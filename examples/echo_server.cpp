// weft-echo: a TCP echo server, one fiber per connection, on one or more threads.
//
//   weft-echo [--host ADDRESS] [--port PORT] [--threads N] [--debug-port PORT]
//
// Try it with `nc 127.0.0.1 7777`, `socat - TCP:127.0.0.1:7777`, or any TCP client. With
// --threads N (default 1) a weft::RuntimeGroup runs N runtimes, each with its own
// SO_REUSEPORT listener on the port. SIGINT or SIGTERM stops the server: the group's stop
// makes every blocked accept and recv return WSAENETDOWN, each connection fiber closes its
// socket, and the process exits 0.
//
// For the operator (operations.hpp): --debug-port PORT serves /debug/fibers, /debug/fibers.json
// and /metrics on 127.0.0.1:PORT (0: any free port) from runtime 0, for every runtime; SIGQUIT
// prints the fiber dump to standard error and the server goes on. Both end with the stop.
#include <weft/weft.hpp>

#include "operations.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

weft::RuntimeGroup* g_group = nullptr;

void serve(weft::UniqueSocket conn) {
  char buf[4096];
  for (;;) {
    auto n = weft::recv(conn.get(), buf, sizeof buf);
    if (!n.ok() || *n == 0) return;  // error, stop, or the client's EOF
    if (!weft::send(conn.get(), buf, *n).ok()) return;
  }
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--host ADDRESS] [--port PORT] [--threads N] [--debug-port PORT]\n"
               "  --debug-port PORT  serve /debug/fibers and /metrics on 127.0.0.1:PORT (0: any "
               "free one)\n"
               "SIGQUIT prints every fiber and what it waits on to standard error.\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  long port = 7777;
  long threads = 1;
  long debug_port = -1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--host") && i + 1 < argc) {
      host = argv[++i];
    } else if (!std::strcmp(argv[i], "--port") && i + 1 < argc) {
      if (!parse_number(argv[++i], 0, 65535, &port)) return usage(argv[0]);
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      if (!parse_number(argv[++i], 1, 1024, &threads)) return usage(argv[0]);
    } else if (!std::strcmp(argv[i], "--debug-port") && i + 1 < argc) {
      if (!parse_debug_port(argv[++i], &debug_port)) return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }
  auto address = weft::Address::parse(host, static_cast<std::uint16_t>(port));
  if (!address.ok()) {
    std::fprintf(stderr, "weft-echo: %s is not a numeric IPv4 or IPv6 address\n", host.c_str());
    return 2;
  }

  weft::RuntimeGroup group(static_cast<std::size_t>(threads));
  auto at = group.serve(*address, serve);
  if (!at.ok()) {
    std::fprintf(stderr, "weft-echo: cannot listen on %s: %s\n", address->to_string().c_str(),
                 at.error().message().c_str());
    return 1;
  }
  // The operator's view, from runtime 0. The server ends by stopping its runtimes, which ends
  // these fibers too: no token of its own. A debug port that cannot be had ends the server.
  Operations operations(weft::CancelToken{});
  bool operations_failed = false;
  (void)group[0].spawn([&] {
    if (operations.start("weft-echo", debug_port)) return;
    operations_failed = true;
    group.stop();
  });
  g_group = &group;
  // Signals are turned into a thread-safe stop; the handler only calls stop(), which is one
  // atomic exchange and one write(2) per runtime.
  std::signal(SIGINT, [](int) { g_group->stop(); });
  std::signal(SIGTERM, [](int) { g_group->stop(); });
  std::signal(SIGPIPE, SIG_IGN);
  std::printf("weft-echo: listening on %s\n", at->to_string().c_str());
  std::fflush(stdout);
  auto ran = group.run();
  if (operations_failed) return 1;
  if (!ran.ok() && ran.error() != weft::wsa::enetdown) return 1;  // enetdown: a signal came first
  std::printf("weft-echo: stopped\n");
  return 0;
}
