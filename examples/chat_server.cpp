// weft-chat: a line chat server over TCP.
//
//   weft-chat [--host ADDRESS] [--port PORT] [--queue LINES] [--max-line BYTES] [--grace MS]
//             [--debug-port PORT]
//
// Every line a client sends reaches every other client once, in the order it was sent, as
// "NAME: TEXT". Clients are named user1, user2, ... in the order they connect; a new client
// is told its name ("* welcome, you are user3 (2 online)") and the others are told when a
// client joins, leaves or is dropped ("* user3 joined", "* user3 left", "* user3 dropped (not
// reading)"). A line ends with "\n" (a "\r" before it is removed, so telnet and `nc -C` work);
// empty lines are ignored; a line longer than --max-line bytes (default 4096) is cut into
// pieces of that length, each sent as a line. Try it with `nc 127.0.0.1 7780` in two
// terminals. --port 0 picks a free port; the first line printed says which.
//
// The fibers, all on one runtime:
//   * a reader per client: waits for its socket to be readable or for its client's quit event
//     (wait_any), cuts what it reads into lines and sends each to the shared inbox, a bounded
//     Channel<Message>; it waits there when the inbox is full, so a client that sends faster
//     than the others can take is slowed down by TCP's flow control, not buffered;
//   * one broadcast fiber (the hub): the only one that knows who is in the room. It takes
//     every message from the inbox in order and offers each line to every other client's queue
//     with try_send, which never waits;
//   * a writer per client: waits for a line in its client's queue or for the quit event
//     (wait_any), and writes what it takes without blocking past the quit event: when the
//     socket has no room it waits for it to be writable, or for quit, again with wait_any.
//
// A slow reader. Each client's queue is a Channel<std::string> of --queue lines (default 64).
// When a client reads too slowly for its queue to take a line — its socket buffers are full
// and --queue lines are waiting behind them — the hub drops that client: it leaves the room,
// the others are told "* NAME dropped (not reading)", its quit event ends its reader and its
// writer at once, and its connection is reset (RST: what it had not yet read is discarded, and
// the client sees the reset rather than a stream with lines missing). Nobody waits for a slow
// client, and no line is ever dropped for a client that stays: every client in the room gets
// every line, or is told by the reset that it did not. So the server's memory is bounded:
// at most --queue lines of at most --max-line bytes per client, plus the inbox's 256.
//
// SIGINT or SIGTERM (awaited by fibers with weft::signal_wait): the server stops accepting,
// the hub delivers what is already in the inbox, tells every client "* server shutting down"
// and closes their queues; each writer sends what is queued for its client, then its
// connection closes. Clients that do not take their lines within the grace period (--grace,
// default 2000 ms) are cut off (reset, if a line was cut). The process exits 0.
//
// For the operator (operations.hpp): --debug-port PORT serves /debug/fibers, /debug/fibers.json
// and /metrics on 127.0.0.1:PORT (0: any free port); SIGQUIT prints the fiber dump to standard
// error and the server goes on. Both end at the first SIGINT or SIGTERM.
#include <weft/weft.hpp>

#include "operations.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kInboxLines = 256;        // the shared inbox's capacity
constexpr std::size_t kWriteBatch = 64 * 1024;  // a writer writes up to this much at once

struct Config {
  weft::Address listen;
  std::size_t queue = 64;       // lines waiting for one client
  std::size_t max_line = 4096;  // bytes in one line
  std::chrono::milliseconds grace{2000};
  long debug_port = -1;  // -1: no debug listener
};

// One connected client. Shared by its reader and writer and, while the client is in the room,
// by the hub; all of them run on one runtime, so the hub's own fields need no lock.
struct Client {
  Client(std::string n, std::size_t queue) : name(std::move(n)), out(queue) {}

  const std::string name;
  weft::Channel<std::string> out;  // the lines for this client, taken by its writer
  weft::Event quit;                // set: the client is done (left, dropped, or its writer ended)
  // The hub's: in the room; dropped for reading too slowly.
  bool in_room = false;
  bool dropped = false;
};

// What readers tell the hub: a client joined, sent a line (text: "NAME: TEXT\n"), or left.
struct Message {
  enum class Kind { join, line, leave };
  Kind kind;
  std::shared_ptr<Client> from;
  std::string text;
};

// The room, kept by the hub fiber alone.
class Hub {
 public:
  void join(const std::shared_ptr<Client>& c) {
    c->in_room = true;
    clients_.push_back(c);
    (void)c->out.try_send("* welcome, you are " + c->name + " (" + std::to_string(clients_.size()) +
                          " online)\n");
    broadcast("* " + c->name + " joined\n", c.get());
  }

  void line(const Client& from, const std::string& text) {
    if (from.in_room) broadcast(text, &from);  // not once dropped
  }

  void leave(const std::shared_ptr<Client>& c) {
    if (!c->in_room) return;  // dropped already: the others were told
    remove(*c);
    c->quit.set();
    broadcast("* " + c->name + " left\n", nullptr);
  }

  // The server stops: a last line for everyone, and every queue closed; each writer sends
  // what is queued for its client, then ends.
  void shut_down() {
    for (auto& c : clients_) {
      (void)c->out.try_send("* server shutting down\n");  // a full queue: not this one
      c->out.close();
      c->in_room = false;
    }
    clients_.clear();
  }

 private:
  // Offers text to every client in the room but `except`; drops every client whose queue is
  // full, and tells the others (which may drop more).
  void broadcast(const std::string& text, const Client* except) {
    offer(text, except);
    while (!slow_.empty()) {
      std::shared_ptr<Client> c = std::move(slow_.back());
      slow_.pop_back();
      remove(*c);
      c->quit.set();  // its reader and writer end at once
      offer("* " + c->name + " dropped (not reading)\n", nullptr);
    }
  }

  void offer(const std::string& text, const Client* except) {
    for (auto& c : clients_) {
      if (c.get() == except || c->dropped) continue;
      if (!c->out.try_send(std::string(text)).ok()) {  // WSAEWOULDBLOCK: its queue is full
        c->dropped = true;
        slow_.push_back(c);
      }
    }
  }

  void remove(Client& c) {
    c.in_room = false;
    std::erase_if(clients_, [&](const auto& p) { return p.get() == &c; });
  }

  std::vector<std::shared_ptr<Client>> clients_;  // in the order they joined
  std::vector<std::shared_ptr<Client>> slow_;     // dropped, not yet announced
};

// The hub fiber: every message, in the order the inbox took them, until the inbox is closed
// and drained.
void run_hub(weft::Channel<Message> inbox) {
  Hub hub;
  for (;;) {
    auto m = inbox.recv();
    if (!m.ok()) break;  // WSAESHUTDOWN: closed and drained, the server stops
    switch (m->kind) {
      case Message::Kind::join: hub.join(m->from); break;
      case Message::Kind::line: hub.line(*m->from, m->text); break;
      case Message::Kind::leave: hub.leave(m->from); break;
    }
  }
  hub.shut_down();
}

// Writes all of data unless quit is set first: never blocked past it, so a client that does
// not read can still be dropped. False if the client is done (quit, an error, a stop).
bool write_all(weft::Socket s, std::string_view data, weft::Event& quit) {
  while (!data.empty()) {
    auto n = weft::send_some(s, data.data(), data.size(), MSG_DONTWAIT);
    if (n.ok()) {
      data.remove_prefix(*n);
      continue;
    }
    if (n.error() != weft::wsa::ewouldblock) return false;  // reset, ...
    auto which = weft::wait_any({weft::on_event(quit), weft::on_writable(s)});
    if (!which.ok() || *which == 0) return false;
  }
  return true;
}

// The writer fiber: the client's queue to its socket, until quit (listed first: it wins over
// lines still queued), the queue's close at shutdown once it is drained, or an error. False
// if it stopped in the middle of a line (or on an error): the stream the client got is cut.
bool write_lines(weft::Socket s, Client& me) {
  std::string batch;
  for (;;) {
    std::optional<std::string> line;
    auto which = weft::wait_any({weft::on_event(me.quit), weft::on_recv(me.out, line)});
    if (!which.ok() || *which == 0 || !line) return true;  // stop, quit, or closed and drained
    batch = std::move(*line);
    while (batch.size() < kWriteBatch) {  // take what else is queued: one write for many lines
      auto more = me.out.try_recv();
      if (!more.ok()) break;
      batch += *more;
    }
    if (!write_all(s, batch, me.quit)) return false;
  }
}

// The reader, on the connection's fiber: lines to the inbox until the client's end of stream
// or an error (it left), its quit event (dropped, or its writer ended), or the server's stop.
void read_lines(weft::Socket s, const std::shared_ptr<Client>& me, weft::Channel<Message>& inbox,
                std::size_t max_line) {
  std::string pending;
  char buf[16 * 1024];
  for (;;) {
    auto which = weft::wait_any({weft::on_event(me->quit), weft::on_readable(s)});
    if (!which.ok() || *which == 0) break;
    auto n = weft::recv(s, buf, sizeof buf, MSG_DONTWAIT);
    if (!n.ok() && n.error() == weft::wsa::ewouldblock) continue;
    if (!n.ok() || *n == 0) break;  // the client's end of stream, or a reset
    pending.append(buf, *n);
    std::size_t start = 0;
    for (;;) {
      std::size_t nl = pending.find('\n', start), end, next;
      if (nl != std::string::npos && nl - start <= max_line) {
        end = nl;
        next = nl + 1;
      } else if (pending.size() - start > max_line) {  // too long: cut
        end = next = start + max_line;
      } else {
        break;  // the rest of this line has not come yet
      }
      std::string_view text(pending.data() + start, end - start);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      start = next;
      if (text.empty()) continue;
      std::string out;
      out.reserve(me->name.size() + text.size() + 3);
      out.append(me->name).append(": ").append(text).append("\n");
      if (!inbox.send(Message{Message::Kind::line, me, std::move(out)}).ok()) {
        return;  // WSAESHUTDOWN: the server stops; the hub closes this client's queue
      }
    }
    pending.erase(0, start);
  }
  (void)inbox.send(Message{Message::Kind::leave, me, {}});  // fails once the server stops
}

// One connection, a member of the server's connections group.
void serve_client(weft::UniqueSocket conn, std::string name, weft::Channel<Message> inbox,
                  const Config& cfg) {
  (void)weft::set_nodelay(conn.get(), true);
  auto me = std::make_shared<Client>(std::move(name), cfg.queue);
  if (!inbox.send(Message{Message::Kind::join, me, {}}).ok()) return;  // the server stops
  bool whole = true;  // the writer never stopped in the middle of a line
  {
    // Linked to the connections group: the end of the grace period cancels the writer too.
    weft::FiberGroup writer;
    auto started = writer.spawn([&] {
      whole = write_lines(conn.get(), *me);
      me->quit.set();  // the writer is done: so is the reader
    });
    if (!started.ok()) me->quit.set();
    read_lines(conn.get(), me, inbox, cfg.max_line);
  }  // waits for the writer
  // A client dropped, or cut off in the middle of a line (by the end of the grace period), is
  // reset: what it did not read is discarded, and it sees the reset, not a stream that ends
  // cleanly with lines missing.
  if (me->dropped || !whole) (void)weft::set_linger(conn.get(), 0s);
}

int serve(const Config& cfg) {
  auto l = weft::socket(cfg.listen.family(), SOCK_STREAM);
  if (!l.ok()) return 1;
  weft::UniqueSocket listener(*l);
  if (!weft::set_reuse_address(listener.get(), true).ok() ||
      !weft::bind(listener.get(), cfg.listen).ok() || !weft::listen(listener.get(), 1024).ok()) {
    std::fprintf(stderr, "weft-chat: cannot listen on %s\n", cfg.listen.to_string().c_str());
    return 1;
  }

  weft::Channel<Message> inbox(kInboxLines);
  auto hub = weft::spawn([inbox] { run_hub(inbox); });
  if (!hub.ok()) return 1;

  // The first of SIGINT and SIGTERM cancels `stopping`, which ends the accept loop and the
  // other signal's wait.
  weft::CancelSource stopping;
  weft::FiberGroup signals;
  for (int sig : {SIGINT, SIGTERM}) {
    (void)signals.spawn([&, sig] {
      if (weft::signal_wait(sig, stopping.token()).ok()) stopping.cancel();
    });
  }
  weft::this_fiber::yield();  // both now wait: from here on a signal is theirs
  // The operator's view; it ends with `stopping` (or on the way out).
  Operations operations(stopping.token());
  if (!operations.start("weft-chat", cfg.debug_port)) {
    stopping.cancel();
    inbox.close();
    (void)weft::join(*hub);
    return 1;
  }

  std::printf("weft-chat: listening on %s\n",
              weft::local_address(listener.get())->to_string().c_str());
  std::fflush(stdout);

  {
    weft::FiberGroup connections;
    {
      weft::CancelScope accepting(stopping.token());
      unsigned long next_user = 1;
      while (!accepting.cancel_requested()) {
        auto c = weft::accept(listener.get());
        if (!c.ok()) {
          // WSAEINTR: a signal (the loop ends). Out of descriptors (WSAEMFILE): the
          // connection stays queued; try again a little later.
          (void)weft::this_fiber::sleep_for(100ms);
          continue;
        }
        (void)connections.spawn([&cfg, inbox, conn = weft::UniqueSocket(*c),
                                 name = "user" + std::to_string(next_user++)]() mutable {
          serve_client(std::move(conn), std::move(name), inbox, cfg);
        });
      }
    }
    listener.reset();  // stop accepting: connections still queued are reset by the kernel
    std::printf("weft-chat: shutting down\n");
    std::fflush(stdout);
    // The hub delivers what is in the inbox, says goodbye and closes every client's queue;
    // the writers send what is queued. Whoever has not taken it within the grace is cut off.
    inbox.close();
    weft::CancelSource grace(cfg.grace);
    if (!connections.join_all(grace.token()).ok()) connections.cancel();
    grace.clear_deadline();
  }  // waits for every connection
  (void)weft::join(*hub);
  return 0;
}  // the signals group waits for both signal waits (the second is cancelled by `stopping`)

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--host ADDRESS] [--port PORT] [--queue LINES] [--max-line BYTES] "
               "[--grace MS]\n"
               "          [--debug-port PORT]\n"
               "  --debug-port PORT  serve /debug/fibers and /metrics on 127.0.0.1:PORT (0: any "
               "free one)\n"
               "SIGQUIT prints every fiber and what it waits on to standard error.\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string host = "127.0.0.1";
  long port = 7780, queue = 64, max_line = 4096, grace_ms = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool more = i + 1 < argc;
    if (a == "--host" && more) {
      host = argv[++i];
    } else if (a == "--port" && more) {
      if (!parse_number(argv[++i], 0, 65535, &port)) return usage(argv[0]);
    } else if (a == "--queue" && more) {
      if (!parse_number(argv[++i], 1, 1'000'000, &queue)) return usage(argv[0]);
    } else if (a == "--max-line" && more) {
      if (!parse_number(argv[++i], 1, 1 << 20, &max_line)) return usage(argv[0]);
    } else if (a == "--grace" && more) {
      if (!parse_number(argv[++i], 0, 3'600'000, &grace_ms)) return usage(argv[0]);
    } else if (a == "--debug-port" && more) {
      if (!parse_debug_port(argv[++i], &cfg.debug_port)) return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }
  auto listen = weft::Address::parse(host, static_cast<std::uint16_t>(port));
  if (!listen.ok()) {
    std::fprintf(stderr, "weft-chat: %s is not a numeric IPv4 or IPv6 address\n", host.c_str());
    return 2;
  }
  cfg.listen = *listen;
  cfg.queue = static_cast<std::size_t>(queue);
  cfg.max_line = static_cast<std::size_t>(max_line);
  cfg.grace = std::chrono::milliseconds(grace_ms);

  weft::Runtime rt;
  int status = 1;
  (void)rt.spawn([&] { status = serve(cfg); });
  if (!rt.run().ok()) return 1;
  if (status == 0) std::printf("weft-chat: stopped\n");
  return status;
}
