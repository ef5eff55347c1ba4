#include "socket_table.hpp"

#include "errors.hpp"
#include "log.hpp"
#include "runtime_impl.hpp"

#include <atomic>
#include <cerrno>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::detail {
namespace {

// Generations are drawn from one process-wide counter rather than per slot, so a handle kept
// from a destroyed runtime cannot name the socket that a later runtime (which may reuse the
// registry index) puts in the same slot.
std::atomic<std::uint32_t> g_next_gen{1};

std::uint32_t next_generation() noexcept {
  for (;;) {
    std::uint32_t g = g_next_gen.fetch_add(1, std::memory_order_relaxed);
    if (g != 0 && g != ~std::uint32_t{0}) return g;
  }
}

void close_fd(int fd) noexcept {
  // close(2) must not be retried on EINTR on Linux: the descriptor is gone either way.
  if (fd >= 0) ::close(fd);
}

void abortive_close(int fd) noexcept {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close_fd(fd);
}

// The abortive close of a socket of `family`. AF_UNIX has no RST: Linux accepts SO_LINGER
// there but its release ignores it, so the option is not set. Closed at once, the socket
// still leaves its peer every byte that had reached it (it is in the peer's own queue);
// the peer then reads ECONNRESET if bytes it had sent were still unread here, else end of
// file (unix_release_sock).
void abortive_close(int fd, int family) noexcept {
  if (family == AF_UNIX) {
    close_fd(fd);
  } else {
    abortive_close(fd);
  }
}

}  // namespace

// The connect reaper's entry: the descriptor of a cancelled connect, watched until the
// attempt ends.
struct ReapEntry {
  RuntimeImpl* rt;
  int fd;
  uv_poll_t poll;
  uv_timer_t timer;
  int open_handles = 2;
  ListHook<ReapEntry> hook{this};
};

// Ends a held attempt: `abortive` resets it (it connected after all, or the runtime is
// stopping and abandons it); otherwise it failed or timed out and is simply freed.
void reap_finish(ReapEntry* e, bool abortive) noexcept {
  if (e->fd < 0) return;
  e->hook.unlink();
  // The watcher first: uv_close removes the descriptor from epoll while it is still ours.
  // Closed the other way round, epoll_ctl would run on a number another thread may already
  // have been given again.
  auto on_closed = [](uv_handle_t* h) {
    auto* entry = static_cast<ReapEntry*>(h->data);
    if (--entry->open_handles == 0) delete entry;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&e->poll), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&e->timer), on_closed);
  if (abortive) {
    abortive_close(e->fd);
  } else {
    close_fd(e->fd);
  }
  log_debug("runtime {}: connect reaper: a cancelled connect ended ({}), descriptor freed",
            e->rt->index(), abortive ? "reset" : "failed or timed out");
  e->fd = -1;
  RuntimeCounters& c = e->rt->counters();
  c.pending_connects.store(c.pending_connects.load(std::memory_order_relaxed) - 1,
                           std::memory_order_relaxed);
  bump(c.connects_reaped);
}

SocketTable::~SocketTable() {
  for (Sock* s : slots_) {
    if (!s) continue;
    wake_all(s, CallState::netdown);
    release(s);
  }
  finish_reaping();
}

void SocketTable::finish_reaping() noexcept {
  while (ReapEntry* e = reaping_.front()) reap_finish(e, true);
}

Result<Socket> SocketTable::add(int fd, int family, int type, SockState state,
                                bool close_on_failure) noexcept {
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    if (slots_.size() >= kMaxSlots) {
      if (close_on_failure) close_fd(fd);
      return wsa::enobufs;
    }
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(nullptr);
  }
  auto* s = new (std::nothrow) Sock;
  if (!s) {
    free_.push_back(slot);
    if (close_on_failure) close_fd(fd);
    return wsa::enobufs;
  }
  s->fd = fd;
  s->family = family;
  s->type = type;
  s->state = state;
  s->slot = slot;
  s->gen = next_generation();
  s->rt = rt_;
  slots_[slot] = s;
  ++open_;
  rt_->counters().sockets_open.store(open_, std::memory_order_relaxed);
  raise_to(rt_->counters().sockets_high_water, open_);
  return handle_of(s);
}

Socket SocketTable::handle_of(const Sock* s) const noexcept {
  std::uint64_t v = (tag_ << (kSockSlotBits + 32)) | (std::uint64_t{s->slot} << 32) | s->gen;
  return static_cast<Socket>(v);
}

Result<Socket> SocketTable::adopt(int fd, int family, int type, SockState state) noexcept {
  const int status_flags = ::fcntl(fd, F_GETFL);
  const int fd_flags = ::fcntl(fd, F_GETFD);
  if (status_flags < 0 || fd_flags < 0) return errno_to_error(errno);
  auto restore = [&] {
    ::fcntl(fd, F_SETFL, status_flags);
    ::fcntl(fd, F_SETFD, fd_flags);
  };
  if (::fcntl(fd, F_SETFL, status_flags | O_NONBLOCK) != 0 ||
      ::fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) != 0) {
    std::error_code ec = errno_to_error(errno);
    restore();
    return ec;
  }
  auto h = add(fd, family, type, state, false);
  if (!h.ok()) restore();
  return h;
}

std::error_code SocketTable::wait_add(Sock* s, IoWaiter& w) noexcept {
  if (!s->poll) {
    auto* box = new (std::nothrow) PollBox;
    if (!box) return wsa::enobufs;
    int rc = uv_poll_init_socket(rt_->loop(), &box->poll, s->fd);
    if (rc != 0) {
      delete box;
      return uv_to_error(rc);
    }
    box->poll.data = box;
    box->owner = s;
    s->poll = box;
  }
  (w.events == UV_READABLE ? s->readers : s->writers).push_back(w.hook);
  update_interest(s);
  return {};
}

void SocketTable::wait_link(Sock* s, IoWaiter& w) noexcept {
  (w.events == UV_READABLE ? s->readers : s->writers).push_back(w.hook);
}

void SocketTable::update_interest(Sock* s) noexcept {
  PollBox* box = s->poll;
  if (!box) return;
  int want = (s->readers.empty() ? 0 : UV_READABLE | UV_DISCONNECT) |
             (s->writers.empty() ? 0 : UV_WRITABLE);
  // An interest nobody waits for any more is kept until its next callback (lazy drop).
  if ((box->interest | want) == box->interest) return;
  box->interest |= want;
  uv_poll_start(&box->poll, box->interest, &SocketTable::on_poll);
}

void SocketTable::on_poll(uv_poll_t* h, int status, int events) {
  auto* box = static_cast<PollBox*>(h->data);
  Sock* s = box->owner;
  if (!s) return;
  RuntimeImpl* rt = s->rt;
  auto complete_list = [rt](IntrusiveList<IoWaiter>& list) {
    while (IoWaiter* w = list.pop_front()) rt->complete(w->fiber);
  };
  // The lazy drop: an interest is dropped only when it fires with nobody waiting, twice in
  // a row. One that wakes its waiters stays armed, so a fiber that parks again on the same
  // socket (a request-response loop) costs no epoll_ctl. The first idle firing is let pass
  // because it usually comes while the fiber the last callback woke has not run yet: the
  // loop polls again while fibers are still queued (run_ready's budget), and their sockets,
  // still unread, are reported again. Dropping then cost two epoll_ctls (stop, then start
  // when the fiber parks again) for about a third of the turns of an echo on 100
  // connections. The poll is level-triggered, so nothing that happens meanwhile is missed
  // either way, and an interest nobody comes back for costs one extra callback before it
  // goes.
  int idle = 0;
  if (status < 0 || (events & (UV_READABLE | UV_DISCONNECT))) {
    s->drained = false;
    if (s->readers.empty()) idle |= UV_READABLE | UV_DISCONNECT;
    complete_list(s->readers);
  }
  if (status < 0 || (events & UV_WRITABLE)) {
    if (s->writers.empty()) idle |= UV_WRITABLE;
    complete_list(s->writers);
  }
  int want = box->interest & ~(idle & box->idle);
  if (status < 0) want = 0;  // an error ends the watch; the next wait re-arms it
  box->idle = idle & want;   // a re-armed interest gets its own first idle firing
  if (want != box->interest) {
    box->interest = want;
    if (want) {
      uv_poll_start(&box->poll, want, &SocketTable::on_poll);
    } else {
      uv_poll_stop(&box->poll);
    }
  }
}

void SocketTable::wake_all(Sock* s, CallState how) noexcept {
  while (IoWaiter* w = s->readers.pop_front()) rt_->complete(w->fiber, how);
  while (IoWaiter* w = s->writers.pop_front()) rt_->complete(w->fiber, how);
}

Leaves SocketTable::cancel_waiters_for_close(Sock* s) noexcept {
  const bool portable = rt_->options().portable_mode && !s->pipe;
  const bool stream = s->type == SOCK_STREAM;
  Leaves leaves = Leaves::unchanged;
  auto weigh = [&](IoWaiter& w) {
    if (after_cancel(w.op, portable, stream, w.moved ? *w.moved : 0) == Leaves::reset) {
      leaves = Leaves::reset;
    }
  };
  s->readers.for_each(weigh);
  s->writers.for_each(weigh);
  wake_all(s, CallState::cancelled);
  return leaves;
}

void SocketTable::log_reset(Sock* s, Op op, std::size_t moved) noexcept {
  static constexpr const char* kOps[] = {"accept", "poll",     "recv",      "send",     "connect",
                                         "close",  "TLS read", "TLS write", "TLS close"};
  Fiber* f = rt_->current();
  log_debug("runtime {}: {}: socket {} reset after its {} was cancelled ({} bytes moved){}",
            rt_->index(), f ? fiber_label(*f) : std::string("no fiber"), to_integer(handle_of(s)),
            kOps[static_cast<int>(op)], moved,
            rt_->options().portable_mode ? ", portable mode" : "");
}

void SocketTable::leave_after_cancel(Sock* s, Op op, std::size_t moved) noexcept {
  if (s->state == SockState::aborted) return;
  // Portable mode emulates Winsock's providers, which have no pipes: a pipe end follows
  // its own rows (semantics.md §10) in both modes.
  const bool portable = rt_->options().portable_mode && !s->pipe;
  switch (after_cancel(op, portable, s->type == SOCK_STREAM, moved)) {
    case Leaves::unchanged: return;
    case Leaves::reset:
      bump(rt_->counters().resets_by_cancel);
      log_reset(s, op, moved);
      reset(s);
      return;
    case Leaves::aborted:
      // The attempt is abandoned: the socket is aborted and the reaper holds the kernel
      // socket until the attempt ends. An AF_UNIX connect that waited was refused each time
      // it tried (the listener's backlog was full), so nothing is under way in the kernel
      // and nothing is left to hold: the socket is closed now.
      if (s->state != SockState::connecting) return;
      if (s->family == AF_UNIX) {
        bump(rt_->counters().resets_by_cancel);
        log_reset(s, op, moved);
        reset(s);
      } else {
        reap_connect(s);
      }
      return;
  }
}

void SocketTable::detach_poll(Sock* s) noexcept {
  PollBox* box = s->poll;
  if (!box) return;
  s->poll = nullptr;
  box->owner = nullptr;
  // uv_close stops the watcher at once, so the descriptor may be closed right after; the
  // box lives until the close callback.
  uv_close(reinterpret_cast<uv_handle_t*>(&box->poll),
           [](uv_handle_t* h) { delete static_cast<PollBox*>(h->data); });
}

void SocketTable::release(Sock* s) noexcept {
  detach_poll(s);
  close_fd(s->fd);
  s->fd = -1;
  std::uint32_t slot = s->slot;
  slots_[slot] = nullptr;
  free_.push_back(slot);
  --open_;
  rt_->counters().sockets_open.store(open_, std::memory_order_relaxed);
  delete s;
}

void SocketTable::reset(Sock* s) noexcept {
  detach_poll(s);
  if (s->fd >= 0) abortive_close(s->fd, s->family);
  s->fd = -1;
  s->state = SockState::aborted;
  wake_all(s, CallState::completed);
}

void SocketTable::reap_connect(Sock* s) noexcept {
  detach_poll(s);
  int fd = s->fd;
  s->fd = -1;
  s->state = SockState::aborted;
  wake_all(s, CallState::completed);
  if (fd < 0) return;
  auto* e = new (std::nothrow) ReapEntry;
  if (!e) {
    abortive_close(fd);
    return;
  }
  e->rt = rt_;
  e->fd = fd;
  if (uv_poll_init_socket(rt_->loop(), &e->poll, fd) != 0) {
    abortive_close(fd);
    delete e;
    return;
  }
  uv_timer_init(rt_->loop(), &e->timer);
  reaping_.push_back(e->hook);
  e->poll.data = e;
  e->timer.data = e;
  bump(rt_->counters().pending_connects);
  log_debug("runtime {}: connect reaper: holding a cancelled connect until its attempt ends",
            rt_->index());
  uv_poll_start(&e->poll, UV_WRITABLE | UV_DISCONNECT, [](uv_poll_t* h, int status, int) {
    auto* entry = static_cast<ReapEntry*>(h->data);
    int err = 0;
    socklen_t len = sizeof err;
    if (status < 0 || ::getsockopt(entry->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = EIO;
    reap_finish(entry, err == 0);
  });
  auto timeout_ms = static_cast<std::uint64_t>(rt_->options().connect_reap_timeout.count());
  uv_timer_start(
      &e->timer, [](uv_timer_t* t) { reap_finish(static_cast<ReapEntry*>(t->data), false); },
      timeout_ms, 0);
}

}  // namespace weft::detail
