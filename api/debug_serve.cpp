// The /metrics page (Prometheus text exposition format 0.0.4) and the debug listener.
#include <weft/debug.hpp>
#include <weft/fiber.hpp>

#include "counters.hpp"
#include "log.hpp"
#include "mailbox.hpp"
#include "runtime_impl.hpp"

#include <cstring>
#include <string_view>

namespace weft::debug {
namespace {

// One metric family: its HELP and TYPE lines, then a sample per runtime (and `extra` lines).
struct Family {
  const char* name;
  const char* type;  // gauge or counter
  const char* help;
};

void header(std::string& out, const Family& f) {
  out += "# HELP ";
  out += f.name;
  out += ' ';
  out += f.help;
  out += "\n# TYPE ";
  out += f.name;
  out += ' ';
  out += f.type;
  out += '\n';
}

void sample(std::string& out, const char* name, std::string_view labels, std::uint64_t v) {
  out += name;
  out += '{';
  out += labels;
  out += "} ";
  out += std::to_string(v);
  out += '\n';
}

}  // namespace

std::string metrics_text() {
  std::vector<detail::RuntimeMailbox*> boxes = detail::registry_all();
  std::vector<std::pair<std::string, RuntimeStats>> rts;
  for (detail::RuntimeMailbox* b : boxes) {
    rts.emplace_back("runtime=\"" + std::to_string(b->index()) + '"',
                     detail::stats_of(b->counters));
    b->release();
  }
  std::string out;
  out.reserve(4096);
  header(out, {"weft_runtimes", "gauge", "Runtimes in the process."});
  out += "weft_runtimes " + std::to_string(rts.size()) + '\n';

  // Per-runtime values, one family each.
  using Field = std::uint64_t RuntimeStats::*;
  const struct {
    Family family;
    Field field;
  } simple[] = {
      {{"weft_fibers_alive", "gauge", "Fibers spawned and not yet finished."},
       &RuntimeStats::fibers_alive},
      {{"weft_fibers_high_water", "gauge", "The most fibers alive at once."},
       &RuntimeStats::fibers_high_water},
      {{"weft_fibers_spawned_total", "counter", "Fibers started."}, &RuntimeStats::fibers_spawned},
      {{"weft_sockets_open", "gauge", "Socket handles not yet closed."},
       &RuntimeStats::sockets_open},
      {{"weft_sockets_high_water", "gauge", "The most socket handles open at once."},
       &RuntimeStats::sockets_high_water},
      {{"weft_pending_connects", "gauge",
        "Kernel sockets of cancelled connects held until their attempt ends."},
       &RuntimeStats::pending_connects},
      {{"weft_connects_reaped_total", "counter",
        "Kernel sockets of cancelled connects freed by the reaper."},
       &RuntimeStats::connects_reaped},
      {{"weft_resets_by_cancel_total", "counter",
        "Sockets reset because a cancelled call left them so (semantics.md section 3)."},
       &RuntimeStats::resets_by_cancel},
      {{"weft_context_switches_total", "counter", "Switches from the scheduler to a fiber."},
       &RuntimeStats::context_switches},
      {{"weft_loop_iterations_total", "counter", "Turns of the event loop."},
       &RuntimeStats::loop_iterations},
      {{"weft_wakeups_total", "counter", "Wake-ups received from other threads."},
       &RuntimeStats::wakeups},
      {{"weft_spin_wakeups_total", "counter",
        "Wake-ups from other threads seen while the loop watched its mailbox before sleeping."},
       &RuntimeStats::spin_wakeups},
      {{"weft_spins_timed_out_total", "counter",
        "Watches of the mailbox before sleeping that no wake-up ended."},
       &RuntimeStats::spins_timed_out},
      {{"weft_channel_watches_total", "counter",
        "Watches of a full or empty channel buffer before parking that saw room or a value."},
       &RuntimeStats::channel_watches},
      {{"weft_channel_watches_timed_out_total", "counter",
        "Watches of a full or empty channel buffer before parking that ran out."},
       &RuntimeStats::channel_watches_timed_out},
      {{"weft_stack_fallbacks_total", "counter",
        "Fiber stacks taken without a guard page because the guarded limit was reached."},
       &RuntimeStats::stack_fallbacks},
  };
  for (const auto& m : simple) {
    header(out, m.family);
    for (const auto& [labels, st] : rts) sample(out, m.family.name, labels, st.*(m.field));
  }

  header(out, {"weft_fiber_stacks", "gauge", "Fiber stacks in use or pooled, by kind."});
  for (const auto& [labels, st] : rts) {
    sample(out, "weft_fiber_stacks", labels + ",kind=\"guarded\"", st.stacks_guarded);
    sample(out, "weft_fiber_stacks", labels + ",kind=\"unguarded\"", st.stacks_unguarded);
    sample(out, "weft_fiber_stacks", labels + ",kind=\"pooled\"", st.stacks_pooled);
  }

  header(out, {"weft_blocking_calls_total", "counter",
               "Blocking calls that waited, by how they ended."});
  for (const auto& [labels, st] : rts) {
    sample(out, "weft_blocking_calls_total", labels + ",outcome=\"completed\"", st.calls_completed);
    sample(out, "weft_blocking_calls_total", labels + ",outcome=\"cancelled\"", st.calls_cancelled);
    sample(out, "weft_blocking_calls_total", labels + ",outcome=\"timed_out\"", st.calls_timed_out);
    sample(out, "weft_blocking_calls_total", labels + ",outcome=\"stopped\"", st.calls_stopped);
  }

  header(out, {"weft_cancel_requests_total", "counter",
               "Cancel requests by reply, counted on the asking thread's runtime "
               "(runtime=\"none\": threads that run no runtime)."});
  auto cancels = [&](const std::string& labels, std::uint64_t ok, std::uint64_t einval,
                     std::uint64_t enetdown) {
    sample(out, "weft_cancel_requests_total", labels + ",reply=\"0\"", ok);
    sample(out, "weft_cancel_requests_total", labels + ",reply=\"WSAEINVAL\"", einval);
    sample(out, "weft_cancel_requests_total", labels + ",reply=\"WSAENETDOWN\"", enetdown);
  };
  for (const auto& [labels, st] : rts) {
    cancels(labels, st.cancels_ok, st.cancels_einval, st.cancels_enetdown);
  }
  CancelCounts t = thread_cancels();
  cancels("runtime=\"none\"", t.ok, t.einval, t.enetdown);
  return out;
}

namespace {

constexpr std::size_t kMaxRequest = 8192;
constexpr auto kReadTime = std::chrono::seconds(5);

void respond(Socket c, int status, const char* reason, const char* type, const std::string& body,
             bool head) {
  std::string msg = "HTTP/1.1 " + std::to_string(status) + ' ' + reason +
                    "\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
  if (!head) msg += body;
  (void)send(c, msg.data(), msg.size());
}

// One request on connection c: read up to the end of its head (at most kMaxRequest bytes,
// within kReadTime), answer, and let the caller close.
void serve_one(Socket c, const CancelToken& stop) {
  CancelSource limit = CancelSource::linked({stop});
  limit.set_deadline(std::chrono::steady_clock::now() + kReadTime);
  std::string req;
  char buf[1024];
  while (req.find("\r\n\r\n") == std::string::npos) {
    if (req.size() >= kMaxRequest) {
      respond(c, 431, "Request Header Fields Too Large", "text/plain", "request too large\n",
              false);
      return;
    }
    auto n = recv(c, buf, sizeof buf, 0, limit.token());
    if (!n.ok() || n.value() == 0) return;
    req.append(buf, n.value());
  }
  std::string_view line(req.data(), req.find("\r\n"));
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    respond(c, 400, "Bad Request", "text/plain", "bad request line\n", false);
    return;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    respond(c, 405, "Method Not Allowed", "text/plain", "GET or HEAD\n", false);
    return;
  }
  if (target == "/metrics") {
    respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", metrics_text(), head);
  } else if (target == "/debug/fibers") {
    respond(c, 200, "OK", "text/plain; charset=utf-8", fibers_text(fibers()), head);
  } else if (target == "/debug/fibers.json") {
    respond(c, 200, "OK", "application/json", fibers_json(fibers()), head);
  } else {
    respond(c, 404, "Not Found", "text/plain",
            "/debug/fibers, /debug/fibers.json and /metrics are served here\n", head);
  }
}

}  // namespace

Result<Listener> serve(const Address& address, const CancelToken& token) {
  if (!detail::tls_runtime) return wsa::einval;
  auto ls = socket(address.family(), SOCK_STREAM);
  if (!ls.ok()) return ls.error();
  UniqueSocket listener(ls.value());
  if (address.family() != AF_UNIX) (void)set_reuse_address(listener.get(), true);
  if (auto st = bind(listener.get(), address); !st.ok()) return st.error();
  if (auto st = listen(listener.get(), 64); !st.ok()) return st.error();
  auto where = local_address(listener.get());
  if (!where.ok()) return where.error();
  const std::uint32_t rt_index = detail::tls_runtime->index();
  auto fiber = spawn(
      [l = std::move(listener), token, rt_index]() mutable {
        for (;;) {
          auto c = accept(l.get(), nullptr, token);
          if (!c.ok()) {
            // A connection's own trouble (reset before it was accepted, no descriptors
            // left) ends that connection; a cancel, a token or stop ends the listener.
            const auto e = c.error();
            if (e == wsa::eintr || e == wsa::etimedout || e == wsa::enetdown) {
              detail::log_info("runtime {}: debug listener ended ({})", rt_index, e.message());
              return;
            }
            if (e == wsa::emfile || e == wsa::enobufs) {
              (void)this_fiber::sleep_for(std::chrono::milliseconds(100), token);
            }
            continue;
          }
          UniqueSocket conn(c.value());
          serve_one(conn.get(), token);
        }
      },
      SpawnOptions{.name = "weft.debug"});
  if (!fiber.ok()) return fiber.error();
  detail::log_info("runtime {}: debug listener on {}", rt_index, where.value().to_string());
  return Listener{where.value(), fiber.value()};
}

}  // namespace weft::debug
