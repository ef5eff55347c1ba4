// weft-echo: a TCP echo server, one fiber per connection, on one or more threads.
//
//   weft-echo [--host ADDRESS] [--port PORT] [--threads N]
//
// Try it with `nc 127.0.0.1 7777`, `socat - TCP:127.0.0.1:7777`, or any TCP client. With
// --threads N (default 1) a weft::RuntimeGroup runs N runtimes, each with its own
// SO_REUSEPORT listener on the port. SIGINT or SIGTERM stops the server: the group's stop
// makes every blocked accept and recv return WSAENETDOWN, each connection fiber closes its
// socket, and the process exits 0.
#include <weft/weft.hpp>

#include "cli.hpp"

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
  std::fprintf(stderr, "usage: %s [--host ADDRESS] [--port PORT] [--threads N]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  long port = 7777;
  long threads = 1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--host") && i + 1 < argc) {
      host = argv[++i];
    } else if (!std::strcmp(argv[i], "--port") && i + 1 < argc) {
      if (!parse_number(argv[++i], 0, 65535, &port)) return usage(argv[0]);
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      if (!parse_number(argv[++i], 1, 1024, &threads)) return usage(argv[0]);
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
  g_group = &group;
  // Signals are turned into a thread-safe stop; the handler only calls stop(), which is one
  // atomic exchange and one write(2) per runtime.
  std::signal(SIGINT, [](int) { g_group->stop(); });
  std::signal(SIGTERM, [](int) { g_group->stop(); });
  std::signal(SIGPIPE, SIG_IGN);
  std::printf("weft-echo: listening on %s\n", at->to_string().c_str());
  std::fflush(stdout);
  auto ran = group.run();
  if (!ran.ok() && ran.error() != weft::wsa::enetdown) return 1;  // enetdown: a signal came first
  std::printf("weft-echo: stopped\n");
  return 0;
}
