// weft-http: a small HTTP/1.1 server with keep-alive, one fiber per connection, on one or
// more threads.
//
//   weft-http [--host ADDRESS] [--port PORT] [--threads N]
//             [--request-timeout MS] [--idle-timeout MS]
//
// It answers GET and HEAD of `/` with a short text, 404 for other paths and 405 for other
// methods; requests may be pipelined. Try `curl -i http://127.0.0.1:8080/` or
// `wrk -c 100 -d 10s http://127.0.0.1:8080/`.
//
// Deadlines, the way weft spells them:
//   * each request runs in a CancelScope with the request timeout (default 5 s): reading the
//     rest of its head and writing the response must fit in it; a request that does not
//     arrive in time is answered 408 and the connection closed;
//   * a kept-alive connection waits for its next request for at most the idle timeout
//     (default 30 s), and that wait also observes the server's drain token.
// SIGINT or SIGTERM drains: the listeners close, idle connections close at once, requests in
// flight finish, and the process exits 0 when the last connection has ended. A second signal
// ends the process at once (the default action is back by then).
#include <weft/weft.hpp>

#include "cli.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kHeadLimit = 16 * 1024;    // a longer request head gets 431
constexpr std::size_t kBodyLimit = 1024 * 1024;  // a longer request body gets 413
constexpr std::string_view kHello = "Hello from weft\n";

struct Config {
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds idle_timeout{30000};
  weft::CancelToken draining;
};

struct Request {
  std::string_view method;
  std::string_view target;
  bool http11 = false;
  bool keep_alive = false;
  bool chunked = false;
  std::size_t content_length = 0;
  bool bad = false;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Parses a request head (without its final CRLF CRLF).
Request parse(std::string_view head) {
  Request r;
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    r.bad = true;
    return r;
  }
  r.method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.1") {
    r.http11 = true;
  } else if (version != "HTTP/1.0") {
    r.bad = true;
    return r;
  }
  r.keep_alive = r.http11;
  std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
  while (!rest.empty()) {
    std::size_t end = rest.find("\r\n");
    std::string_view field = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 2);
    std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      r.bad = true;
      return r;
    }
    std::string_view name = field.substr(0, colon);
    std::string_view value = trim(field.substr(colon + 1));
    if (iequals(name, "connection")) {
      if (has_token(value, "close")) r.keep_alive = false;
      if (has_token(value, "keep-alive")) r.keep_alive = true;
    } else if (iequals(name, "content-length")) {
      char* stop = nullptr;
      std::string digits(value);
      errno = 0;
      unsigned long long n = std::strtoull(digits.c_str(), &stop, 10);
      if (digits.empty() || *stop || errno || digits[0] == '-') {
        r.bad = true;
        return r;
      }
      r.content_length = static_cast<std::size_t>(std::min<unsigned long long>(n, SIZE_MAX));
    } else if (iequals(name, "transfer-encoding")) {
      r.chunked = true;
    }
  }
  return r;
}

std::string response(int status, std::string_view reason, std::string_view body, bool head_only,
                     bool keep_alive, std::string_view extra = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                    "\r\nServer: weft-http\r\nContent-Type: text/plain\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n";
  out += extra;
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_only) out += body;
  return out;
}

// Writes a last response under a scope of its own: the request's deadline may have passed
// (a 408), and the answer is still worth a short try.
void answer_and_close(weft::Socket c, int status, std::string_view reason) {
  weft::CancelScope shield(weft::CancelScope::shield);
  weft::CancelScope brief(1s);
  std::string r = response(status, reason, std::string(reason) + "\n", false, false);
  (void)weft::send(c, r.data(), r.size());
  (void)weft::shutdown(c, weft::Shutdown::send);
}

void serve(const Config& config, weft::UniqueSocket conn) {
  weft::Socket c = conn.get();
  std::string buf(kHeadLimit, '\0');  // on the heap: fiber stacks stay small
  std::size_t have = 0;
  for (;;) {
    if (have == 0) {
      // Between requests: wait for the next one's first bytes, at most the idle timeout,
      // and not past the drain.
      weft::CancelScope idle(config.idle_timeout);
      auto n = weft::recv(c, buf.data(), buf.size(), 0, config.draining);
      if (!n.ok() || *n == 0) return;  // idle, draining, the client's EOF, or an error
      have = *n;
    }
    weft::CancelScope deadline(config.request_timeout);
    std::size_t head_end;
    while ((head_end = std::string_view(buf.data(), have).find("\r\n\r\n")) ==
           std::string_view::npos) {
      if (have == buf.size()) return answer_and_close(c, 431, "Request Header Fields Too Large");
      auto n = weft::recv(c, buf.data() + have, buf.size() - have);
      if (!n.ok()) {
        if (n.error() == weft::wsa::etimedout) answer_and_close(c, 408, "Request Timeout");
        return;
      }
      if (*n == 0) return;  // the client went away mid-request
      have += *n;
    }
    Request r = parse(std::string_view(buf.data(), head_end));
    std::size_t consumed = head_end + 4;
    if (r.bad) return answer_and_close(c, 400, "Bad Request");
    if (r.chunked) return answer_and_close(c, 501, "Not Implemented");
    if (r.content_length > kBodyLimit) return answer_and_close(c, 413, "Content Too Large");
    // A body is read and dropped: nothing here takes one.
    std::size_t body = r.content_length;
    std::size_t buffered = std::min(body, have - consumed);
    consumed += buffered;
    body -= buffered;
    std::memmove(buf.data(), buf.data() + consumed, have - consumed);
    have -= consumed;
    while (body > 0) {
      auto n = weft::recv(c, buf.data(), std::min(body, buf.size()));
      if (!n.ok() || *n == 0) return;
      body -= *n;
    }

    bool head_only = r.method == "HEAD";
    std::string out;
    if (r.method != "GET" && !head_only) {
      out = response(405, "Method Not Allowed", "Method Not Allowed\n", false, r.keep_alive,
                     "Allow: GET, HEAD\r\n");
    } else if (r.target != "/") {
      out = response(404, "Not Found", "Not Found\n", head_only, r.keep_alive);
    } else {
      out = response(200, "OK", kHello, head_only, r.keep_alive);
    }
    if (!weft::send(c, out.data(), out.size()).ok()) return;
    if (!r.keep_alive) {
      (void)weft::shutdown(c, weft::Shutdown::send);
      return;
    }
  }
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--host ADDRESS] [--port PORT] [--threads N] [--request-timeout MS] "
               "[--idle-timeout MS]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  long port = 8080, threads = 1, request_ms = 5000, idle_ms = 30000;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool more = i + 1 < argc;
    if (a == "--host" && more) {
      host = argv[++i];
    } else if (a == "--port" && more) {
      if (!parse_number(argv[++i], 0, 65535, &port)) return usage(argv[0]);
    } else if (a == "--threads" && more) {
      if (!parse_number(argv[++i], 1, 1024, &threads)) return usage(argv[0]);
    } else if (a == "--request-timeout" && more) {
      if (!parse_number(argv[++i], 1, 86'400'000, &request_ms)) return usage(argv[0]);
    } else if (a == "--idle-timeout" && more) {
      if (!parse_number(argv[++i], 1, 86'400'000, &idle_ms)) return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }
  auto address = weft::Address::parse(host, static_cast<std::uint16_t>(port));
  if (!address.ok()) {
    std::fprintf(stderr, "weft-http: %s is not a numeric IPv4 or IPv6 address\n", host.c_str());
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);

  weft::RuntimeGroup group(static_cast<std::size_t>(threads));
  weft::CancelSource draining;
  Config config{std::chrono::milliseconds(request_ms), std::chrono::milliseconds(idle_ms),
                draining.token()};
  auto at = group.serve(*address, [&config](weft::UniqueSocket c) { serve(config, std::move(c)); });
  if (!at.ok()) {
    std::fprintf(stderr, "weft-http: cannot listen on %s: %s\n", address->to_string().c_str(),
                 at.error().message().c_str());
    return 1;
  }
  // One fiber per signal waits for it; the first to arrive drains the server and ends the
  // other wait.
  weft::CancelSource signalled;
  for (int sig : {SIGINT, SIGTERM}) {
    (void)group[0].spawn([&, sig] {
      if (!weft::signal_wait(sig, signalled.token()).ok()) return;
      signalled.cancel();
      std::printf("weft-http: draining\n");
      std::fflush(stdout);
      draining.cancel();
      group.finish();
    });
  }
  std::printf("weft-http: listening on http://%s/\n", at->to_string().c_str());
  std::fflush(stdout);
  auto ran = group.run();
  if (!ran.ok()) {
    std::fprintf(stderr, "weft-http: %s\n", ran.error().message().c_str());
    return 1;
  }
  std::printf("weft-http: stopped\n");
  return 0;
}
