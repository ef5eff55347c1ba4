// weft::detail — the one place where errno becomes a weft error.
#pragma once

#include <weft/error.hpp>

namespace weft::detail {

// Translates an errno value (from a syscall or a negated libuv code) to the "wsa" category.
// Values with no Winsock counterpart keep their generic std::errc meaning.
std::error_code errno_to_error(int err) noexcept;
// Translates a libuv status: a negated errno as errno_to_error does, a UV_EAI_* resolver code
// to the code Winsock's getaddrinfo gives (WSAHOST_NOT_FOUND, WSATRY_AGAIN, ...). The only
// translation of resolver failures.
std::error_code uv_to_error(int uv_status) noexcept;
// An errno value as itself, in the generic category: what the file system and process calls
// return for what Winsock has no code for (semantics.md §7: a missing file, a permission).
inline std::error_code generic_error(int err) noexcept { return {err, std::generic_category()}; }

// An error or none: what the checks on every call's fast path return. Making "none" costs
// nothing, where a default std::error_code is a call into the standard library
// (std::system_category). Tests like std::error_code (true when there is an error) and
// converts to std::error_code, and to any Result, where the public call returns it:
// `if (auto e = sock_lookup(h, r)) return e;`.
class Err {
 public:
  constexpr Err() noexcept = default;
  constexpr Err(wsa e) noexcept : code_(static_cast<int>(e)) {}  // NOLINT
  explicit Err(const std::error_code& ec) noexcept
      : code_(ec.value()), other_(ec.category() == wsa_category() ? nullptr : &ec.category()) {}
  explicit constexpr operator bool() const noexcept { return code_ != 0; }
  std::error_code error() const noexcept {
    if (code_ == 0) return {};
    return {code_, other_ ? *other_ : wsa_category()};
  }
  constexpr bool is(wsa e) const noexcept { return !other_ && code_ == static_cast<int>(e); }

 private:
  int code_ = 0;                                // 0: no error
  const std::error_category* other_ = nullptr;  // the category when it is not "wsa"
};

inline std::error_code make_error_code(Err e) noexcept { return e.error(); }

}  // namespace weft::detail

template <>
struct std::is_error_code_enum<weft::detail::Err> : std::true_type {};
