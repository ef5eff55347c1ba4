// Network-event selection (WSPEventSelect, WSPEnumNetworkEvents) for the Winsock-SPI-shaped C
// ABI, on weft's public primitives: a socket's readiness is watched with wait_any. The events
// it signals are wsp_event_objects.cpp's.
//
// Each association has a fiber on the socket's runtime that waits, with wait_any, for what the
// association still wants to learn (readable, writable) and for its own wake-up event, under a
// token that ending the association cancels. It records what it finds and signals the
// association's event. A socket is used only on its runtime's thread, so the associations are
// kept per thread and need no lock.
#include "wsp_events.hpp"
#include "wsp_common.hpp"

#include "weft/wsp.h"

#include <weft/weft.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <new>
#include <unordered_map>
#include <vector>

namespace {

using namespace weft::detail::wsp::common;
using weft::detail::wsp::event_reset;
using weft::detail::wsp::event_set;
using weft::detail::wsp::event_valid;

// --- associations ---------------------------------------------------------------------------

constexpr long kKnownEvents = FD_READ | FD_WRITE | FD_ACCEPT | FD_CONNECT | FD_CLOSE;
// The events that, once recorded, are recorded again only after the call that enables them.
constexpr long kReenabled = FD_READ | FD_WRITE | FD_ACCEPT;

int bit_of(long event) noexcept {
  switch (event) {
    case FD_READ: return FD_READ_BIT;
    case FD_WRITE: return FD_WRITE_BIT;
    case FD_ACCEPT: return FD_ACCEPT_BIT;
    case FD_CONNECT: return FD_CONNECT_BIT;
    default: return FD_CLOSE_BIT;
  }
}

// One socket's association. Touched only on the socket's runtime thread.
struct Association {
  Association(WEFT_SOCKET s, WEFT_EVENT e, long w) : socket(s), event(e), wanted(w) {}

  WEFT_SOCKET socket;
  WEFT_EVENT event;
  long wanted;                // lNetworkEvents
  long recorded = 0;          // since the last WSPEnumNetworkEvents
  int errors[6] = {};         // by FD_*_BIT
  long enabled = kReenabled;  // which of kReenabled may be recorded now
  bool stream = true;         // SOCK_STREAM (else datagrams: FD_READ and FD_WRITE only)
  bool listening = false;     // FD_ACCEPT is its readable event
  bool connected = false;     // a stream's connection is up (always true for datagrams)
  bool data_seen = false;     // data was seen and not received since: the end can wait
  bool at_end = false;        // the stream's end (or an error) was seen: FD_CLOSE's moment
  bool ended = false;         // the watcher leaves
  weft::Event wake{weft::Event::Reset::automatic};  // the watcher looks again
  weft::CancelSource stop;                          // ends the watcher's waits

  void record(long event_bit, int code) noexcept {
    if (!(wanted & event_bit)) return;
    recorded |= event_bit;
    errors[bit_of(event_bit)] = code;
    (void)event_set(event);  // an event closed meanwhile is nobody's to signal
  }
  // Re-enables event_bit (one of kReenabled); wakes the watcher if that changes what it waits
  // for.
  void enable(long event_bit) noexcept {
    const bool changed = !(enabled & event_bit) || (event_bit == FD_READ && data_seen);
    enabled |= event_bit;
    if (event_bit == FD_READ) data_seen = false;
    if (changed) wake.set();
  }
  void end() noexcept {
    ended = true;
    stop.cancel();
  }

  // Readable means: a connection to accept; a datagram; for a stream, data or its end. A stream
  // is watched only while connected (an unconnected one reads as hung up), and not while data
  // it has seen waits for a receive: its end can come only after that data.
  bool wants_readable() const noexcept {
    if (listening) return (wanted & FD_ACCEPT) && (enabled & FD_ACCEPT);
    if (!stream) return (wanted & FD_READ) && (enabled & FD_READ);
    if (!connected || at_end || data_seen) return false;
    return ((wanted & FD_READ) && (enabled & FD_READ)) || (wanted & FD_CLOSE);
  }
  bool wants_writable() const noexcept {
    return !listening && connected && (wanted & FD_WRITE) && (enabled & FD_WRITE);
  }
};

// What the adapter knows of a socket beyond what weft keeps: whether it listens, whether a
// background connect is under way, its association.
struct SocketEntry {
  bool listening = false;
  bool connecting = false;
  std::shared_ptr<Association> association;
  bool empty() const noexcept { return !listening && !connecting && !association; }
};

// The sockets of this thread's runtime that have an entry. A socket is used only on its
// runtime's thread, so no lock; handles are unique in the process, so an entry left by a
// runtime that ended is never reached through a socket of a later one.
thread_local std::unordered_map<WEFT_SOCKET, SocketEntry> t_sockets;
// The watcher fibers of this thread's runtime that have not ended.
thread_local std::size_t t_watchers = 0;

SocketEntry* entry_of(WEFT_SOCKET s) noexcept {
  if (t_sockets.empty()) return nullptr;
  auto it = t_sockets.find(s);
  return it == t_sockets.end() ? nullptr : &it->second;
}

Association* association_of(WEFT_SOCKET s) noexcept {
  SocketEntry* e = entry_of(s);
  return e ? e->association.get() : nullptr;
}

void forget_if_empty(WEFT_SOCKET s) noexcept {
  auto it = t_sockets.find(s);
  if (it != t_sockets.end() && it->second.empty()) t_sockets.erase(it);
}

// Counts a watcher fiber from its creation to the end of its function (or, if it never runs,
// to its function object's destruction with its runtime). The count drops before the fiber
// ends, with no switch between: program_fiber_ending never counts an ended watcher.
class WatcherCount {
 public:
  WatcherCount() noexcept { ++t_watchers; }
  ~WatcherCount() { done(); }
  WatcherCount(const WatcherCount&) = delete;
  WatcherCount& operator=(const WatcherCount&) = delete;
  void done() noexcept {
    if (counted_) --t_watchers;
    counted_ = false;
  }

 private:
  bool counted_ = true;
};

// Readable: what it means depends on the socket. A stream is peeked at: data, its end, or an
// error, without consuming anything.
void readable(Association& a) noexcept {
  if (a.listening) {
    a.enabled &= ~FD_ACCEPT;
    a.record(FD_ACCEPT, 0);
    return;
  }
  if (!a.stream) {
    a.enabled &= ~FD_READ;
    a.record(FD_READ, 0);
    return;
  }
  char byte;
  auto n = weft::recv(to_socket(a.socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n.ok() && *n > 0) {
    a.data_seen = true;
    if (a.enabled & FD_READ) {
      a.enabled &= ~FD_READ;
      a.record(FD_READ, 0);
    }
  } else if (n.ok()) {
    a.at_end = true;
    a.record(FD_CLOSE, 0);
  } else if (n.error() != wsa::ewouldblock) {
    a.at_end = true;
    // A receive side shut down here is no news from the peer.
    if (n.error() != wsa::eshutdown) a.record(FD_CLOSE, code_of(n.error()));
  }
}

void writable(Association& a) noexcept {
  a.enabled &= ~FD_WRITE;
  a.record(FD_WRITE, 0);
}

// The watcher's loop: waits for what the association wants to learn now, or for its wake-up.
void watch(Association& a) {
  const Socket s = to_socket(a.socket);
  const weft::CancelToken token = a.stop.token();
  while (!a.ended) {
    const bool in = a.wants_readable(), out = a.wants_writable();
    weft::Result<std::size_t> r = std::size_t{0};
    if (in && out) {
      r = weft::wait_any({weft::on_event(a.wake), weft::on_readable(s), weft::on_writable(s)},
                         token);
    } else if (in || out) {
      r = weft::wait_any({weft::on_event(a.wake), in ? weft::on_readable(s) : weft::on_writable(s)},
                         token);
    } else if (weft::Status st = a.wake.wait(token); !st.ok()) {
      r = st.error();
    }
    if (!r.ok()) {
      // WSAEINTR without an end is a cancel that was not meant for the association (a close
      // that bypassed the adapter ends the next wait with WSAENOTSOCK); anything else (stop,
      // the socket gone) ends it.
      if (r.error() == wsa::eintr && !a.ended) continue;
      break;
    }
    if (*r == 1 && in) readable(a);
    else if (*r != 0) writable(a);
  }
}

// The end of a watcher: its association, if still the socket's, is over.
void watcher_done(const std::shared_ptr<Association>& a) noexcept {
  a->end();
  SocketEntry* e = entry_of(a->socket);
  if (e && e->association == a) {
    e->association.reset();
    forget_if_empty(a->socket);
  }
}

// Starts a's watcher on the calling fiber's runtime. 0, or a Winsock code.
int start_watcher(const std::shared_ptr<Association>& a) noexcept {
  try {
    auto count = std::make_unique<WatcherCount>();
    auto id = weft::spawn(
        [a, count = std::move(count)] {
          watch(*a);
          watcher_done(a);
          count->done();
        },
        weft::SpawnOptions{"wsp event select", 0});
    return id.ok() ? 0 : code_of(id.error());
  } catch (const std::bad_alloc&) {
    return WSAENOBUFS;
  }
}

// Sets what a new or renewed association starts from: nothing recorded, every event enabled,
// the socket's state looked at now.
void start_over(Association& a, WEFT_EVENT e, long wanted, int type, bool listening) {
  a.event = e;
  a.wanted = wanted;
  a.recorded = 0;
  std::fill(std::begin(a.errors), std::end(a.errors), 0);
  a.enabled = kReenabled;
  a.stream = type == SOCK_STREAM;
  a.listening = listening;
  a.connected = !a.stream || weft::peer_address(to_socket(a.socket)).ok();
  a.data_seen = false;
  a.at_end = false;
}

// The socket's type, which also checks the handle: WSAENOTSOCK for one that is not open here.
int socket_type(WEFT_SOCKET s, int* type) noexcept {
  socklen_t len = sizeof *type;
  auto r = weft::get_option(to_socket(s), SOL_SOCKET, SO_TYPE, type, &len);
  return r.ok() ? 0 : code_of(r.error());
}

}  // namespace

namespace weft::detail::wsp {

bool is_nonblocking(WEFT_SOCKET s) noexcept { return association_of(s) != nullptr; }

void receive_made(WEFT_SOCKET s) noexcept {
  if (Association* a = association_of(s)) a->enable(FD_READ);
}

void send_blocked(WEFT_SOCKET s) noexcept {
  if (Association* a = association_of(s)) a->enable(FD_WRITE);
}

int accept_made(WEFT_SOCKET s, WEFT_SOCKET accepted) noexcept {
  SocketEntry* e = entry_of(s);
  if (!e || !e->association) return 0;
  std::shared_ptr<Association> listener = e->association;
  listener->enable(FD_ACCEPT);
  if (accepted == WEFT_INVALID_SOCKET) return 0;
  try {
    auto a = std::make_shared<Association>(accepted, listener->event, listener->wanted);
    start_over(*a, listener->event, listener->wanted, SOCK_STREAM, false);
    a->connected = true;
    t_sockets[accepted].association = a;
    if (int code = start_watcher(a)) {
      t_sockets.erase(accepted);
      return code;
    }
    return 0;
  } catch (const std::bad_alloc&) {
    t_sockets.erase(accepted);
    return WSAENOBUFS;
  }
}

void listen_made(WEFT_SOCKET s) noexcept {
  try {
    SocketEntry& e = t_sockets[s];
    e.listening = true;
    if (Association* a = e.association.get()) {
      a->listening = true;
      a->connected = false;
      a->wake.set();
    }
  } catch (const std::bad_alloc&) {
    // Unrecorded, an association on s will not report FD_ACCEPT: the accept itself still works.
  }
}

int connect_in_background(WEFT_SOCKET s, const weft::Address& to) noexcept {
  SocketEntry* e = entry_of(s);
  if (!e || !e->association || !e->association->stream) return 0;
  if (e->connecting) return WSAEALREADY;
  if (e->listening) return WSAEINVAL;
  if (weft::peer_address(to_socket(s)).ok()) return WSAEISCONN;
  e->connecting = true;
  try {
    auto id = weft::spawn(
        [s, to] {
          auto r = weft::connect(to_socket(s), to);
          // A close of s cancelled the connect and forgot s: nothing is left to report to.
          if (SocketEntry* entry = entry_of(s)) {
            entry->connecting = false;
            if (Association* a = entry->association.get()) {
              a->connected = r.ok();
              a->record(FD_CONNECT, r.ok() ? 0 : code_of(r.error()));
              a->wake.set();
            }
            forget_if_empty(s);
          }
          program_fiber_ending();
        },
        weft::SpawnOptions{"wsp connect", 0});
    if (id.ok()) return WSAEWOULDBLOCK;
    e->connecting = false;
    return code_of(id.error());
  } catch (const std::bad_alloc&) {
    e->connecting = false;
    return WSAENOBUFS;
  }
}

void socket_closing(WEFT_SOCKET s) noexcept {
  SocketEntry* e = entry_of(s);
  if (!e) return;
  if (e->association) e->association->end();
  t_sockets.erase(s);
}

void program_fiber_ending() noexcept {
  if (t_watchers == 0) return;
  weft::Runtime* rt = weft::Runtime::current();
  if (!rt || rt->stats().fibers_alive > t_watchers + 1) return;
  for (auto& [s, e] : t_sockets) {
    if (e.association) {
      e.association->end();
      e.association.reset();
    }
  }
  std::erase_if(t_sockets, [](const auto& item) { return item.second.empty(); });
}

}  // namespace weft::detail::wsp

extern "C" {

int WSPEventSelect(WEFT_SOCKET s, WEFT_EVENT e, long wanted, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  int type = 0;
  if (int code = socket_type(s, &type)) return fail(err, code);
  if (wanted & ~kKnownEvents) return fail(err, WSAEINVAL);
  SocketEntry* entry = entry_of(s);
  if (wanted == 0) {
    if (entry && entry->association) {
      entry->association->end();
      entry->association.reset();
      forget_if_empty(s);
    }
    return 0;
  }
  if (!event_valid(e)) return fail(err, WSA_INVALID_HANDLE);
  if (entry && entry->association) {
    // A new selection replaces the old one and clears its record, as in Winsock.
    start_over(*entry->association, e, wanted, type, entry->listening);
    entry->association->wake.set();
    return 0;
  }
  try {
    auto a = std::make_shared<Association>(s, e, wanted);
    SocketEntry& slot = t_sockets[s];
    start_over(*a, e, wanted, type, slot.listening);
    slot.association = a;
    if (int code = start_watcher(a)) {
      slot.association.reset();
      forget_if_empty(s);
      return fail(err, code);
    }
    return 0;
  } catch (const std::bad_alloc&) {
    forget_if_empty(s);
    return fail(err, WSAENOBUFS);
  }
}

int WSPEnumNetworkEvents(WEFT_SOCKET s, WEFT_EVENT e, weft_network_events* out, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  if (!out) return fail(err, WSAEFAULT);
  int type = 0;
  if (int code = socket_type(s, &type)) return fail(err, code);
  if (e != WSA_INVALID_EVENT && !event_valid(e)) return fail(err, WSA_INVALID_HANDLE);
  *out = weft_network_events{};
  if (Association* a = association_of(s)) {
    out->lNetworkEvents = a->recorded;
    std::copy(std::begin(a->errors), std::end(a->errors), std::begin(out->iErrorCode));
    a->recorded = 0;
    std::fill(std::begin(a->errors), std::end(a->errors), 0);
  }
  if (e != WSA_INVALID_EVENT) (void)event_reset(e);
  return 0;
}

}  // extern "C"
