// weft-http's parts (http_server.cpp: the server; http_files.cpp: the files under --root):
// the server's settings, a parsed request, and what a GET or HEAD under the root answers.
#pragma once

#include <weft/weft.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft_http {

struct Config {
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds idle_timeout{30000};
  weft::CancelToken draining;
  std::optional<weft::tls::Context> tls;  // HTTPS: the server's certificate, key and ALPN
  std::string root;                       // --root, as a real path; empty: the greeting alone
};

struct Request {
  std::string_view method;
  std::string_view target;
  bool http11 = false;
  bool keep_alive = false;
  bool chunked = false;
  std::size_t content_length = 0;
  std::string_view range, if_range, if_modified_since;
  bool bad = false;
};

// ASCII letters compared without case (header names, tokens, "bytes=").
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// v without the spaces and tabs at its ends.
inline std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// A response's head. `type` and `length` are left out when empty (a 304 has neither).
std::string head_of(int status, std::string_view reason, std::string_view type,
                    std::optional<std::uint64_t> length, bool keep_alive,
                    std::string_view extra = {});
// A response with a short text body (its head alone for a HEAD).
std::string response(int status, std::string_view reason, std::string_view body, bool head_only,
                     bool keep_alive, std::string_view extra = {});

// What a GET or HEAD under --root answers: the head (with a short body, when it has one) in
// `out`, and for a file's bytes the open file and the part of it that follows the head.
struct FileReply {
  std::string out;
  weft::fs::File file;  // open when bytes of it follow
  std::uint64_t offset = 0, length = 0;
  bool abandon = false;  // a pool call was cut short (the deadline passed, stop): 503, close
};

FileReply file_reply(const Config& config, const Request& r, bool head_only);

}  // namespace weft_http
