// weft-forward: a TCP forwarder with an idle timeout, two fibers per connection.
//
//   weft-forward --listen-port PORT [--listen-host ADDRESS] --to HOST:PORT [--idle-timeout MS]
//                [--debug-port PORT]
//
// Each connection accepted on ADDRESS:PORT (default address 127.0.0.1; port 0 picks a free
// one, printed on the first line) is forwarded to HOST:PORT: the forwarder resolves HOST (a
// name or a numeric address, "[::1]:80" for IPv6) and connects to the first of its addresses
// that answers; then two fibers in a FiberGroup copy the bytes, one each way. Try it in front
// of weft-echo: `weft-forward --listen-port 7000 --to localhost:7777`, then `nc 127.0.0.1 7000`.
//
// Timeouts, each of the kind that fits it (docs/guide.md, "Timeouts: which one to use"):
//   * one connect attempt: 3 s, connect()'s own timeout;
//   * resolving and every attempt, in all: 10 s, a CancelScope's deadline (one fiber, a fixed
//     budget);
//   * idle: when neither direction has moved a byte for the idle timeout (default 60 s), both
//     stop. Both fibers observe one CancelSource, and each moves its deadline on
//     (set_timeout) whenever it moves bytes. A send held up by a peer that does not read is
//     no progress: it ends with the rest.
//
// How a pair ends:
//   * the end of the stream one way (its sender shut down or closed) is passed on — the
//     forwarder shuts down the sending side of the other socket — and the other direction
//     goes on, bounded by the idle timeout: a client that half-closes after its request still
//     gets the whole answer;
//   * an error either way (a reset, a failed send, the idle deadline) stops both: the pair's
//     group has cancel_on_error;
//   * both sockets close once both fibers have ended: gracefully, unless a send was cut off
//     after moving part of its bytes (then that connection was reset, as semantics.md §3
//     says).
// SIGINT or SIGTERM (awaited by a fiber with weft::signal_wait) stops accepting and cancels
// every connection; the process exits 0.
//
// For the operator (operations.hpp): --debug-port PORT serves /debug/fibers, /debug/fibers.json
// and /metrics on 127.0.0.1:PORT (0: any free port); SIGQUIT prints the fiber dump to standard
// error and the forwarder goes on. Both end with the connections' group's cancel.
#include <weft/weft.hpp>

#include "operations.hpp"

#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

using namespace std::chrono_literals;

constexpr auto kConnectAttempt = 3s;  // one address
constexpr auto kConnectBudget = 10s;  // resolving and every attempt, in all

struct Config {
  weft::Address listen;
  std::string target;      // as given: HOST:PORT
  std::string host, port;  // its parts
  std::chrono::milliseconds idle{60'000};
  long debug_port = -1;  // -1: no debug listener
};

// Resolves the target and connects to the first of its addresses that answers. Under the
// server's stop (the connections' group) every call here fails at once with WSAEINTR.
weft::Result<weft::UniqueSocket> connect_to(const Config& cfg) {
  weft::CancelScope budget(kConnectBudget);  // past it, every call here fails WSAETIMEDOUT
  auto addresses = weft::resolve(cfg.host, cfg.port, AF_UNSPEC, SOCK_STREAM);
  if (!addresses.ok()) return addresses.error();
  std::error_code last = weft::wsa::host_not_found;
  for (const weft::Address& address : *addresses) {
    auto s = weft::socket(address.family(), SOCK_STREAM);
    if (!s.ok()) {
      last = s.error();  // no IPv6 on this machine, ...: try the next address
      continue;
    }
    weft::UniqueSocket target(*s);
    auto connected = weft::connect(target.get(), address, kConnectAttempt);
    if (connected.ok()) return target;
    last = connected.error();  // refused, timed out, ...: try the next address
  }
  return last;
}

// One direction of a pair: copies from `from` to `to` until from's end of stream, which is
// passed on (`to` is shut down for sending; the other direction goes on), or an error, which
// the group turns into the other direction's end (WSAETIMEDOUT when the pair was idle).
weft::Status pump(weft::Socket from, weft::Socket to, weft::CancelSource& idle,
                  std::chrono::milliseconds idle_timeout) {
  const weft::CancelToken idle_token = idle.token();
  char buf[16 * 1024];
  for (;;) {
    auto n = weft::recv(from, buf, sizeof buf, 0, idle_token);
    if (!n.ok()) return n.error();
    if (*n == 0) {
      (void)weft::shutdown(to, weft::Shutdown::send);
      return {};
    }
    idle.set_timeout(idle_timeout);  // progress: the pair is not idle
    auto sent = weft::send(to, buf, *n, 0, idle_token);
    if (!sent.ok()) return sent.error();
    idle.set_timeout(idle_timeout);
  }
}

// Serves one accepted connection (a member of the server's connections group).
void forward(const Config& cfg, weft::UniqueSocket client) {
  auto target = connect_to(cfg);
  if (!target.ok()) {
    if (target.error() != weft::wsa::eintr) {  // WSAEINTR: the server stops
      std::fprintf(stderr, "weft-forward: cannot reach %s: %s\n", cfg.target.c_str(),
                   target.error().message().c_str());
    }
    return;  // the client's connection closes: it sees the end of the stream at once
  }
  (void)weft::set_nodelay(client.get(), true);
  (void)weft::set_nodelay(target->get(), true);
  weft::Socket a = client.get(), b = target->get();

  weft::CancelSource idle(cfg.idle);  // one deadline for the pair, moved on by both fibers
  {
    // Made by a member of the connections' group, the pair's group is linked to it: the
    // server's stop cancels both fibers too.
    weft::FiberGroup pair({.cancel_on_error = true});
    if (!pair.spawn([&] { return pump(a, b, idle, cfg.idle); }).ok() ||
        !pair.spawn([&] { return pump(b, a, idle, cfg.idle); }).ok()) {
      pair.cancel();
    }
  }  // the group's destructor waits for both fibers
  // Done with the source: drop its deadline, which would otherwise keep the source's state on
  // the deadline thread until it passed.
  idle.clear_deadline();
}  // both sockets close: a FIN after any data still queued

// Listens, accepts until SIGINT or SIGTERM, and waits for every connection to end.
int serve(const Config& cfg) {
  auto l = weft::socket(cfg.listen.family(), SOCK_STREAM);
  if (!l.ok()) return 1;
  weft::UniqueSocket listener(*l);
  if (!weft::set_reuse_address(listener.get(), true).ok() ||
      !weft::bind(listener.get(), cfg.listen).ok() || !weft::listen(listener.get(), 1024).ok()) {
    std::fprintf(stderr, "weft-forward: cannot listen on %s\n", cfg.listen.to_string().c_str());
    return 1;
  }

  weft::FiberGroup connections;
  // The first of SIGINT and SIGTERM cancels the connections' group; the accept loop below
  // and the other signal's wait observe its token, so they end too.
  weft::FiberGroup signals;
  for (int sig : {SIGINT, SIGTERM}) {
    (void)signals.spawn([&, sig] {
      if (weft::signal_wait(sig, connections.token()).ok()) connections.cancel();
    });
  }
  weft::this_fiber::yield();  // both now wait: from here on a signal is theirs
  // The operator's view; it ends with the connections' group's cancel (or on the way out).
  Operations operations(connections.token());
  if (!operations.start("weft-forward", cfg.debug_port)) {
    connections.cancel();
    return 1;
  }

  std::printf("weft-forward: listening on %s, forwarding to %s\n",
              weft::local_address(listener.get())->to_string().c_str(), cfg.target.c_str());
  std::fflush(stdout);

  weft::CancelScope accepting(connections.token());
  while (!accepting.cancel_requested()) {
    auto c = weft::accept(listener.get());
    if (!c.ok()) {
      // WSAEINTR: a signal (the loop ends). Out of descriptors (WSAEMFILE): the connection
      // stays queued; try again a little later.
      (void)weft::this_fiber::sleep_for(100ms);
      continue;
    }
    // The fiber owns the socket; if it cannot be started, the socket closes here.
    (void)connections.spawn(
        [&cfg, conn = weft::UniqueSocket(*c)]() mutable { forward(cfg, std::move(conn)); });
  }
  listener.reset();  // stop accepting: connections still queued are reset by the kernel
  std::printf("weft-forward: stopping\n");
  std::fflush(stdout);
  return 0;
}  // the groups' destructors wait for every connection and both signal waits

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --listen-port PORT [--listen-host ADDRESS] --to HOST:PORT "
               "[--idle-timeout MS]\n"
               "          [--debug-port PORT]\n"
               "  --debug-port PORT  serve /debug/fibers and /metrics on 127.0.0.1:PORT (0: any "
               "free one)\n"
               "SIGQUIT prints every fiber and what it waits on to standard error.\n",
               argv0);
  return 2;
}

// Splits "host:port" or "[v6 address]:port".
bool split_target(std::string_view text, std::string* host, std::string* port) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = text.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  long number;
  *host = std::string(h);
  *port = std::string(text.substr(colon + 1));
  return parse_number(port->c_str(), 1, 65535, &number);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string listen_host = "127.0.0.1";
  long listen_port = -1, idle_ms = 60'000;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool more = i + 1 < argc;
    if (a == "--listen-port" && more) {
      if (!parse_number(argv[++i], 0, 65535, &listen_port)) return usage(argv[0]);
    } else if (a == "--listen-host" && more) {
      listen_host = argv[++i];
    } else if (a == "--to" && more) {
      cfg.target = argv[++i];
      if (!split_target(cfg.target, &cfg.host, &cfg.port)) return usage(argv[0]);
    } else if (a == "--idle-timeout" && more) {
      if (!parse_number(argv[++i], 1, 86'400'000, &idle_ms)) return usage(argv[0]);
    } else if (a == "--debug-port" && more) {
      if (!parse_debug_port(argv[++i], &cfg.debug_port)) return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }
  if (listen_port < 0 || cfg.host.empty()) return usage(argv[0]);
  auto listen = weft::Address::parse(listen_host, static_cast<std::uint16_t>(listen_port));
  if (!listen.ok()) {
    std::fprintf(stderr, "weft-forward: %s is not a numeric IPv4 or IPv6 address\n",
                 listen_host.c_str());
    return 2;
  }
  cfg.listen = *listen;
  cfg.idle = std::chrono::milliseconds(idle_ms);

  weft::Runtime rt;
  int status = 1;
  (void)rt.spawn([&] { status = serve(cfg); });
  if (!rt.run().ok()) return 1;
  if (status == 0) std::printf("weft-forward: stopped\n");
  return status;
}
