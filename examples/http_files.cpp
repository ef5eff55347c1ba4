// weft-http's files under --root (http_server.cpp says what it answers): the path from the
// request's target, the file opened on libuv's pool and checked to lie under the root, its
// type, dates and ranges, and a directory's listing.
#include "http.hpp"

#include <weft/weft.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <climits>
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
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The path of a request target (origin form "/a/b?q", or absolute form "http://h/a/b"),
// percent-decoded; nullopt when malformed (no leading '/', a bad escape, a NUL).
std::optional<std::string> decoded_path(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
      std::size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target[0] != '/') return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      if (target[i] == '\0') return std::nullopt;
      out += target[i];
      continue;
    }
    if (i + 2 >= target.size()) return std::nullopt;
    int hi = hex_digit(target[i + 1]), lo = hex_digit(target[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// The names of a decoded path joined again ("/a/b"; "" for the root itself), without empty
// and "." names; false for a path with a ".." name: refused, whatever it would resolve to.
bool clean_names(std::string_view path, std::string* names) {
  names->clear();
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view name = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (name == "..") return false;
    if (name.empty() || name == ".") continue;
    *names += '/';
    *names += name;
  }
  return true;
}

// Whether the real path `real` is `root` or lies under it.
bool under_root(std::string_view real, std::string_view root) {
  if (real.size() < root.size() || real.substr(0, root.size()) != root) return false;
  return real.size() == root.size() || root.back() == '/' || real[root.size()] == '/';
}

struct Opened {
  weft::fs::File file;
  weft::fs::Stat stat;
};

// Opens `path` for reading if what opens lies under `root`. open(2) follows symbolic links,
// so the check is made on the file that opened: its real path, which the kernel gives for its
// descriptor (/proc/self/fd/N), read on the pool like the open. A link that leads outside, or
// a directory swapped for one meanwhile, is caught there. O_NONBLOCK: a FIFO does not hold
// the open until a writer comes (it is refused as not regular, after). Errors: open's and
// stat's (std::errc values), the pool calls' (WSAETIMEDOUT when the request's deadline
// passes, ...), and permission_denied for a file outside the root.
weft::Result<Opened> open_under_root(const std::string& root, const std::string& path) {
  auto f = weft::fs::File::open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!f.ok()) return f.error();
  const int fd = f->native_handle();
  auto real = weft::offload([fd] {
    char buf[PATH_MAX];
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    return n > 0 && static_cast<std::size_t>(n) < sizeof buf ? std::string(buf, n) : std::string();
  });
  if (!real.ok()) return real.error();
  if (!under_root(*real, root)) return std::make_error_code(std::errc::permission_denied);
  auto st = f->stat();
  if (!st.ok()) return st.error();
  return Opened{std::move(*f), *st};
}

std::string_view content_type(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"txt", "text/plain; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"pdf", "application/pdf"},
      {"wasm", "application/wasm"},
      {"mp4", "video/mp4"},
      {"mp3", "audio/mpeg"},
      {"zip", "application/zip"},
      {"gz", "application/gzip"},
      {"tar", "application/x-tar"},
  };
  std::size_t dot = name.rfind('.');
  if (dot != std::string_view::npos && name.find('/', dot) == std::string_view::npos) {
    std::string_view ext = name.substr(dot + 1);
    for (const auto& [e, type] : kTypes) {
      if (iequals(ext, e)) return type;
    }
  }
  return "application/octet-stream";
}

// An HTTP date (IMF-fixdate), and back: nullopt when the text is not one.
std::string http_date(std::int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  std::string s(text);
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end) return std::nullopt;
  return static_cast<std::int64_t>(::timegm(&tm));
}

bool parse_digits(std::string_view text, std::uint64_t* out) {
  if (text.empty() || text.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

enum class RangeIs { whole, part, unsatisfiable };

// A Range header against a file of `size` bytes: one range of bytes ("bytes=A-B", "A-",
// "-N") is served; several, another unit or a malformed one get the whole file, as RFC 9110
// allows.
RangeIs parse_range(std::string_view spec, std::uint64_t size, std::uint64_t* first,
                    std::uint64_t* last) {
  spec = trim(spec);
  if (spec.size() < 6 || !iequals(spec.substr(0, 6), "bytes=")) return RangeIs::whole;
  spec = trim(spec.substr(6));
  std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) {
    return RangeIs::whole;
  }
  std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  std::uint64_t start, end;
  if (a.empty()) {  // the last N bytes
    if (!parse_digits(b, &end)) return RangeIs::whole;
    if (end == 0 || size == 0) return RangeIs::unsatisfiable;
    *first = size - std::min(end, size);
    *last = size - 1;
    return RangeIs::part;
  }
  if (!parse_digits(a, &start)) return RangeIs::whole;
  if (!b.empty() && (!parse_digits(b, &end) || end < start)) return RangeIs::whole;
  if (start >= size) return RangeIs::unsatisfiable;
  *first = start;
  *last = b.empty() ? size - 1 : std::min(end, size - 1);
  return RangeIs::part;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// A name as it goes into a link: percent-encoded but for the unreserved characters.
std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A directory's listing: its entries by name, each a link; a subdirectory's with a final '/'.
std::string listing(std::string_view path, std::vector<weft::fs::DirEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  const std::string title = "Index of " + html_escape(path);
  std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
                    "</title></head>\n<body><h1>" + title + "</h1>\n<ul>\n";
  if (path != "/") out += "<li><a href=\"../\">../</a></li>\n";
  for (const auto& e : entries) {
    const bool dir = e.type == weft::fs::EntryType::directory;
    const std::string slash = dir ? "/" : "";
    out += "<li><a href=\"" + url_escape(e.name) + slash + "\">" + html_escape(e.name) + slash +
           "</a></li>\n";
  }
  out += "</ul></body></html>\n";
  return out;
}

}  // namespace

FileReply file_reply(const Config& config, const Request& r, bool head_only) {
  FileReply reply;
  auto plain = [&](int status, std::string_view reason, std::string_view extra = {}) {
    reply.out =
        response(status, reason, std::string(reason) + "\n", head_only, r.keep_alive, extra);
    return std::move(reply);
  };
  auto failed = [&](std::error_code e) {
    if (e == std::errc::no_such_file_or_directory || e == std::errc::not_a_directory ||
        e == std::errc::filename_too_long) {
      return plain(404, "Not Found");
    }
    if (e == std::errc::permission_denied || e == std::errc::operation_not_permitted ||
        e == std::errc::too_many_symbolic_link_levels) {
      return plain(403, "Forbidden");
    }
    if (e.category() == weft::wsa_category()) {  // the call's own end: deadline, stop, ...
      reply.abandon = true;
      return std::move(reply);
    }
    weft::get_logger()->warn("weft-http: {}: {}", r.target, e.message());
    return plain(500, "Internal Server Error");
  };

  auto path = decoded_path(r.target);
  if (!path) return plain(400, "Bad Request");
  std::string names;
  if (!clean_names(*path, &names)) return plain(403, "Forbidden");
  auto opened = open_under_root(config.root, config.root + names);
  if (!opened.ok()) return failed(opened.error());
  Opened target = std::move(*opened);
  std::string name = names;
  if (target.stat.is_directory()) {
    if (path->back() != '/') {  // "/dir" → "/dir/": links in its page are relative to it
      std::string_view raw = r.target;
      std::size_t query = raw.find('?');
      std::string location(raw.substr(0, query));
      location += '/';
      if (query != std::string_view::npos) location += raw.substr(query);
      return plain(301, "Moved Permanently", "Location: " + location + "\r\n");
    }
    auto index = open_under_root(config.root, config.root + names + "/index.html");
    if (index.ok() && index->stat.is_regular()) {
      target = std::move(*index);
      name += "/index.html";
    } else if (!index.ok() && index.error() != std::errc::no_such_file_or_directory) {
      return failed(index.error());
    } else {
      // The listing of the directory that opened (and was checked), through its descriptor.
      auto entries =
          weft::fs::readdir("/proc/self/fd/" + std::to_string(target.file.native_handle()));
      if (!entries.ok()) return failed(entries.error());
      std::string body = listing(*path, std::move(*entries));
      reply.out = head_of(200, "OK", "text/html; charset=utf-8", body.size(), r.keep_alive);
      if (!head_only) reply.out += body;
      return reply;
    }
  }
  if (!target.stat.is_regular()) return plain(403, "Forbidden");  // a FIFO, a device, a socket

  const std::uint64_t size = target.stat.size;
  const std::int64_t mtime = target.stat.mtime_ns / 1'000'000'000;
  const std::string modified = http_date(mtime);
  std::string extra = "Last-Modified: " + modified + "\r\nAccept-Ranges: bytes\r\n";
  if (!r.if_modified_since.empty() && r.range.empty()) {
    auto since = parse_http_date(r.if_modified_since);
    if (since && mtime <= *since) {
      reply.out = head_of(304, "Not Modified", {}, std::nullopt, r.keep_alive,
                          "Last-Modified: " + modified + "\r\n");
      return reply;
    }
  }
  int status = 200;
  std::uint64_t first = 0, last = size == 0 ? 0 : size - 1;
  if (!r.range.empty() && (r.if_range.empty() || trim(r.if_range) == modified)) {
    switch (parse_range(r.range, size, &first, &last)) {
      case RangeIs::whole: break;
      case RangeIs::unsatisfiable:
        return plain(416, "Range Not Satisfiable",
                     "Content-Range: bytes */" + std::to_string(size) + "\r\n");
      case RangeIs::part:
        status = 206;
        extra += "Content-Range: bytes " + std::to_string(first) + "-" + std::to_string(last) +
                 "/" + std::to_string(size) + "\r\n";
        break;
    }
  }
  const std::uint64_t length = status == 206 ? last - first + 1 : size;
  reply.out = head_of(status, status == 206 ? "Partial Content" : "OK", content_type(name), length,
                      r.keep_alive, extra);
  if (!head_only && length > 0) {
    reply.file = std::move(target.file);
    reply.offset = first;
    reply.length = length;
  }
  return reply;
}

}  // namespace weft_http
