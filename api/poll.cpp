// poll over many sockets: a zero timeout never blocks; otherwise the fiber waits on every
// socket's readiness at once, with one outcome for the whole call.
#include <weft/net.hpp>

#include "park.hpp"

#include <algorithm>
#include <deque>
#include <vector>

#include <poll.h>

namespace weft {

using detail::CallState;
using detail::Sock;

namespace {

short to_native(short events) {
  short n = 0;
  if (events & kPollIn) n |= POLLIN;
  if (events & kPollOut) n |= POLLOUT;
  if (events & kPollPri) n |= POLLPRI;
  return n;
}

short from_native(short revents) {
  short r = 0;
  if (revents & POLLIN) r |= kPollIn;
  if (revents & POLLOUT) r |= kPollOut;
  if (revents & POLLPRI) r |= kPollPri;
  if (revents & (POLLERR | POLLNVAL)) r |= kPollErr;
  if (revents & (POLLHUP | POLLRDHUP)) r |= kPollHup;
  return r;
}

// One non-blocking pass over the entries; the number ready, or an error.
Result<int> poll_now(detail::RuntimeImpl* rt, std::span<PollEntry> entries,
                     std::vector<pollfd>& fds) {
  fds.resize(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Sock* s = rt->sockets().get(entries[i].socket);
    if (!s || s->state == detail::SockState::closing) return wsa::enotsock;
    fds[i].fd = s->fd;  // -1 for an aborted socket: poll(2) ignores it
    fds[i].events = to_native(entries[i].events);
    fds[i].revents = 0;
  }
  int n = detail::retry_eintr([&] { return ::poll(fds.data(), fds.size(), 0); });
  if (n < 0) return detail::errno_to_error(errno);
  int ready = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].revents = from_native(fds[i].revents);
    if (fds[i].fd < 0) entries[i].revents = kPollErr | kPollHup;  // aborted after a cancel
    if (entries[i].revents) ++ready;
  }
  return ready;
}

}  // namespace

Result<int> poll(std::span<PollEntry> entries, std::optional<std::chrono::milliseconds> timeout,
                 const CancelToken& token) {
  detail::BlockingEntry entry(token, "poll");
  // A zero timeout never blocks: a non-blocking form, which needs only this thread's runtime.
  const bool blocking = !(timeout && timeout->count() == 0);
  if (blocking) {
    if (auto ec = entry.need_fiber()) return ec;
  }
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt) return wsa::einval;
  if (entries.empty()) return wsa::einval;
  if (timeout && timeout->count() < 0) return wsa::einval;
  // The first pass checks every handle (step 2) and has no effect, so it may come before
  // the admission (steps 3 to 5), which then decides even if something is ready.
  std::vector<pollfd> fds;
  auto ready = poll_now(rt, entries, fds);
  if (!ready.ok() || !blocking) return ready;
  if (auto ec = entry.admit()) return ec;
  if (*ready > 0) return ready;

  // The table of what a cancel leaves behind says "unchanged" for poll: nothing to undo.
  detail::Fiber* f = entry.fiber();
  detail::BlockingCall call(entry);
  // poll's own timeout is a completion ("nothing ready"), not WSAETIMEDOUT: that outcome is
  // a token's deadline (a CancelSource's or a scope's), which fails the call.
  detail::CallDeadline deadline(f, CallState::completed);
  if (timeout) {
    deadline.arm(detail::RuntimeImpl::now_ns() +
                 std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout).count());
  }
  // One waiter per socket and direction; all share this fiber's one outcome.
  std::deque<detail::IoWaiter> waiters;
  for (;;) {
    waiters.clear();
    for (const PollEntry& e : entries) {
      Sock* s = rt->sockets().get(e.socket);
      if (!s) return wsa::eintr;  // closed meanwhile by another fiber
      if (s->fd < 0) continue;
      if (e.events & (kPollIn | kPollPri)) {
        waiters.emplace_back(f, UV_READABLE);
        if (auto ec = rt->sockets().wait_add(s, waiters.back())) return ec;
      }
      if (e.events & kPollOut) {
        waiters.emplace_back(f, UV_WRITABLE);
        if (auto ec = rt->sockets().wait_add(s, waiters.back())) return ec;
      }
    }
    CallState st = call.wait();
    if (st != CallState::completed) return detail::outcome_error(st);
    ready = poll_now(rt, entries, fds);
    if (!ready.ok()) return ready.error() == wsa::enotsock ? Result<int>(wsa::eintr) : ready;
    if (*ready > 0 || deadline.fired()) return ready;  // 0 when the timeout passed
    st = call.rearm();
    if (st != CallState::pending) return detail::outcome_error(st);
  }
}

bool SocketSet::contains(Socket s) const noexcept {
  for (Socket x : sockets) {
    if (x == s) return true;
  }
  return false;
}

Result<int> select(SocketSet* read, SocketSet* write, SocketSet* except,
                   std::optional<std::chrono::milliseconds> timeout, const CancelToken& token) {
  if (!read && !write && !except) return wsa::einval;
  // One entry per distinct socket, with the union of what the sets ask of it.
  std::vector<PollEntry> entries;
  auto want = [&](const SocketSet* set, short events) {
    if (!set) return;
    for (Socket s : set->sockets) {
      auto it = std::find_if(entries.begin(), entries.end(),
                             [&](const PollEntry& e) { return e.socket == s; });
      if (it == entries.end()) {
        entries.push_back({s, events});
      } else {
        it->events |= events;
      }
    }
  };
  want(read, kPollIn);
  want(write, kPollOut);
  want(except, kPollPri);
  if (entries.empty()) return wsa::einval;
  auto n = poll(entries, timeout, token);
  if (!n.ok()) return n.error();
  auto revents_of = [&](Socket s) -> short {
    for (const PollEntry& e : entries) {
      if (e.socket == s) return e.revents;
    }
    return 0;
  };
  int count = 0;
  // Errors and hang-ups make a socket readable (a read then reports them), a failed connect
  // lands in the except set, as in Winsock.
  auto keep = [&](SocketSet* set, short mask) {
    if (!set) return;
    std::erase_if(set->sockets, [&](Socket s) { return (revents_of(s) & mask) == 0; });
    count += static_cast<int>(set->sockets.size());
  };
  keep(read, kPollIn | kPollHup | kPollErr);
  keep(write, kPollOut);
  keep(except, kPollPri | kPollErr);
  return count;
}

}  // namespace weft
