// weft-exec: a tiny inetd. For each connection it runs a command whose standard input is what
// the client sends and whose standard output goes back to the client.
//
//   weft-exec [--host ADDRESS] [--port PORT] [--unix PATH] [--grace MS] [--max-children N]
//             [--group] [--verbose] [--debug-port PORT] -- COMMAND [ARGUMENT...]
//
// It listens on ADDRESS:PORT (default 127.0.0.1:7790; port 0 picks a free one, printed on the
// first line), on the Unix-domain socket PATH with --unix (TCP too only if --port is given as
// well), or both. Try `weft-exec --port 7790 -- tr a-z A-Z`, then
// `echo hello | nc -N 127.0.0.1 7790`. The command is looked up in PATH once at start (it must
// exist then); each connection runs it anew with Process::spawn, its standard error shared
// with weft-exec's. Its environment is weft-exec's, with the connection described as UCSPI
// servers do: PROTO=TCP, TCPLOCALIP, TCPLOCALPORT, TCPREMOTEIP, TCPREMOTEPORT; or, on the Unix
// socket, PROTO=UNIX, UNIXREMOTEPID, UNIXREMOTEEUID, UNIXREMOTEEGID (the client's credentials,
// from the kernel).
//
// Each connection has three fibers, all on one runtime:
//   * to the child: copies what the client sends to the child's standard input; the client's
//     end of stream (its FIN: `nc -N`, shutdown(SHUT_WR)) closes the child's input, as TCP's
//     half-close means, and the child goes on. If the child stops reading (it closed its input,
//     or ended), what the client still sends is read and dropped. A reset by the client ends
//     its recv; while the child's input is full, and after the client's end of stream, when
//     no recv waits, a poll that never blocks looks for it once a second;
//   * from the child: copies the child's standard output to the client; at its end the client
//     gets a FIN (shutdown) after the last byte;
//   * the connection's own: waits for the child's end (Process::wait).
// How a connection ends:
//   * the child ends: the rest of its output is sent (a process it left behind that still
//     holds its output gets --grace ms of silence at most), then the FIN; what the client still
//     sends is read and dropped until its own end (--grace ms at most), so that a late byte of
//     its own cannot turn the close into a reset that would discard the child's last output at
//     the client; then the socket closes. --verbose logs the child's exit status;
//   * the client goes (its connection is reset, or refuses the child's output): the child is
//     ended in stages, as Process::run does on a cancel: its pipes close, SIGTERM, then
//     SIGKILL if it has not ended within --grace ms (default 2000), and it is reaped. No
//     zombie, no descriptor left behind. A client that only ends its side (FIN) has not gone:
//     TCP cannot tell that from a half-close, so a child that neither reads nor writes (`sleep
//     60`) then runs to its own end. The signals go to the child alone, not to processes it
//     started, unless --group is given: then each child leads a process group of its own
//     (ProcessOptions::new_group), both signals go to the group, and when the connection
//     ends, however it ends, SIGKILL ends whatever the child left in its group (a shell's
//     background job, a pipeline's other commands).
// At most --max-children connections (default 64) are served at once; further clients wait in
// the listen queue. SIGINT or SIGTERM stops accepting and ends every connection's child in
// stages, then the process exits 0.
//
// For the operator (operations.hpp): --debug-port PORT serves /debug/fibers, /debug/fibers.json
// and /metrics on 127.0.0.1:PORT (0: any free port); SIGQUIT prints the fiber dump to standard
// error and the server goes on. Both end at the first SIGINT or SIGTERM.
#include <weft/weft.hpp>

#include "operations.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kChunk = 16 * 1024;  // one copy step, on the pump's stack
constexpr auto kClientCheck = 1s;          // while the child's input is full: is the client there?

struct Config {
  std::vector<std::string> command;  // argv of the child; [0] as given
  std::string host = "127.0.0.1";
  long port = -1;  // -1: not given
  std::string unix_path;
  std::chrono::milliseconds grace{2000};
  long max_children = 64;
  bool verbose = false;
  bool group = false;                    // --group: each child in a process group of its own
  long debug_port = -1;                  // -1: no debug listener
  std::vector<std::string> environment;  // weft-exec's own, less the names set per connection
};

bool cancelled(std::error_code e) {
  return e == weft::wsa::eintr || e == weft::wsa::etimedout || e == weft::wsa::enetdown;
}

// The child's environment: weft-exec's, and what describes the connection.
std::vector<std::string> environment_for(const Config& cfg, weft::Socket client, bool unix_socket) {
  std::vector<std::string> env = cfg.environment;
  if (unix_socket) {
    env.push_back("PROTO=UNIX");
    if (auto who = weft::peer_credentials(client); who.ok()) {
      env.push_back("UNIXREMOTEPID=" + std::to_string(who->pid));
      env.push_back("UNIXREMOTEEUID=" + std::to_string(who->uid));
      env.push_back("UNIXREMOTEEGID=" + std::to_string(who->gid));
    }
    return env;
  }
  env.push_back("PROTO=TCP");
  if (auto local = weft::local_address(client); local.ok()) {
    env.push_back("TCPLOCALIP=" + local->host());
    env.push_back("TCPLOCALPORT=" + std::to_string(local->port()));
  }
  if (auto remote = weft::peer_address(client); remote.ok()) {
    env.push_back("TCPREMOTEIP=" + remote->host());
    env.push_back("TCPREMOTEPORT=" + std::to_string(remote->port()));
  }
  return env;
}

// Whether the client's connection has failed (a reset): a poll that never waits, asking for
// nothing, reports errors and hang-ups alone. A FIN alone is not one.
bool client_failed(weft::Socket client) {
  weft::PollEntry e{client, 0, 0};
  auto r = weft::poll(std::span(&e, 1), 0ms);
  return !r.ok() || (e.revents & (weft::kPollErr | weft::kPollHup)) != 0;
}

enum class Fed { all, child_gone, client_gone, cancelled };

// Writes buf to the child's input. send_some returns as soon as some bytes moved, and a
// cancelled one moved none, so each wait for room can be given up at kClientCheck without
// cutting the pipe, to look at the client.
Fed feed(weft::Socket client, weft::Socket in, const char* buf, std::size_t len) {
  while (len > 0) {
    weft::Result<std::size_t> n = std::size_t{0};
    {
      weft::CancelScope check(kClientCheck);
      n = weft::send_some(in, buf, len);
    }
    if (n.ok()) {
      buf += *n;
      len -= *n;
    } else if (n.error() == weft::wsa::etimedout) {  // no room for a while
      if (client_failed(client)) return Fed::client_gone;
    } else if (cancelled(n.error())) {
      return Fed::cancelled;
    } else {
      return Fed::child_gone;  // WSAECONNRESET: it closed its input, or ended
    }
  }
  return Fed::all;
}

// Client → the child's standard input, until the client's end of stream (the child's input
// closes then) or an error; `client_ended` is set then. `gone` is cancelled when the client
// has gone: a reset, seen by recv, or afterwards by a look once a second (a half-closed client
// may still reset).
void to_child(weft::Socket client, weft::UniqueSocket& child_in, weft::CancelSource& gone,
              weft::Event& client_ended) {
  char buf[kChunk];
  for (;;) {
    auto n = weft::recv(client, buf, sizeof buf);
    if (!n.ok()) {
      client_ended.set();
      if (!cancelled(n.error())) gone.cancel();  // reset
      return;
    }
    if (*n == 0) break;
    if (!child_in) continue;  // the child no longer reads: dropped
    switch (feed(client, child_in.get(), buf, *n)) {
      case Fed::all: break;
      case Fed::child_gone: child_in.reset(); break;
      case Fed::client_gone:
        client_ended.set();
        gone.cancel();
        return;
      case Fed::cancelled: client_ended.set(); return;
    }
  }
  child_in.reset();  // the end of the client's input is the end of the child's
  client_ended.set();
  while (weft::this_fiber::sleep_for(kClientCheck).ok()) {
    if (client_failed(client)) {
      gone.cancel();
      return;
    }
  }
}

// The child's standard output → client, until its end; then the client gets a FIN. Once the
// child has ended (`ended`; `exit_seen` is cancelled then, ending a recv that waits, which takes
// nothing), each recv waits `grace` at most: a process the child left behind that holds the
// pipe without writing ends the copy, while output that keeps coming is all sent.
void from_child(weft::Socket out, weft::Socket client, weft::CancelSource& gone,
                const weft::CancelSource& exit_seen, const bool& ended,
                std::chrono::milliseconds grace) {
  char buf[kChunk];
  for (;;) {
    weft::Result<std::size_t> n = std::size_t{0};
    if (ended) {
      weft::CancelScope quiet(grace);
      n = weft::recv(out, buf, sizeof buf);
    } else {
      n = weft::recv(out, buf, sizeof buf, 0, exit_seen.token());
      if (!n.ok() && ended) continue;  // the child's end came: the rest, under `grace`
    }
    if (!n.ok() || *n == 0) break;
    if (auto sent = weft::send(client, buf, *n); !sent.ok()) {
      if (!cancelled(sent.error())) gone.cancel();  // reset, or the client does not read
      return;
    }
  }
  (void)weft::shutdown(client, weft::Shutdown::send);
}

// Process::run's staged end, for a child that was spawned: SIGTERM, SIGKILL when `grace` has
// passed, reaped either way; returns its status (128 + the signal for one a signal ended).
// With --group both signals go to the child's group. Shielded: the server's stop, which may
// be what brought us here, does not cut it short.
weft::Result<int> end_in_stages(weft::Process& child, std::chrono::milliseconds grace, bool group) {
  weft::CancelScope shield(weft::CancelScope::shield);
  auto send = [&](int signum) { (void)(group ? child.kill_group(signum) : child.kill(signum)); };
  if (!child.exited()) {
    send(SIGTERM);
    weft::CancelScope bounded(grace);
    if (auto status = child.wait(); status.ok()) return status;
  }
  if (!child.exited()) send(SIGKILL);
  return child.wait();  // at once for a child that has ended
}

std::string describe(weft::Socket client, bool unix_socket) {
  if (unix_socket) {
    auto who = weft::peer_credentials(client);
    return who.ok() ? "pid " + std::to_string(who->pid) : std::string("a client");
  }
  auto peer = weft::peer_address(client);
  return peer.ok() ? peer->to_string() : std::string("a client");
}

// Serves one accepted connection (a member of the server's connections group).
void serve_connection(const Config& cfg, weft::UniqueSocket conn, bool unix_socket) {
  const weft::Socket client = conn.get();
  const std::string who = cfg.verbose ? describe(client, unix_socket) : std::string();
  weft::ProcessOptions o;
  o.argv = cfg.command;
  o.env = environment_for(cfg, client, unix_socket);
  o.in = weft::Stdio::pipe;
  o.out = weft::Stdio::pipe;
  o.err = weft::Stdio::inherit;
  o.new_group = cfg.group;
  auto child = weft::Process::spawn(o);
  if (!child.ok()) {
    std::fprintf(stderr, "weft-exec: cannot run %s: %s\n", cfg.command[0].c_str(),
                 child.error().message().c_str());
    return;  // the client's connection closes
  }
  if (cfg.verbose) {
    std::fprintf(stderr, "weft-exec: %s: started pid %d\n", who.c_str(),
                 static_cast<int>(child->pid()));
  }
  // The pipes belong to this fiber and outlive the pumps, which borrow them.
  weft::UniqueSocket child_in(child->stdin_pipe()), child_out(child->stdout_pipe());
  weft::CancelSource gone;       // a pump found the client gone
  weft::CancelSource exit_seen;  // the child has ended: its output's last wait is bounded
  weft::Event client_ended;      // the client's end of stream (or its error) was read
  bool ended = false;
  weft::Result<int> status = weft::wsa::eintr;
  {
    // Made in a member of the connections' group, this group is linked to it: the server's
    // stop cancels the pumps, and the wait below, too.
    weft::FiberGroup pumps;
    auto up = pumps.spawn([&] { to_child(client, child_in, gone, client_ended); });
    auto down = pumps.spawn(
        [&] { from_child(child_out.get(), client, gone, exit_seen, ended, cfg.grace); });
    if (up.ok() && down.ok()) {
      status = child->wait(gone.token());
      if (status.ok()) {
        ended = true;
        exit_seen.cancel();
        // Its output, then the FIN; then the client's own end, for a short while.
        if (weft::join(*down, gone.token()).ok()) {
          weft::CancelScope linger(cfg.grace);
          (void)client_ended.wait(gone.token());
        }
      }
    }
    pumps.cancel();
  }  // both pumps have ended
  // The child sees the end of its input, and its output has nowhere to go.
  child_in.reset();
  child_out.reset();
  if (status.ok()) {
    if (cfg.verbose) {
      std::fprintf(stderr, "weft-exec: %s: pid %d exited with status %d\n", who.c_str(),
                   static_cast<int>(child->pid()), *status);
    }
  } else {
    auto end = end_in_stages(*child, cfg.grace, cfg.group);
    if (cfg.verbose) {
      std::fprintf(stderr,
                   "weft-exec: %s: client gone or server stopping; pid %d ended, status %d\n",
                   who.c_str(), static_cast<int>(child->pid()), end.ok() ? *end : -1);
    }
  }
  // What the child left in its group goes with the connection (no_such_process: nothing).
  if (cfg.group) (void)child->kill_group(SIGKILL);
}  // the connection closes: after the FIN when the child ended, at once otherwise

// A permit of the --max-children semaphore, given back when the connection's fiber ends (or
// when its function is destroyed without running).
class Permit {
 public:
  explicit Permit(weft::Semaphore& s) noexcept : s_(&s) {}
  Permit(Permit&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Permit& operator=(Permit&&) = delete;
  ~Permit() {
    if (s_) s_->release();
  }

 private:
  weft::Semaphore* s_;
};

struct Listener {
  weft::UniqueSocket socket;
  bool unix_socket = false;
  std::string name;  // as printed
};

// Accepts on one listener until the connections' group is cancelled (a signal).
void accept_loop(const Config& cfg, Listener& l, weft::FiberGroup& connections,
                 weft::Semaphore& permits) {
  weft::CancelScope accepting(connections.token());
  while (!accepting.cancel_requested()) {
    if (!permits.acquire().ok()) break;  // WSAEINTR: the server stops
    Permit permit(permits);
    auto c = weft::accept(l.socket.get());
    if (!c.ok()) {
      // WSAEINTR: a signal (the loop ends). Out of descriptors (WSAEMFILE): the connection
      // stays queued; try again a little later.
      (void)weft::this_fiber::sleep_for(100ms);
      continue;
    }
    // The fiber owns the socket and the permit; if it cannot be started, both go back here.
    (void)connections.spawn([&cfg, unix_socket = l.unix_socket, conn = weft::UniqueSocket(*c),
                             permit = std::move(permit)]() mutable {
      serve_connection(cfg, std::move(conn), unix_socket);
    });
  }
}

weft::Result<Listener> listen_tcp(const Config& cfg) {
  auto address = weft::Address::parse(cfg.host, static_cast<std::uint16_t>(cfg.port));
  if (!address.ok()) return address.error();
  auto s = weft::socket(address->family(), SOCK_STREAM);
  if (!s.ok()) return s.error();
  Listener l{weft::UniqueSocket(*s), false, {}};
  if (auto r = weft::set_reuse_address(l.socket.get(), true); !r.ok()) return r.error();
  if (auto r = weft::bind(l.socket.get(), *address); !r.ok()) return r.error();
  if (auto r = weft::listen(l.socket.get(), 128); !r.ok()) return r.error();
  auto at = weft::local_address(l.socket.get());
  l.name = at.ok() ? at->to_string() : address->to_string();
  return l;
}

// A socket file left by an earlier run is removed first; one that a server still answers on
// is WSAEADDRINUSE, and a path that is not a socket is file_exists.
weft::Result<Listener> listen_unix(const Config& cfg) {
  auto address = weft::Address::unix_path(cfg.unix_path);
  if (!address.ok()) return address.error();
  if (auto st = weft::fs::stat(cfg.unix_path); st.ok()) {
    if ((st->mode & S_IFMT) != S_IFSOCK) return std::make_error_code(std::errc::file_exists);
    auto probe = weft::socket(AF_UNIX, SOCK_STREAM);
    if (!probe.ok()) return probe.error();
    weft::UniqueSocket owner(*probe);
    if (weft::connect(owner.get(), *address, 1s).ok()) return weft::wsa::eaddrinuse;
    if (auto r = weft::fs::unlink(cfg.unix_path); !r.ok()) return r.error();
  }
  auto s = weft::socket(AF_UNIX, SOCK_STREAM);
  if (!s.ok()) return s.error();
  Listener l{weft::UniqueSocket(*s), true, "unix:" + cfg.unix_path};
  if (auto r = weft::bind(l.socket.get(), *address); !r.ok()) return r.error();
  if (auto r = weft::listen(l.socket.get(), 128); !r.ok()) return r.error();
  return l;
}

// Listens, accepts until SIGINT or SIGTERM, and waits for every connection to end.
int serve(const Config& cfg) {
  std::vector<Listener> listeners;
  if (cfg.port >= 0 || cfg.unix_path.empty()) {
    auto l = listen_tcp(cfg);
    if (!l.ok()) {
      std::fprintf(stderr, "weft-exec: cannot listen on %s port %ld: %s\n", cfg.host.c_str(),
                   cfg.port, l.error().message().c_str());
      return 1;
    }
    listeners.push_back(std::move(*l));
  }
  if (!cfg.unix_path.empty()) {
    auto l = listen_unix(cfg);
    if (!l.ok()) {
      std::fprintf(stderr, "weft-exec: cannot listen on %s: %s\n", cfg.unix_path.c_str(),
                   l.error().message().c_str());
      return 1;
    }
    listeners.push_back(std::move(*l));
  }

  weft::Semaphore permits(static_cast<std::size_t>(cfg.max_children));
  weft::FiberGroup connections;
  // The first of SIGINT and SIGTERM cancels the connections' group; the accept loops and the
  // other signal's wait observe its token, so they end too.
  weft::FiberGroup signals;
  for (int sig : {SIGINT, SIGTERM}) {
    (void)signals.spawn([&, sig] {
      if (weft::signal_wait(sig, connections.token()).ok()) connections.cancel();
    });
  }
  weft::this_fiber::yield();  // both now wait: from here on a signal is theirs
  // The operator's view; it ends with the connections' group's cancel (or on the way out).
  Operations operations(connections.token());
  if (!operations.start("weft-exec", cfg.debug_port)) {
    connections.cancel();
    listeners.clear();
    if (!cfg.unix_path.empty()) (void)weft::fs::unlink(cfg.unix_path);
    return 1;
  }

  std::string where;
  for (const Listener& l : listeners) where += (where.empty() ? "" : " and ") + l.name;
  std::string what;
  for (const std::string& a : cfg.command) what += (what.empty() ? "" : " ") + a;
  std::printf("weft-exec: listening on %s, running %s\n", where.c_str(), what.c_str());
  std::fflush(stdout);

  {
    weft::FiberGroup acceptors;
    for (Listener& l : listeners) {
      (void)acceptors.spawn([&] { accept_loop(cfg, l, connections, permits); });
    }
  }                   // the loops end at the first signal
  listeners.clear();  // stop accepting: connections still queued are reset by the kernel
  if (!cfg.unix_path.empty()) {
    weft::CancelScope shield(weft::CancelScope::shield);
    (void)weft::fs::unlink(cfg.unix_path);
  }
  std::printf("weft-exec: stopping\n");
  std::fflush(stdout);
  return 0;
}  // the groups' destructors wait for every connection (each child ended) and both signal waits

constexpr const char* kUsage =
    "usage: %s [--host ADDRESS] [--port PORT] [--unix PATH] [--grace MS] [--max-children N]\n"
    "          [--group] [--verbose] [--debug-port PORT] -- COMMAND [ARGUMENT...]\n";

int help(const char* argv0) {
  std::printf(kUsage, argv0);
  std::printf(
      "\nRuns COMMAND for each connection, its standard input and output connected to the\n"
      "client (its standard error is weft-exec's).\n"
      "  --host ADDRESS     numeric IPv4 or IPv6 address to listen on (127.0.0.1)\n"
      "  --port PORT        TCP port to listen on, 0 for any free one (7790)\n"
      "  --unix PATH        listen on this Unix-domain socket too, or alone without --port\n"
      "  --grace MS         a child whose client has gone gets SIGTERM, then SIGKILL after MS\n"
      "                     (2000); also how long a child's leftover output and the client's\n"
      "                     end are waited for once the child has ended\n"
      "  --max-children N   connections (children) served at once; others wait (64)\n"
      "  --group            each child in a process group of its own: the signals go to the\n"
      "                     group, and what the child left in it is killed with the connection\n"
      "  --verbose          one line on standard error per child started and ended\n"
      "  --debug-port PORT  serve /debug/fibers, /debug/fibers.json and /metrics on\n"
      "                     127.0.0.1:PORT, 0 for any free one (none without it)\n"
      "SIGQUIT prints every fiber and what it waits on to standard error; it goes on.\n"
      "The client's end of stream closes the child's input; the child's end of output ends\n"
      "the connection. Example: %s --port 7790 -- tr a-z A-Z\n",
      argv0);
  return 0;
}

int usage(const char* argv0, const std::string& what) {
  std::fprintf(stderr, "weft-exec: %s\n", what.c_str());
  std::fprintf(stderr, kUsage, argv0);
  return 2;
}

// Whether `name` is a program that can be run: a path (with a '/') to an executable regular
// file, or such a file in a directory of PATH.
bool runnable(const std::string& name) {
  auto executable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) return executable(name);
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    std::size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (executable((dir.empty() ? "." : dir) + "/" + name)) return true;
    if (colon == std::string_view::npos) return false;
    dirs.remove_prefix(colon + 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  long grace_ms = 2000;
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--help" || a == "-h") return help(argv[0]);
    if (a == "--verbose") {
      cfg.verbose = true;
      continue;
    }
    if (a == "--group") {
      cfg.group = true;
      continue;
    }
    if (a.substr(0, 1) != "-") break;  // the command, without "--"
    const bool takes_value = a == "--host" || a == "--port" || a == "--unix" || a == "--grace" ||
                             a == "--max-children" || a == "--debug-port";
    if (!takes_value) return usage(argv[0], "unknown option " + std::string(a));
    if (i + 1 == argc || !*argv[i + 1]) return usage(argv[0], std::string(a) + " needs a value");
    const char* v = argv[++i];
    if (a == "--host") {
      cfg.host = v;
    } else if (a == "--port") {
      if (!parse_number(v, 0, 65535, &cfg.port)) return usage(argv[0], "--port: 0 to 65535");
    } else if (a == "--unix") {
      cfg.unix_path = v;
    } else if (a == "--grace") {
      if (!parse_number(v, 0, 3'600'000, &grace_ms)) {
        return usage(argv[0], "--grace: milliseconds, 0 to 3600000");
      }
    } else if (a == "--debug-port") {
      if (!parse_debug_port(v, &cfg.debug_port)) return usage(argv[0], "--debug-port: 0 to 65535");
    } else if (!parse_number(v, 1, 100'000, &cfg.max_children)) {
      return usage(argv[0], "--max-children: 1 to 100000");
    }
  }
  for (; i < argc; ++i) cfg.command.emplace_back(argv[i]);
  if (cfg.command.empty() || cfg.command[0].empty()) {
    return usage(argv[0], "no command given (it follows \"--\")");
  }
  if (!runnable(cfg.command[0])) {
    std::fprintf(stderr, "weft-exec: %s: no such program (or not executable)\n",
                 cfg.command[0].c_str());
    return 2;
  }
  if (cfg.port < 0 && cfg.unix_path.empty()) cfg.port = 7790;
  if (cfg.port >= 0 && !weft::Address::parse(cfg.host, 0).ok()) {
    std::fprintf(stderr, "weft-exec: %s is not a numeric IPv4 or IPv6 address\n", cfg.host.c_str());
    return 2;
  }
  if (!cfg.unix_path.empty() && !weft::Address::unix_path(cfg.unix_path).ok()) {
    std::fprintf(stderr, "weft-exec: --unix %s: not a usable socket path (empty, or too long)\n",
                 cfg.unix_path.c_str());
    return 2;
  }
  cfg.grace = std::chrono::milliseconds(grace_ms);
  for (char** e = environ; e && *e; ++e) {
    std::string_view var = *e;
    bool ours = false;
    for (std::string_view prefix : {"PROTO=", "TCPLOCAL", "TCPREMOTE", "UNIXREMOTE"}) {
      if (var.substr(0, prefix.size()) == prefix) ours = true;
    }
    if (!ours) cfg.environment.emplace_back(var);
  }

  weft::Runtime rt;
  int status = 1;
  (void)rt.spawn([&] { status = serve(cfg); });
  if (!rt.run().ok()) return 1;
  if (status == 0) std::printf("weft-exec: stopped\n");
  return status;
}
