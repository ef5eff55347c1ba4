// Fiber dumps (semantics.md §11): each runtime lists its own fibers on its own thread, asked
// through its mailbox; the asker gathers the answers. The listener and the metrics page are
// in debug_serve.cpp.
#include <weft/debug.hpp>
#include <weft/offload.hpp>

#include "blocking.hpp"
#include "cancel_state.hpp"
#include "mailbox.hpp"
#include "scope.hpp"
#include "socket_table.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

namespace weft::debug {
namespace {

using detail::CallState;
using detail::Fiber;
using detail::RuntimeImpl;
using detail::WaitObj;

std::string address_of(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return {};
  auto a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  return a.ok() ? a.value().to_string() : std::string();
}

const char* state_name(detail::SockState s) {
  switch (s) {
    case detail::SockState::open: return "open";
    case detail::SockState::listening: return "listening";
    case detail::SockState::connecting: return "connecting";
    case detail::SockState::connected: return "connected";
    case detail::SockState::aborted: return "reset";
    case detail::SockState::closing: return "closing";
  }
  return "?";
}

// "socket 4097 tcp connected 127.0.0.1:8080 <- 127.0.0.1:40000": the handle, its kind and
// state, its local address and, when it has one, its peer's.
std::string describe_socket(RuntimeImpl* rt, std::uint64_t value) {
  std::string out = "socket " + std::to_string(value);
  detail::Sock* s = rt->sockets().get(static_cast<Socket>(value));
  if (!s) return out + " (closed)";
  if (s->pipe) return out + " pipe fd " + std::to_string(s->fd);
  const char* kind = s->type == SOCK_STREAM  ? "stream"
                     : s->type == SOCK_DGRAM ? "datagram"
                                             : "seqpacket";
  if (s->family != AF_UNIX) kind = s->type == SOCK_STREAM ? "tcp" : "udp";
  out += s->family == AF_UNIX ? std::string(" unix ") + kind : std::string(" ") + kind;
  out += ' ';
  out += state_name(s->state);
  if (std::string local = address_of(s->fd, false); !local.empty()) out += ' ' + local;
  if (std::string peer = address_of(s->fd, true); !peer.empty()) out += " <- " + peer;
  return out;
}

std::string describe_file(std::uint64_t fd) {
  std::string out = "fd " + std::to_string(fd);
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%llu", static_cast<unsigned long long>(fd));
  char target[4096];
  ssize_t n = ::readlink(path, target, sizeof target - 1);
  if (n > 0) out += ' ' + std::string(target, static_cast<std::size_t>(n));
  return out;
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string describe_wait(RuntimeImpl* rt, const Fiber& f) {
  switch (f.wait_obj) {
    case WaitObj::none: return {};
    case WaitObj::socket: return describe_socket(rt, f.wait_value);
    case WaitObj::primitive: return "primitive at " + hex(f.wait_value);
    case WaitObj::fiber: return "fiber " + std::to_string(f.wait_value);
    case WaitObj::file: return describe_file(f.wait_value);
    case WaitObj::process: return "pid " + std::to_string(f.wait_value);
    case WaitObj::signal: {
      const char* name = sigabbrev_np(static_cast<int>(f.wait_value));
      return "signal " + std::to_string(f.wait_value) + (name ? std::string(" SIG") + name : "");
    }
  }
  return {};
}

// The earliest deadline that applies to the fiber's call (steady ns; 0 if none): its own
// (CallDeadline), its token's, its cancel scopes' and their tokens'.
std::int64_t earliest_deadline(Fiber& f) {
  std::int64_t best = f.wait_deadline_ns;
  auto consider = [&](std::int64_t due) {
    if (due > 0 && (best == 0 || due < best)) best = due;
  };
  auto token_due = [&](const CancelToken& t) {
    if (detail::CancelState* s = detail::CancelState::of(t)) {
      consider(detail::DeadlineService::get().due_ns(s));
    }
  };
  if (f.call_token) token_due(*f.call_token);
  for (detail::ScopeRecord* r = detail::scope_top(&f); r; r = r->parent) {
    if (r->deadline.armed()) consider(r->deadline.due);
    token_due(r->own.token());
    if (r->extra.can_be_cancelled()) token_due(r->extra);
    if (r->shield) break;
  }
  return best;
}

FiberInfo describe_fiber(RuntimeImpl* rt, Fiber& f, std::int64_t now_ns, std::int64_t now_ms) {
  FiberInfo info;
  info.id = f.id;
  info.name = f.display_name();
  info.spawned_by = f.spawn_function ? f.spawn_function : "";
  if (f.spawn_file)
    info.spawned_at = std::string(f.spawn_file) + ':' + std::to_string(f.spawn_line);
  const std::uint64_t word = f.slot->word.load();
  const CallState st = detail::state_of(word);
  const bool in_call = st != CallState::idle;
  if (&f == rt->current()) {
    info.state = "running";
  } else if (st == CallState::pending) {
    info.state = "blocked";
  } else if (f.queued || in_call) {
    info.state = "ready";
  } else {
    info.state = "parked";
  }
  info.cancel = "none";
  if (in_call) {
    info.call = f.wait_call ? f.wait_call : "blocking call";
    info.waits_on = describe_wait(rt, f);
    info.blocked_ms = std::max<std::int64_t>(0, now_ms - f.wait_since_ms);
    if (std::int64_t due = earliest_deadline(f)) {
      info.deadline_ms = std::max<std::int64_t>(0, (due - now_ns) / 1'000'000);
    }
    switch (st) {
      case CallState::cancelled: info.cancel = "cancelled"; break;
      case CallState::timed_out: info.cancel = "timed out"; break;
      case CallState::netdown: info.cancel = "stopped"; break;
      case CallState::completed:
        if (word & detail::kCancelRequested) info.cancel = "requested";
        break;
      default:
        if (detail::has_tokens(&f) && detail::cancel_check(&f)) info.cancel = "token cancelled";
        break;
    }
  }
  return info;
}

// The runtime of this thread lists its fibers (its thread: a fiber or a posted function).
std::vector<FiberInfo> list_fibers(RuntimeImpl* rt) {
  std::vector<FiberInfo> out;
  const std::int64_t now_ns = RuntimeImpl::now_ns();
  uv_update_time(rt->loop());
  const auto now_ms = static_cast<std::int64_t>(uv_now(rt->loop()));
  rt->fibers().for_each([&](Fiber& f) { out.push_back(describe_fiber(rt, f, now_ns, now_ms)); });
  return out;
}

// The answers of the runtimes asked, filled in by their threads.
struct Gather {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<FiberInfo>> fibers;
  std::vector<bool> answered;
  std::size_t left = 0;
};

}  // namespace

std::vector<RuntimeDump> fibers(std::chrono::milliseconds wait) {
  std::vector<detail::RuntimeMailbox*> boxes = detail::registry_all();
  std::vector<RuntimeDump> out(boxes.size());
  auto g = std::make_shared<Gather>();
  g->fibers.resize(boxes.size());
  g->answered.assign(boxes.size(), false);
  RuntimeImpl* here = detail::tls_runtime;
  // What each thread ran before it was asked: a runtime that does not answer, whose thread ran
  // one fiber throughout, without a switch, is held by that fiber.
  struct Running {
    std::uint64_t fiber = 0;
    std::uint64_t switches = 0;
  };
  auto running_of = [](const detail::RuntimeMailbox* box) {
    return Running{box->counters.running.load(std::memory_order_relaxed),
                   box->counters.switches.load(std::memory_order_relaxed)};
  };
  std::vector<Running> before(boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i) before[i] = running_of(boxes[i]);
  const auto asked = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    detail::RuntimeMailbox* box = boxes[i];
    out[i].index = box->index();
    out[i].stopping = box->stopping.load(std::memory_order_acquire);
    if (here && here->index() == box->index()) {
      out[i].fibers = list_fibers(here);
      out[i].answered = true;
      continue;
    }
    detail::Message m{detail::Message::Kind::post};
    m.task = detail::make_task([g, i] {
      auto listed = list_fibers(detail::tls_runtime);
      std::lock_guard lock(g->mu);
      g->fibers[i] = std::move(listed);
      g->answered[i] = true;
      --g->left;
      g->cv.notify_all();
    });
    {
      std::lock_guard lock(g->mu);
      ++g->left;
    }
    if (!box->push(std::move(m))) {
      std::lock_guard lock(g->mu);
      --g->left;
    }
  }
  const auto until = std::chrono::steady_clock::now() + wait;
  auto wait_answers = [g, until] {
    std::unique_lock lock(g->mu);
    g->cv.wait_until(lock, until, [&] { return g->left == 0; });
  };
  if (here && here->current()) {
    // A fiber waits on the pool, its thread free for the runtimes' other fibers (its own
    // runtime answered above). Cancelled or refused: what has come in is reported.
    (void)offload(wait_answers);
  } else if (!here) {
    wait_answers();
  }
  {
    std::lock_guard lock(g->mu);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (g->answered[i]) {
        out[i].fibers = std::move(g->fibers[i]);
        out[i].answered = true;
      }
    }
  }
  // The counters last, so that they are at least as recent as the fibers listed.
  const auto held_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - asked)
                           .count();
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    out[i].stats = detail::stats_of(boxes[i]->counters);
    const Running after = running_of(boxes[i]);
    if (!out[i].answered && after.fiber != 0 && after.fiber == before[i].fiber &&
        after.switches == before[i].switches) {
      out[i].holder = static_cast<FiberId>(after.fiber);
      out[i].held_ms = held_ms;
    }
    boxes[i]->release();
  }
  return out;
}

CancelCounts thread_cancels() noexcept {
  auto get = [](unsigned i) {
    return detail::thread_cancel_replies[i].load(std::memory_order_relaxed);
  };
  return {get(0), get(1), get(2)};
}

namespace {

std::string fiber_label(const FiberInfo& f) {
  std::string s = "fiber " + std::to_string(to_integer(f.id));
  // As the logs name it (runtime/log.hpp's fiber_label).
  if (!f.name.empty()) s += " (" + f.name + ')';
  return s;
}

void append_json_string(std::string& out, std::string_view v) {
  out += '"';
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace

std::string fibers_text(const std::vector<RuntimeDump>& dump) {
  std::string out;
  for (const RuntimeDump& r : dump) {
    out += "runtime " + std::to_string(r.index) + ": " + std::to_string(r.stats.fibers_alive) +
           " fibers alive, " + std::to_string(r.stats.sockets_open) + " sockets open" +
           (r.stopping ? ", stopping" : "");
    if (!r.answered) {
      if (r.holder != FiberId::none) {
        out += "\n    (did not list its fibers in time: fiber " +
               std::to_string(to_integer(r.holder)) + " has run on its thread without a switch " +
               "for at least " + std::to_string(r.held_ms) +
               " ms: a fiber that does not yield, or a call that is not weft's blocks the "
               "thread)\n\n";
      } else {
        out += "\n    (did not list its fibers in time: a fiber that does not yield holds its "
               "thread, or the runtime is not running)\n\n";
      }
      continue;
    }
    out += "\n\n";
    for (const FiberInfo& f : r.fibers) {
      // Go's shape: "goroutine 7 [chan receive, 3 minutes]:".
      out += fiber_label(f) + " [" + f.state;
      if (!f.call.empty()) out += ", " + f.call + ", " + std::to_string(f.blocked_ms) + " ms";
      out += "]:\n";
      if (!f.waits_on.empty()) out += "    waits on: " + f.waits_on + '\n';
      if (!f.call.empty()) {
        out += "    deadline: " +
               (f.deadline_ms < 0 ? std::string("none")
                                  : "in " + std::to_string(f.deadline_ms) + " ms") +
               "; cancel: " + f.cancel + '\n';
      }
      out += "    spawned by " + (f.spawned_by.empty() ? std::string("?") : f.spawned_by);
      if (!f.spawned_at.empty()) out += " at " + f.spawned_at;
      out += "\n\n";
    }
  }
  return out;
}

std::string fibers_json(const std::vector<RuntimeDump>& dump) {
  std::string out = "{\"runtimes\":[";
  for (std::size_t i = 0; i < dump.size(); ++i) {
    const RuntimeDump& r = dump[i];
    if (i) out += ',';
    out += "{\"index\":" + std::to_string(r.index) +
           ",\"stopping\":" + (r.stopping ? "true" : "false") +
           ",\"answered\":" + (r.answered ? "true" : "false") + ",\"holder\":" +
           (r.holder != FiberId::none ? std::to_string(to_integer(r.holder)) : "null") +
           ",\"held_ms\":" + std::to_string(r.held_ms) +
           ",\"fibers_alive\":" + std::to_string(r.stats.fibers_alive) +
           ",\"sockets_open\":" + std::to_string(r.stats.sockets_open) + ",\"fibers\":[";
    for (std::size_t j = 0; j < r.fibers.size(); ++j) {
      const FiberInfo& f = r.fibers[j];
      if (j) out += ',';
      out += "{\"id\":" + std::to_string(to_integer(f.id)) + ",\"name\":";
      append_json_string(out, f.name);
      out += ",\"spawned_by\":";
      append_json_string(out, f.spawned_by);
      out += ",\"spawned_at\":";
      append_json_string(out, f.spawned_at);
      out += ",\"state\":";
      append_json_string(out, f.state);
      out += ",\"call\":";
      if (f.call.empty()) {
        out += "null";
      } else {
        append_json_string(out, f.call);
      }
      out += ",\"waits_on\":";
      append_json_string(out, f.waits_on);
      out += ",\"blocked_ms\":" +
             (f.blocked_ms < 0 ? std::string("null") : std::to_string(f.blocked_ms));
      out += ",\"deadline_ms\":" +
             (f.deadline_ms < 0 ? std::string("null") : std::to_string(f.deadline_ms));
      out += ",\"cancel\":";
      append_json_string(out, f.cancel);
      out += '}';
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

}  // namespace weft::debug
