// Events (WSAEVENT) and network-event selection for the Winsock-SPI-shaped C ABI, on weft's
// public primitives: every wait is a weft::Event's, and a socket's readiness is watched with
// wait_any.
//
// Events. An event is a slot of one process-wide table, under one mutex; its handle is the
// slot's index and a generation, never a pointer, so a closed or unknown handle is
// WSA_INVALID_HANDLE and never reaches memory. WSAWaitForMultipleEvents links a waiter into the
// slots it waits on; WSASetEvent and WSACloseEvent, under the table's lock, decide the waiter's
// result at that moment and wake it by setting the waiter's own weft::Event. So the wait is one
// Event::wait: cancellable by every source, WSAENETDOWN at stop, WSAEINPROGRESS inside a
// blocking hook, blocking a plain thread, as semantics.md §8 says of every primitive.
//
// Associations (WSPEventSelect). Each one has a fiber on the socket's runtime that waits, with
// wait_any, for what the association still wants to learn (readable, writable) and for its own
// wake-up event, under a token that ending the association cancels. It records what it finds
// and signals the association's event. A socket is used only on its runtime's thread, so the
// associations are kept per thread and need no lock.
#include "wsp_events.hpp"

#include "weft/wsp.h"

#include <weft/weft.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <unordered_map>
#include <vector>

namespace {

using weft::Socket;
using weft::wsa;

// ec's Winsock number, or WSAEINVAL for a code of another category.
int code_of(std::error_code ec) noexcept {
  return ec.category() == weft::wsa_category() ? ec.value() : WSAEINVAL;
}
int fail(int* err, int code) noexcept {
  *err = code;
  return SOCKET_ERROR;
}
unsigned fail_wait(int* err, int code) noexcept {
  *err = code;
  return WSA_WAIT_FAILED;
}

Socket to_socket(WEFT_SOCKET s) { return static_cast<Socket>(static_cast<std::uint64_t>(s)); }

bool in_fiber() { return weft::this_fiber::id() != weft::FiberId::none; }

// --- the table of events ------------------------------------------------------------------

// A handle is ((slot + 1) << kGenBits) | generation: never 0 (WSA_INVALID_EVENT). Generations
// come from one counter for the whole table, so the handle of a closed event does not name an
// event created later in its slot (until the counter wraps).
constexpr unsigned kGenBits = sizeof(std::uintptr_t) * CHAR_BIT / 2;
constexpr std::uintptr_t kGenMask = (std::uintptr_t{1} << kGenBits) - 1;
constexpr std::size_t kMaxEvents = std::size_t{1} << (kGenBits < 24 ? kGenBits - 1 : 24);

// A waiter's result before one is decided, and when an event it waits on was closed; otherwise
// its result is an index into its array.
constexpr unsigned kPending = ~0u;
constexpr unsigned kClosed = ~0u - 1;

// One call of WSAWaitForMultipleEvents, linked into the slots of the events it waits on.
struct Waiter {
  Waiter(const WEFT_EVENT* e, unsigned n, bool a) noexcept : events(e), count(n), all(a) {}
  const WEFT_EVENT* events;
  unsigned count;
  bool all;
  unsigned result = kPending;  // under the table's lock; decided once
  // Set when the result is decided. Created set: the call's first wait on it only makes the
  // checks every blocking call makes before it looks at anything (semantics.md §7a).
  weft::Event wake{weft::Event::Reset::manual, true};
};

class EventTable {
 public:
  WEFT_EVENT create(int* err) noexcept;
  int set(WEFT_EVENT e) noexcept;  // 0, or WSA_INVALID_HANDLE
  int reset(WEFT_EVENT e) noexcept;
  int close(WEFT_EVENT e) noexcept;
  bool valid(WEFT_EVENT e) noexcept;
  unsigned wait(unsigned n, const WEFT_EVENT* events, bool all, unsigned timeout_ms, int* err);

 private:
  struct Slot {
    std::uintptr_t gen = 0;  // 0 while the slot is free
    bool signalled = false;
    std::vector<Waiter*> waiters;
  };

  // Every function below runs under mu_.
  Slot* find(WEFT_EVENT e) noexcept {
    const auto v = reinterpret_cast<std::uintptr_t>(e);
    const std::uintptr_t index = v >> kGenBits;
    if (index == 0 || index > slots_.size()) return nullptr;
    Slot& s = slots_[index - 1];
    return s.gen != 0 && s.gen == (v & kGenMask) ? &s : nullptr;
  }
  // The waiter's result if it is decided now: the first signalled event (all of them, for
  // fWaitAll), kClosed if one is closed, else kPending.
  unsigned evaluate(const Waiter& w) noexcept {
    bool all_set = true;
    unsigned first = kPending;
    for (unsigned i = 0; i < w.count; ++i) {
      Slot* s = find(w.events[i]);
      if (!s) return kClosed;
      if (!s->signalled) all_set = false;
      else if (first == kPending) first = i;
    }
    if (w.all) return all_set ? 0 : kPending;
    return first;
  }
  // Decides every pending waiter of s that can be decided now, and wakes it.
  void decide_waiters(Slot& s) noexcept {
    for (Waiter* w : s.waiters) {
      if (w->result != kPending) continue;
      w->result = evaluate(*w);
      if (w->result != kPending) w->wake.set();
    }
  }
  bool link(Waiter& w) noexcept {
    try {
      for (unsigned i = 0; i < w.count; ++i) {
        Slot* s = find(w.events[i]);
        if (s && std::find(s->waiters.begin(), s->waiters.end(), &w) == s->waiters.end()) {
          s->waiters.push_back(&w);
        }
      }
      return true;
    } catch (const std::bad_alloc&) {
      unlink(w);
      return false;
    }
  }
  // The slots of closed events were cleared of their waiters when they were closed, and a slot
  // reused since has another generation: only the events still open can hold w.
  void unlink(Waiter& w) noexcept {
    for (unsigned i = 0; i < w.count; ++i) {
      if (Slot* s = find(w.events[i])) std::erase(s->waiters, &w);
    }
  }

  std::mutex mu_;
  std::vector<Slot> slots_;
  std::vector<std::size_t> free_;
  std::uintptr_t next_gen_ = 1;
};

// Never destroyed: events may be set, and associations end, from threads that outlive static
// destruction.
EventTable& event_table() {
  static EventTable* table = new EventTable;
  return *table;
}

WEFT_EVENT EventTable::create(int* err) noexcept {
  std::lock_guard g(mu_);
  std::size_t index;
  try {
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      if (slots_.size() >= kMaxEvents) {
        *err = WSAENOBUFS;
        return WSA_INVALID_EVENT;
      }
      free_.reserve(slots_.size() + 1);  // so that a close never fails to free its slot
      slots_.emplace_back();
      index = slots_.size() - 1;
    }
  } catch (const std::bad_alloc&) {
    *err = WSAENOBUFS;
    return WSA_INVALID_EVENT;
  }
  Slot& s = slots_[index];
  s.gen = next_gen_;
  s.signalled = false;
  next_gen_ = next_gen_ == kGenMask ? 1 : next_gen_ + 1;
  return reinterpret_cast<WEFT_EVENT>(((index + 1) << kGenBits) | s.gen);
}

int EventTable::set(WEFT_EVENT e) noexcept {
  std::lock_guard g(mu_);
  Slot* s = find(e);
  if (!s) return WSA_INVALID_HANDLE;
  s->signalled = true;
  decide_waiters(*s);
  return 0;
}

int EventTable::reset(WEFT_EVENT e) noexcept {
  std::lock_guard g(mu_);
  Slot* s = find(e);
  if (!s) return WSA_INVALID_HANDLE;
  s->signalled = false;
  return 0;
}

int EventTable::close(WEFT_EVENT e) noexcept {
  std::lock_guard g(mu_);
  Slot* s = find(e);
  if (!s) return WSA_INVALID_HANDLE;
  for (Waiter* w : s->waiters) {
    if (w->result != kPending) continue;
    w->result = kClosed;
    w->wake.set();
  }
  s->waiters.clear();
  s->gen = 0;
  s->signalled = false;
  free_.push_back(static_cast<std::size_t>(s - slots_.data()));  // room reserved by create
  return 0;
}

bool EventTable::valid(WEFT_EVENT e) noexcept {
  std::lock_guard g(mu_);
  return find(e) != nullptr;
}

unsigned EventTable::wait(unsigned n, const WEFT_EVENT* events, bool all, unsigned timeout_ms,
                          int* err) {
  Waiter w(events, n, all);
  {
    std::lock_guard g(mu_);
    for (unsigned i = 0; i < n; ++i) {
      if (!find(events[i])) return fail_wait(err, WSA_INVALID_HANDLE);
    }
    // A zero timeout only looks: it never waits, so nothing can cancel it (semantics.md §1).
    if (timeout_ms == 0) {
      const unsigned r = evaluate(w);
      return r == kPending ? WSA_WAIT_TIMEOUT : WSA_WAIT_EVENT_0 + r;
    }
  }
  // The checks before the look at the events: not on a runtime's thread outside a fiber, not
  // inside a blocking hook or a message, the runtime not stopping, no cancelled scope.
  if (weft::Status st = w.wake.wait(); !st.ok()) return fail_wait(err, code_of(st.error()));

  std::optional<weft::CancelSource> deadline;
  try {
    if (timeout_ms != WSA_INFINITE) deadline.emplace(std::chrono::milliseconds(timeout_ms));
  } catch (const std::bad_alloc&) {
    return fail_wait(err, WSAENOBUFS);
  }
  const weft::CancelToken token = deadline ? deadline->token() : weft::CancelToken();
  for (;;) {
    {
      std::lock_guard g(mu_);
      w.result = evaluate(w);
      if (w.result != kPending) break;
      if (!link(w)) return fail_wait(err, WSAENOBUFS);
      w.wake.reset();  // under mu_: a set or close after this point wakes the wait below
    }
    weft::Status st = w.wake.wait(token);
    {
      std::lock_guard g(mu_);
      unlink(w);
    }
    if (!st.ok()) {
      // A cancel that came first leaves every event as it was: nothing is taken from a
      // manual-reset event. A timeout that raced a set reports the set.
      const bool timed_out =
          deadline && deadline->cancel_requested() && st.error() == wsa::etimedout;
      if (!timed_out) return fail_wait(err, code_of(st.error()));
      if (w.result == kPending) return WSA_WAIT_TIMEOUT;
      break;
    }
    if (w.result != kPending) break;
  }
  if (w.result == kClosed) return fail_wait(err, WSA_INVALID_HANDLE);
  return WSA_WAIT_EVENT_0 + w.result;
}

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
    (void)event_table().set(event);  // an event closed meanwhile is nobody's to signal
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

WEFT_EVENT WSACreateEvent(int* err) {
  if (!err) return WSA_INVALID_EVENT;
  return event_table().create(err);
}

int WSASetEvent(WEFT_EVENT e, int* err) {
  if (!err) return SOCKET_ERROR;
  int code = event_table().set(e);
  return code ? fail(err, code) : 0;
}

int WSAResetEvent(WEFT_EVENT e, int* err) {
  if (!err) return SOCKET_ERROR;
  int code = event_table().reset(e);
  return code ? fail(err, code) : 0;
}

int WSACloseEvent(WEFT_EVENT e, int* err) {
  if (!err) return SOCKET_ERROR;
  int code = event_table().close(e);
  return code ? fail(err, code) : 0;
}

unsigned WSAWaitForMultipleEvents(unsigned n, const WEFT_EVENT* events, int all, unsigned timeout,
                                  int* err) {
  if (!err) return WSA_WAIT_FAILED;
  // A wait on a runtime's thread outside any fiber would stop the whole runtime; only a look
  // (a zero timeout) is allowed there. Asked first, as semantics.md §7a orders the checks.
  if (timeout != 0 && weft::Runtime::current() && !in_fiber()) return fail_wait(err, WSAEINVAL);
  if (n == 0 || n > WSA_MAXIMUM_WAIT_EVENTS) return fail_wait(err, WSAEINVAL);
  if (!events) return fail_wait(err, WSAEFAULT);
  return event_table().wait(n, events, all != 0, timeout, err);
}

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
  if (!event_table().valid(e)) return fail(err, WSA_INVALID_HANDLE);
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
  if (e != WSA_INVALID_EVENT && !event_table().valid(e)) return fail(err, WSA_INVALID_HANDLE);
  *out = weft_network_events{};
  if (Association* a = association_of(s)) {
    out->lNetworkEvents = a->recorded;
    std::copy(std::begin(a->errors), std::end(a->errors), std::begin(out->iErrorCode));
    a->recorded = 0;
    std::fill(std::begin(a->errors), std::end(a->errors), 0);
  }
  if (e != WSA_INVALID_EVENT) (void)event_table().reset(e);
  return 0;
}

}  // extern "C"
