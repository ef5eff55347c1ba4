// weft-http: a small HTTP/1.1 server with keep-alive, one fiber per connection, on one or
// more threads; HTTPS with a certificate and its key; static files under a root directory.
//
//   weft-http [--host ADDRESS] [--port PORT] [--threads N]
//             [--request-timeout MS] [--idle-timeout MS]
//             [--tls-cert CHAIN.pem --tls-key KEY.pem] [--root DIR] [--debug-port PORT]
//
// Without --root it answers GET and HEAD of `/` with a short text, 404 for other paths and 405
// for other methods; requests may be pipelined. Try `curl -i http://127.0.0.1:8080/` or
// `wrk -c 100 -d 10s http://127.0.0.1:8080/`.
//
// With --root DIR it serves the files under DIR instead (GET and HEAD), through weft::fs: the
// file is opened and examined on libuv's pool, and its bytes go to the socket with
// fs::sendfile (from the page cache, never through this process). What it answers:
//   * a regular file: 200 with Content-Length, a Content-Type from its extension (a few common
//     ones; application/octet-stream otherwise), Last-Modified and Accept-Ranges; a single
//     byte range ("Range: bytes=A-B", "A-", "-N") gives 206 with Content-Range, or 416 past
//     the end; several ranges get the whole file; If-Modified-Since gives 304 when the file
//     has not changed since; If-Range with another date gets the whole file;
//   * a directory: its index.html if it has one, else a plain HTML listing of its entries;
//     a directory's path without its final '/' is redirected (301) to the path with it;
//   * 404 for a missing file; 403 for a path with a ".." name (even percent-encoded), for a
//     file that is not regular (a FIFO, a device), for one that the server may not read, and
//     for anything outside DIR: symbolic links are followed, and the file that opened is then
//     checked to lie under DIR (its real path, from /proc/self/fd): nothing outside DIR is
//     ever served, whatever the links inside it say or become meanwhile.
// The request's deadline (below) covers its head and the answer's head; the file's bytes then
// go out as long as they move: each piece of at most 256 KiB must leave within the idle
// timeout. A transfer that fails (the client went away) or stalls ends the connection with a
// reset, never with a clean end after a cut-off file; the file closes with the connection's
// fiber.
//
// With --tls-cert and --tls-key (PEM: the server's certificate chain, then its private key)
// it speaks HTTPS instead: each connection's fiber wraps its socket in a weft::tls::Stream and
// runs the handshake (within the request timeout; a drain ends it as it ends an idle wait),
// then the same HTTP code runs over the stream. ALPN accepts "http/1.1" alone: a client that
// offers only other protocols (h2, or http/1.0 as `curl --http1.0` does) is refused, one that
// offers none is served. A failed handshake ends that connection alone and is logged at level
// info (WEFT_LOG=info shows it). Try `curl --cacert ca.pem https://localhost:8080/`. With
// --root too, files are served over TLS as well: sendfile cannot encrypt, so their bytes are
// read with File::pread, 64 KiB at a time, and sent through the stream.
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
//
// For the operator (operations.hpp): --debug-port PORT serves /debug/fibers, /debug/fibers.json
// and /metrics on 127.0.0.1:PORT from runtime 0 (the dump covers every runtime), until the
// drain; SIGQUIT prints the fiber dump to standard error and the server goes on.
#include <weft/weft.hpp>

#include "http.hpp"
#include "operations.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace weft_http {

std::string head_of(int status, std::string_view reason, std::string_view type,
                    std::optional<std::uint64_t> length, bool keep_alive, std::string_view extra) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                    "\r\nServer: weft-http\r\n";
  if (!type.empty()) out += "Content-Type: " + std::string(type) + "\r\n";
  if (length) out += "Content-Length: " + std::to_string(*length) + "\r\n";
  out += extra;
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

std::string response(int status, std::string_view reason, std::string_view body, bool head_only,
                     bool keep_alive, std::string_view extra) {
  std::string out = head_of(status, reason, "text/plain", body.size(), keep_alive, extra);
  if (!head_only) out += body;
  return out;
}

}  // namespace weft_http

namespace {

using namespace weft_http;

using namespace std::chrono_literals;

constexpr std::size_t kHeadLimit = 16 * 1024;    // a longer request head gets 431
constexpr std::size_t kBodyLimit = 1024 * 1024;  // a longer request body gets 413
constexpr std::string_view kHello = "Hello from weft\n";
constexpr std::uint64_t kFilePiece =
    256 * 1024;                               // a file's bytes: each piece within the idle timeout
constexpr std::size_t kTlsChunk = 64 * 1024;  // over TLS: read with pread, then sent

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
    } else if (iequals(name, "range")) {
      r.range = value;
    } else if (iequals(name, "if-range")) {
      r.if_range = value;
    } else if (iequals(name, "if-modified-since")) {
      r.if_modified_since = value;
    }
  }
  return r;
}

// The byte streams HTTP runs over, one type each for serve(): a plain TCP socket and a TLS
// stream. Each has recv (0: the client's clean end), send (all or an error), send_file (a part
// of a file, as long as it moves: each piece within `stall`) and finish (after the last
// answer: the end of the server's side). Their calls are blocking calls, under the scopes
// serve() opens.
class PlainStream {
 public:
  explicit PlainStream(weft::Socket s) noexcept : s_(s) {}
  weft::Result<std::size_t> recv(void* buf, std::size_t len, const weft::CancelToken& token = {}) {
    return weft::recv(s_, buf, len, 0, token);
  }
  weft::Status send(const void* buf, std::size_t len) {
    auto n = weft::send(s_, buf, len);
    return n.ok() ? weft::Status{} : weft::Status(n.error());
  }
  // `len` bytes of `f` from `offset`, with fs::sendfile: from the page cache to the socket.
  // On failure the answer is cut off, so the connection is set to reset when it closes (a
  // piece cut off after moving bytes has reset it already, semantics.md §3): the client never
  // takes a cut-off file, ended by a clean FIN, for a whole one.
  weft::Status send_file(weft::fs::File& f, std::uint64_t offset, std::uint64_t len,
                         std::chrono::milliseconds stall) {
    while (len > 0) {
      weft::CancelScope moving(stall);
      auto n =
          weft::fs::sendfile(s_, f, offset, static_cast<std::size_t>(std::min(len, kFilePiece)));
      if (!n.ok() || *n == 0) {  // 0: the file shrank since its length was announced
        (void)weft::set_linger(s_, std::chrono::seconds(0));
        return n.ok() ? std::make_error_code(std::errc::io_error) : n.error();
      }
      offset += *n;
      len -= *n;
    }
    return {};
  }
  // FIN; the socket closes when its owner, the connection's fiber, ends.
  void finish() { (void)weft::shutdown(s_, weft::Shutdown::send); }

 private:
  weft::Socket s_;
};

class TlsStream {
 public:
  explicit TlsStream(weft::tls::Stream& s) noexcept : s_(s) {}
  weft::Result<std::size_t> recv(void* buf, std::size_t len, const weft::CancelToken& token = {}) {
    return s_.recv(buf, len, token);
  }
  weft::Status send(const void* buf, std::size_t len) { return s_.send(buf, len); }
  // sendfile cannot encrypt: the file's bytes are read with pread, a chunk at a time, and sent
  // through the stream. On failure the stream is set to reset when it closes, without
  // close_notify: a cut-off file never ends cleanly.
  weft::Status send_file(weft::fs::File& f, std::uint64_t offset, std::uint64_t len,
                         std::chrono::milliseconds stall) {
    std::vector<char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(len, kTlsChunk)));
    while (len > 0) {
      weft::CancelScope moving(stall);
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(len, chunk.size()));
      auto n = f.pread(chunk.data(), want, offset);
      weft::Status sent = !n.ok()   ? weft::Status(n.error())
                          : *n == 0 ? weft::Status(std::make_error_code(std::errc::io_error))
                                    : s_.send(chunk.data(), *n);
      if (!sent.ok()) {
        (void)weft::set_linger(s_.socket(), std::chrono::seconds(0));
        return sent;
      }
      offset += *n;
      len -= *n;
    }
    return {};
  }
  // close_notify, then the socket's graceful close.
  void finish() { (void)s_.close(); }

 private:
  weft::tls::Stream& s_;
};

// Writes a last response under a scope of its own: the request's deadline may have passed
// (a 408), and the answer is still worth a short try.
template <class ByteStream>
void answer_and_close(ByteStream& c, int status, std::string_view reason) {
  weft::CancelScope shield(weft::CancelScope::shield);
  weft::CancelScope brief(1s);
  std::string r = response(status, reason, std::string(reason) + "\n", false, false);
  (void)c.send(r.data(), r.size());
  c.finish();
}

// The HTTP of one connection, over a PlainStream or a TlsStream.
template <class ByteStream>
void serve(const Config& config, ByteStream& c) {
  std::string buf(kHeadLimit, '\0');  // on the heap: fiber stacks stay small
  std::size_t have = 0;
  for (;;) {
    if (have == 0) {
      // Between requests: wait for the next one's first bytes, at most the idle timeout,
      // and not past the drain.
      weft::CancelScope idle(config.idle_timeout);
      auto n = c.recv(buf.data(), buf.size(), config.draining);
      if (!n.ok() || *n == 0) return;  // idle, draining, the client's end, or an error
      have = *n;
    }
    bool keep_alive = false;
    weft::fs::File body;  // a file's bytes to send after the head, under --root
    std::uint64_t body_offset = 0, body_length = 0;
    {
      weft::CancelScope deadline(config.request_timeout);
      std::size_t head_end;
      while ((head_end = std::string_view(buf.data(), have).find("\r\n\r\n")) ==
             std::string_view::npos) {
        if (have == buf.size()) return answer_and_close(c, 431, "Request Header Fields Too Large");
        auto n = c.recv(buf.data() + have, buf.size() - have);
        if (!n.ok()) {
          if (n.error() == weft::wsa::etimedout) answer_and_close(c, 408, "Request Timeout");
          return;
        }
        if (*n == 0) return;  // the client went away mid-request
        have += *n;
      }
      // The head's fields point into buf: the request is answered before buf moves.
      Request r = parse(std::string_view(buf.data(), head_end));
      std::size_t consumed = head_end + 4;
      if (r.bad) return answer_and_close(c, 400, "Bad Request");
      if (r.chunked) return answer_and_close(c, 501, "Not Implemented");
      if (r.content_length > kBodyLimit) return answer_and_close(c, 413, "Content Too Large");

      bool head_only = r.method == "HEAD";
      std::string out;
      if (r.method != "GET" && !head_only) {
        out = response(405, "Method Not Allowed", "Method Not Allowed\n", false, r.keep_alive,
                       "Allow: GET, HEAD\r\n");
      } else if (!config.root.empty()) {
        FileReply reply = file_reply(config, r, head_only);
        if (reply.abandon) return answer_and_close(c, 503, "Service Unavailable");
        out = std::move(reply.out);
        body = std::move(reply.file);
        body_offset = reply.offset;
        body_length = reply.length;
      } else if (r.target != "/") {
        out = response(404, "Not Found", "Not Found\n", head_only, r.keep_alive);
      } else {
        out = response(200, "OK", kHello, head_only, r.keep_alive);
      }
      keep_alive = r.keep_alive;

      // A body is read and dropped: nothing here takes one.
      std::size_t request_body = r.content_length;
      std::size_t buffered = std::min(request_body, have - consumed);
      consumed += buffered;
      request_body -= buffered;
      std::memmove(buf.data(), buf.data() + consumed, have - consumed);
      have -= consumed;
      while (request_body > 0) {
        auto n = c.recv(buf.data(), std::min(request_body, buf.size()));
        if (!n.ok() || *n == 0) return;
        request_body -= *n;
      }
      if (!c.send(out.data(), out.size()).ok()) return;
    }
    // A file's bytes go out after the request's deadline: a large file to a slow client takes
    // as long as it takes, as long as it moves (each piece within the idle timeout).
    if (body.is_open() && !c.send_file(body, body_offset, body_length, config.idle_timeout).ok()) {
      return;  // the client went away, or stalled: the connection (and the file) close
    }
    if (!keep_alive) {
      c.finish();
      return;
    }
  }
}

void serve_plain(const Config& config, weft::UniqueSocket conn) {
  PlainStream c(conn.get());
  serve(config, c);
}

// A TLS stream over the connection, its handshake, then HTTP over it. A client that fails the
// handshake (one that does not trust the certificate, speaks no TLS or is too slow) loses its
// connection and nothing else.
void serve_tls(const Config& config, weft::UniqueSocket conn) {
  auto peer = weft::peer_address(conn.get());
  std::string who = peer.ok() ? peer->to_string() : "a client";
  weft::tls::Context ctx = *config.tls;  // a copy shares the context; Stream::server takes one
  auto made = weft::tls::Stream::server(ctx, conn.get());
  if (!made.ok()) {  // the socket is still conn's, which closes it
    weft::get_logger()->warn("weft-http: no TLS stream for {}: {}", who, made.error().message());
    return;
  }
  conn.release();  // the stream owns the socket now, and closes it when it is destroyed
  weft::tls::Stream stream = std::move(*made);
  {
    // Within the request timeout; a drain ends it as it ends an idle wait.
    weft::CancelScope deadline(config.request_timeout);
    if (auto done = stream.handshake(config.draining); !done.ok()) {
      weft::get_logger()->info("weft-http: TLS handshake with {} failed: {}", who,
                               done.error().message());
      return;
    }
  }
  TlsStream c(stream);
  serve(config, c);
}

constexpr const char* kUsage =
    "usage: %s [--host ADDRESS] [--port PORT] [--threads N] [--request-timeout MS]\n"
    "          [--idle-timeout MS] [--tls-cert CHAIN.pem --tls-key KEY.pem] [--root DIR]\n"
    "          [--debug-port PORT]\n";

int help(const char* argv0) {
  std::printf(kUsage, argv0);
  std::printf(
      "\nA small HTTP/1.1 server: keep-alive, pipelining, GET and HEAD.\n"
      "  --host ADDRESS         numeric IPv4 or IPv6 address to listen on (127.0.0.1)\n"
      "  --port PORT            port to listen on, 0 for any free one (8080)\n"
      "  --threads N            runtimes, one thread each (1)\n"
      "  --request-timeout MS   a request's head and its answer's head must fit in it (5000)\n"
      "  --idle-timeout MS      a kept-alive connection's wait for its next request, and the\n"
      "                         longest a piece of a file may take to leave (30000)\n"
      "  --tls-cert CHAIN.pem   with --tls-key: HTTPS with this certificate chain and key\n"
      "  --tls-key KEY.pem\n"
      "  --root DIR             serve the files under DIR (index.html, else a listing, for a\n"
      "                         directory; Range and If-Modified-Since; nothing outside DIR);\n"
      "                         without it, / answers a greeting and other paths 404\n"
      "  --debug-port PORT      serve /debug/fibers, /debug/fibers.json and /metrics on\n"
      "                         127.0.0.1:PORT, 0 for any free one (none without it)\n"
      "SIGINT or SIGTERM drains the server: requests in flight finish, then it exits 0.\n"
      "SIGQUIT prints every fiber and what it waits on to standard error; the server goes on.\n");
  return 0;
}

// A bad command line: what is wrong, then the usage; exit status 2.
int usage(const char* argv0, const std::string& what) {
  std::fprintf(stderr, "weft-http: %s\n", what.c_str());
  std::fprintf(stderr, kUsage, argv0);
  return 2;
}

bool can_open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f) std::fclose(f);
  return f != nullptr;
}

// The HTTPS context of --tls-cert and --tls-key, ALPN accepting HTTP/1.1 alone; nullopt with a
// one-line message naming the file at fault.
std::optional<weft::tls::Context> tls_context(const std::string& cert, const std::string& key) {
  weft::tls::Options o;
  o.certificate_chain_file = cert;
  o.private_key_file = key;
  o.alpn = {"http/1.1"};
  auto ctx = weft::tls::Context::server(o);
  if (ctx.ok()) return std::move(*ctx);
  // OpenSSL reads the chain, then the key: the first that does not open is the one at fault;
  // if both open, their contents are (not PEM, or a key that is not the certificate's).
  std::string reason = ctx.error().message();
  bool cert_opens = can_open(cert);
  if (!cert_opens || !can_open(key)) {
    std::fprintf(stderr, "weft-http: %s: %s\n", (cert_opens ? key : cert).c_str(), reason.c_str());
  } else {
    std::fprintf(stderr, "weft-http: cannot use certificate %s with key %s: %s\n", cert.c_str(),
                 key.c_str(), reason.c_str());
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", tls_cert, tls_key, root;
  long port = 8080, threads = 1, request_ms = 5000, idle_ms = 30000, debug_port = -1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") return help(argv[0]);
    const bool takes_value = a == "--host" || a == "--port" || a == "--threads" ||
                             a == "--request-timeout" || a == "--idle-timeout" ||
                             a == "--tls-cert" || a == "--tls-key" || a == "--root" ||
                             a == "--debug-port";
    if (!takes_value) return usage(argv[0], "unknown option " + std::string(a));
    if (i + 1 == argc || !*argv[i + 1]) return usage(argv[0], std::string(a) + " needs a value");
    const char* v = argv[++i];
    if (a == "--host") {
      host = v;
    } else if (a == "--port") {
      if (!parse_number(v, 0, 65535, &port)) return usage(argv[0], "--port: 0 to 65535");
    } else if (a == "--threads") {
      if (!parse_number(v, 1, 1024, &threads)) return usage(argv[0], "--threads: 1 to 1024");
    } else if (a == "--request-timeout") {
      if (!parse_number(v, 1, 86'400'000, &request_ms)) {
        return usage(argv[0], "--request-timeout: milliseconds, 1 to 86400000");
      }
    } else if (a == "--idle-timeout") {
      if (!parse_number(v, 1, 86'400'000, &idle_ms)) {
        return usage(argv[0], "--idle-timeout: milliseconds, 1 to 86400000");
      }
    } else if (a == "--debug-port") {
      if (!parse_debug_port(v, &debug_port)) return usage(argv[0], "--debug-port: 0 to 65535");
    } else if (a == "--tls-cert") {
      tls_cert = v;
    } else if (a == "--tls-key") {
      tls_key = v;
    } else {
      root = v;
    }
  }
  auto address = weft::Address::parse(host, static_cast<std::uint16_t>(port));
  if (!address.ok()) {
    std::fprintf(stderr, "weft-http: %s is not a numeric IPv4 or IPv6 address\n", host.c_str());
    return 2;
  }
  if (tls_cert.empty() != tls_key.empty()) {
    std::fprintf(stderr, "weft-http: --tls-cert and --tls-key go together\n");
    return 2;
  }
  if (!root.empty()) {
    // Once, before serving: the root's real path, which every file served must lie under.
    char* real = ::realpath(root.c_str(), nullptr);
    struct stat st {};
    if (!real || ::stat(real, &st) != 0) {
      std::fprintf(stderr, "weft-http: --root %s: %s\n", root.c_str(), std::strerror(errno));
      std::free(real);
      return 2;
    }
    if (!S_ISDIR(st.st_mode)) {
      std::fprintf(stderr, "weft-http: --root %s: not a directory\n", root.c_str());
      std::free(real);
      return 2;
    }
    root = real;
    std::free(real);
  }
  std::optional<weft::tls::Context> tls;
  if (!tls_cert.empty()) {
    tls = tls_context(tls_cert, tls_key);
    if (!tls) return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);

  weft::RuntimeGroup group(static_cast<std::size_t>(threads));
  weft::CancelSource draining;
  Config config{std::chrono::milliseconds(request_ms), std::chrono::milliseconds(idle_ms),
                draining.token(), std::move(tls), root};
  auto at = group.serve(*address, [&config](weft::UniqueSocket c) {
    if (config.tls) {
      serve_tls(config, std::move(c));
    } else {
      serve_plain(config, std::move(c));
    }
  });
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
  // The operator's view, from runtime 0; it ends with the drain. A debug port that cannot be
  // had ends the server.
  Operations operations(draining.token());
  bool operations_failed = false;
  (void)group[0].spawn([&] {
    if (operations.start("weft-http", debug_port)) return;
    operations_failed = true;
    group.stop();
  });
  if (config.root.empty()) {
    std::printf("weft-http: listening on %s://%s/\n", config.tls ? "https" : "http",
                at->to_string().c_str());
  } else {
    std::printf("weft-http: listening on %s://%s/ (files under %s)\n",
                config.tls ? "https" : "http", at->to_string().c_str(), config.root.c_str());
  }
  std::fflush(stdout);
  auto ran = group.run();
  if (operations_failed) return 1;
  if (!ran.ok()) {
    std::fprintf(stderr, "weft-http: %s\n", ran.error().message().c_str());
    return 1;
  }
  std::printf("weft-http: stopped\n");
  return 0;
}
