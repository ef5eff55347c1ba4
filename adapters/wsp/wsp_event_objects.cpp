// Events (WSAEVENT) for the Winsock-SPI-shaped C ABI, on weft's public primitives: every wait
// is a weft::Event's.
//
// An event is a slot of one process-wide table, under one mutex; its handle is the slot's index
// and a generation, never a pointer, so a closed or unknown handle is WSA_INVALID_HANDLE and
// never reaches memory. WSAWaitForMultipleEvents links a waiter into the slots it waits on;
// WSASetEvent and WSACloseEvent, under the table's lock, decide the waiter's result at that
// moment and wake it by setting the waiter's own weft::Event. So the wait is one Event::wait:
// cancellable by every source, WSAENETDOWN at stop, WSAEINPROGRESS inside a blocking hook,
// blocking a plain thread, as semantics.md §8 says of every primitive. Network-event selection
// (WSPEventSelect) is in wsp_events.cpp.
#include "wsp_common.hpp"
#include "wsp_events.hpp"

#include "weft/wsp.h"

#include <weft/weft.hpp>

#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

namespace {

using namespace weft::detail::wsp::common;

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

}  // namespace

namespace weft::detail::wsp {

int event_set(WEFT_EVENT e) noexcept { return event_table().set(e); }
int event_reset(WEFT_EVENT e) noexcept { return event_table().reset(e); }
bool event_valid(WEFT_EVENT e) noexcept { return event_table().valid(e); }

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

}  // extern "C"
