// weft-echo: a TCP echo server, one fiber per connection.
//
//   weft-echo [--host ADDRESS] [--port PORT]
//
// Try it with `nc 127.0.0.1 7777`, `socat - TCP:127.0.0.1:7777`, or any TCP client. SIGINT
// or SIGTERM stops the server: the runtime's stop makes every blocked accept and recv return
// WSAENETDOWN, each connection fiber closes its socket, and the process exits 0.
#include <weft/weft.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

weft::Runtime* g_runtime = nullptr;

void serve(weft::Socket c) {
  weft::UniqueSocket conn(c);
  char buf[4096];
  for (;;) {
    auto n = weft::recv(conn.get(), buf, sizeof buf);
    if (!n.ok() || *n == 0) return;  // error, stop, or the client's EOF
    if (!weft::send(conn.get(), buf, *n).ok()) return;
  }
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--host ADDRESS] [--port PORT]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 7777;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--host") && i + 1 < argc) {
      host = argv[++i];
    } else if (!std::strcmp(argv[i], "--port") && i + 1 < argc) {
      char* end = nullptr;
      long p = std::strtol(argv[++i], &end, 10);
      if (*end || p < 0 || p > 65535) return usage(argv[0]);
      port = static_cast<int>(p);
    } else {
      return usage(argv[0]);
    }
  }
  auto address = weft::Address::parse(host, static_cast<std::uint16_t>(port));
  if (!address.ok()) {
    std::fprintf(stderr, "weft-echo: %s is not a numeric IPv4 or IPv6 address\n", host.c_str());
    return 2;
  }

  weft::Runtime rt;
  g_runtime = &rt;
  // Signals are turned into a thread-safe stop; the handler itself only calls stop(), which
  // is one atomic exchange and one write(2).
  std::signal(SIGINT, [](int) { g_runtime->stop(); });
  std::signal(SIGTERM, [](int) { g_runtime->stop(); });
  std::signal(SIGPIPE, SIG_IGN);

  int status = 0;
  (void)rt.spawn([&] {
    auto l = weft::socket(address->family(), SOCK_STREAM);
    if (!l.ok() || !weft::set_reuse_address(*l, true).ok() || !weft::bind(*l, *address).ok() ||
        !weft::listen(*l, 1024).ok()) {
      std::fprintf(stderr, "weft-echo: cannot listen on %s\n", address->to_string().c_str());
      status = 1;
      return;
    }
    weft::UniqueSocket listener(*l);
    std::printf("weft-echo: listening on %s\n", weft::local_address(listener.get())->to_string().c_str());
    std::fflush(stdout);
    for (;;) {
      auto c = weft::accept(listener.get());
      if (c.ok()) {
        (void)weft::spawn([s = *c] { serve(s); });
      } else if (c.error() == weft::wsa::enetdown) {
        return;  // stopping
      } else if (c.error() != weft::wsa::emfile) {
        std::fprintf(stderr, "weft-echo: accept: %s\n", c.error().message().c_str());
      }
    }
  });
  if (!rt.run().ok()) return 1;
  std::printf("weft-echo: stopped\n");
  return status;
}
