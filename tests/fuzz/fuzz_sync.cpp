// libFuzzer target: random programs of waits, signals, cancels and closes on the coordination
// primitives (semantics.md §8), held to what the contract promises.
//
// Each input is a program: the first bytes choose the channel's capacity, the semaphore's
// permits and the event's kind; then one byte chooses an operation and the next its argument.
// A driver fiber runs it; every blocking wait runs in a worker fiber of its own so that it
// blocks, and cancels (cancel_blocking_call, a token) find it blocked or not, as it happens.
// After the program the driver closes the channel, cancels and drains until every worker has
// ended, and checks:
//   * every value a send reported sent was received exactly once; no value whose send failed
//     was ever received, and a failed send left its value with the caller, unchanged;
//   * a wait_any performed exactly the operation whose index it returned, and a failed one
//     performed none;
//   * the semaphore's permits are conserved; an automatic event released at most one waiter
//     per set(); the mutex was never held by two fibers and ends unlocked;
//   * a cancel returns success or WSAEINVAL; WSAEINTR comes only to a wait that was cancelled,
//     and WSAESHUTDOWN only after the channel was closed.
// A violation aborts (libFuzzer then saves the input).
#include <weft/weft.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <vector>

namespace {

using namespace weft;

[[noreturn]] void violated(const char* what, long a = 0, long b = 0) {
  std::fprintf(stderr, "fuzz_sync: contract violated: %s (%ld, %ld)\n", what, a, b);
  std::abort();
}
#define REQUIRE(cond, ...)                                   \
  do {                                                       \
    if (!(cond)) violated(#cond __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

constexpr std::size_t kMaxWorkers = 24;

// A value whose move leaves 0 behind: a send that moved it cannot pass for one that kept it.
struct Token {
  std::uint32_t v = 0;
  Token() = default;
  explicit Token(std::uint32_t x) noexcept : v(x) {}
  Token(Token&& o) noexcept : v(o.v) { o.v = 0; }
  Token& operator=(Token&& o) noexcept {
    v = o.v;
    o.v = 0;
    return *this;
  }
};

// One worker fiber and what it is doing.
struct Worker {
  FiberId id = FiberId::none;
  bool done = false;
  bool cancelled = false;  // some cancel was aimed at it
  std::unique_ptr<CancelSource> source;
};

struct Model {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0, pos = 0;
  bool more() const { return pos < size; }
  std::uint8_t next() { return pos < size ? data[pos++] : 0; }

  std::unique_ptr<Channel<Token>> ch;
  std::unique_ptr<Semaphore> sem;
  std::unique_ptr<Event> ev;
  Mutex m;
  bool automatic = false;
  bool closed = false;  // close() was called

  std::uint32_t next_value = 1;
  std::set<std::uint32_t> sent;      // sends reported sent
  std::set<std::uint32_t> failed;    // sends that failed
  std::set<std::uint32_t> received;  // every value received, once
  long permits_initial = 0, released = 0, acquired = 0;
  long sets = 0, auto_waits = 0;  // set() calls; waits that took an automatic event's signal
  bool held = false;
  std::vector<std::unique_ptr<Worker>> workers;

  void take(std::uint32_t v) {
    REQUIRE(v != 0 && v < next_value, long(v));
    REQUIRE(received.insert(v).second, long(v));  // never twice
  }
  void send_result(std::uint32_t v, std::uint32_t left, const Status& st, const Worker* w) {
    if (st.ok()) {
      REQUIRE(left == 0, long(left));  // moved into the channel
      sent.insert(v);
      return;
    }
    REQUIRE(left == v, long(left), long(v));  // a failed send keeps the value, unchanged
    failed.insert(v);
    wait_error(st.error(), w);
  }
  void wait_error(std::error_code e, const Worker* w) {
    if (e == wsa::eintr) {
      REQUIRE(w != nullptr && w->cancelled);
    } else if (e == wsa::eshutdown) {
      REQUIRE(closed);
    } else if (e != wsa::ewouldblock || w != nullptr) {
      violated("unexpected error", e.value());
    }
  }
};

Model* g = nullptr;

// Starts body in a worker fiber, if there is room for one.
template <class F>
void start(F body) {
  std::size_t alive = 0;
  for (auto& w : g->workers) alive += w->done ? 0 : 1;
  if (alive >= kMaxWorkers) return;
  g->workers.push_back(std::make_unique<Worker>());
  Worker* w = g->workers.back().get();
  if (g->next() & 1) w->source = std::make_unique<CancelSource>();
  auto id = spawn([w, body] {
    CancelToken t = w->source ? w->source->token() : CancelToken();
    body(*w, t);
    w->done = true;
  });
  REQUIRE(id.ok());
  w->id = *id;
}

void send_worker() {
  std::uint32_t v = g->next_value++;
  start([v](Worker& w, const CancelToken& t) {
    Token mine(v);
    Status st = g->ch->send(std::move(mine), t);
    g->send_result(v, mine.v, st, &w);
  });
}

void recv_worker() {
  start([](Worker& w, const CancelToken& t) {
    auto r = g->ch->recv(t);
    if (r.ok()) {
      g->take(r->v);
    } else {
      g->wait_error(r.error(), &w);
    }
  });
}

void any_worker(bool with_send) {
  std::uint32_t v = with_send ? g->next_value++ : 0;
  start([v, with_send](Worker& w, const CancelToken& t) {
    std::optional<Token> out;
    Token mine(v);
    auto r = with_send ? wait_any({on_send(*g->ch, mine), on_event(*g->ev), on_acquire(*g->sem)}, t)
                       : wait_any({on_recv(*g->ch, out), on_event(*g->ev), on_acquire(*g->sem)}, t);
    if (!r.ok() || *r != 0) {
      REQUIRE(!out && mine.v == v);  // the channel was left alone
      if (with_send) g->failed.insert(v);
    }
    if (!r.ok()) {
      g->wait_error(r.error(), &w);
      return;
    }
    REQUIRE(*r < 3, long(*r));
    if (*r == 0) {
      if (!with_send) {
        if (out) {
          g->take(out->v);
        } else {
          REQUIRE(g->closed);  // closed and drained
        }
      } else if (mine.v == 0) {
        g->sent.insert(v);
      } else {
        REQUIRE(g->closed && mine.v == v);  // completed on a closed channel, value left
        g->failed.insert(v);
      }
    } else if (*r == 1) {
      if (g->automatic) ++g->auto_waits;
    } else {
      ++g->acquired;
    }
  });
}

void lock_worker(int turns) {
  start([turns](Worker& w, const CancelToken& t) {
    Status st = g->m.lock(t);
    if (!st.ok()) {
      g->wait_error(st.error(), &w);
      return;
    }
    REQUIRE(!g->held);
    g->held = true;
    for (int i = 0; i < turns; ++i) this_fiber::yield();
    g->held = false;
    REQUIRE(g->m.unlock().ok());
  });
}

void event_worker() {
  start([](Worker& w, const CancelToken& t) {
    Status st = g->ev->wait(t);
    if (st.ok()) {
      if (g->automatic) ++g->auto_waits;
    } else {
      g->wait_error(st.error(), &w);
    }
  });
}

void acquire_worker() {
  start([](Worker& w, const CancelToken& t) {
    Status st = g->sem->acquire(t);
    if (st.ok()) {
      ++g->acquired;
    } else {
      g->wait_error(st.error(), &w);
    }
  });
}

void cancel(std::uint8_t arg) {
  if (g->workers.empty()) return;
  Worker& w = *g->workers[arg % g->workers.size()];
  w.cancelled = true;
  if (w.source && (arg & 0x80)) {
    w.source->cancel();
  } else {
    Status c = cancel_blocking_call(w.id);
    REQUIRE(c.ok() || c.error() == wsa::einval, c.ok() ? 0 : c.error().value());
  }
}

void step() {
  std::uint8_t op = g->next(), arg = g->next();
  switch (op % 16) {
    case 0: send_worker(); break;
    case 1: recv_worker(); break;
    case 2: any_worker(false); break;
    case 3: any_worker(true); break;
    case 4: {
      std::uint32_t v = g->next_value++;
      Token mine(v);
      Status st = g->ch->try_send(std::move(mine));
      g->send_result(v, mine.v, st, nullptr);
      break;
    }
    case 5: {
      auto r = g->ch->try_recv();
      if (r.ok()) {
        g->take(r->v);
      } else {
        g->wait_error(r.error(), nullptr);
      }
      break;
    }
    case 6: cancel(arg); break;
    case 7:
      for (int i = 0; i <= arg % 4; ++i) this_fiber::yield();
      break;
    case 8:
      g->closed = true;
      g->ch->close();
      break;
    case 9: lock_worker(arg % 3); break;
    case 10:
      ++g->sets;
      g->ev->set();
      break;
    case 11: g->ev->reset(); break;
    case 12: event_worker(); break;
    case 13:
      ++g->released;
      g->sem->release();
      break;
    case 14: acquire_worker(); break;
    case 15:
      if (arg & 1) {
        if (g->ev->try_wait() && g->automatic) ++g->auto_waits;
      } else if (g->sem->try_acquire()) {
        ++g->acquired;
      }
      break;
  }
}

// Ends every worker: close, then cancel and let them run until all are done.
void finish() {
  g->closed = true;
  g->ch->close();
  for (;;) {
    bool all_done = true;
    for (auto& w : g->workers) {
      if (w->done) continue;
      all_done = false;
      w->cancelled = true;
      Status c = cancel_blocking_call(w->id);
      REQUIRE(c.ok() || c.error() == wsa::einval);
    }
    if (all_done) break;
    this_fiber::yield();
  }
  for (;;) {  // drain what is buffered
    auto r = g->ch->try_recv();
    if (!r.ok()) {
      REQUIRE(r.error() == wsa::eshutdown, r.error().value());
      break;
    }
    g->take(r->v);
  }
}

void check() {
  REQUIRE(g->received == g->sent, long(g->received.size()), long(g->sent.size()));
  for (std::uint32_t v : g->failed) REQUIRE(!g->received.count(v), long(v));
  REQUIRE(long(g->sem->available()) == g->permits_initial + g->released - g->acquired,
          long(g->sem->available()), g->permits_initial + g->released - g->acquired);
  if (g->automatic) REQUIRE(g->auto_waits <= g->sets, g->auto_waits, g->sets);
  REQUIRE(!g->held);
  REQUIRE(g->m.try_lock());
  REQUIRE(g->m.unlock().ok());
}

void driver() {
  static constexpr std::size_t kCapacities[] = {0, 1, 3, unbounded};
  g->ch = std::make_unique<Channel<Token>>(kCapacities[g->next() % 4]);
  g->permits_initial = g->next() % 3;
  g->sem = std::make_unique<Semaphore>(g->permits_initial);
  g->automatic = g->next() & 1;
  g->ev = std::make_unique<Event>(g->automatic ? Event::Reset::automatic : Event::Reset::manual);
  while (g->more()) step();
  finish();
  check();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return -1;  // long programs add nothing but time
  Model m;
  m.data = data;
  m.size = size;
  g = &m;
  {
    Runtime rt;
    REQUIRE(rt.spawn(driver).ok());
    REQUIRE(rt.run().ok());
  }
  g = nullptr;
  return 0;
}
