// weft — errors: Winsock's numbers in weft's own "wsa" error category, and Result<T>.
//
// Every weft call that can fail reports a std::error_code in the "wsa" category. Each code
// keeps its Winsock number (WSAEINTR is 10004) and maps to the portable std::errc condition,
// so both spellings work:
//
//     if (r.error() == weft::wsa::eintr) ...
//     if (r.error() == std::errc::interrupted) ...
//
// Expected failures never throw; they come back in a Result.
#pragma once

#include <weft/config.hpp>

#include <cstdlib>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

namespace weft {

// The error codes of semantics.md §7, with their Winsock values: those of the socket calls
// and the runtime, and Winsock's four codes for a failed name lookup (getaddrinfo's EAI_*
// codes, as ws2tcpip.h maps them).
enum class wsa : int {
  eintr = 10004,           // the call was cancelled
  efault = 10014,          // null or invalid buffer / out pointer
  einval = 10022,          // bad argument, wrong state, nothing to cancel, not in a fiber
  emfile = 10024,          // descriptor limit
  ewouldblock = 10035,     // a non-blocking call would block
  einprogress = 10036,     // a blocking call from a hook or message of a blocked fiber
  enotsock = 10038,        // invalid, closed or stale handle
  emsgsize = 10040,        // a datagram was larger than the buffer (it was truncated)
  enoprotoopt = 10042,     // unknown or unsupported socket option
  eopnotsupp = 10045,      // operation not supported on this kind of socket
  eafnosupport = 10047,    // address family not supported (or not the socket's)
  eaddrinuse = 10048,      //
  eaddrnotavail = 10049,   // the address is not available on this machine
  enetdown = 10050,        // the runtime is stopping or stopped
  enetunreach = 10051,     //
  econnaborted = 10053,    // the socket was reset after a cancel
  econnreset = 10054,      // the peer reset the connection
  enobufs = 10055,         // out of memory for a fiber stack or a buffer
  eisconn = 10056,         // the socket is already connected
  enotconn = 10057,        //
  eshutdown = 10058,       // send after shutdown
  etimedout = 10060,       // a deadline expired
  econnrefused = 10061,    //
  ehostunreach = 10065,    //
  host_not_found = 11001,  // resolve: no such host is known (EAI_NONAME)
  try_again = 11002,       // resolve: no answer from the name service, perhaps for now (EAI_AGAIN)
  no_recovery = 11003,     // resolve: the name service failed for good (EAI_FAIL)
  no_data = 11004,         // resolve: the name is known but has no address of the kind asked for
};

// The "wsa" category. Its name() is "wsa"; message() gives the Winsock text;
// default_error_condition() maps to std::errc where one exists. Always the same object, and
// declared so (`const`, as libstdc++ declares std::system_category): a compiler may then
// merge or drop calls to it.
WEFT_CONST WEFT_API const std::error_category& wsa_category() noexcept;

inline std::error_code make_error_code(wsa e) noexcept {
  return {static_cast<int>(e), wsa_category()};
}

}  // namespace weft

template <>
struct std::is_error_code_enum<weft::wsa> : std::true_type {};

namespace weft {

namespace detail {
[[noreturn]] WEFT_API void result_access_failed(const std::error_code& ec) noexcept;
}

// GCC cannot see that value_ is only read when ok_ is set (a known false positive with
// unions, as with std::optional).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// A value or an error, for C++20 (no std::expected yet). Cheap to move; never throws on its
// own. Reading value() of an error Result is a programming error: it aborts with the error's
// message, as reading an empty std::optional with operator* would be undefined.
//
// The value and the error share their storage, so a success never makes a std::error_code
// (whose default construction is a call into the standard library).
template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(true) {  // NOLINT
    ::new (static_cast<void*>(&value_)) T(std::move(value));
  }
  Result(std::error_code ec) noexcept : ok_(false), ec_(ec) {}     // NOLINT
  Result(wsa e) noexcept : ok_(false), ec_(make_error_code(e)) {}  // NOLINT
  // Any other error code enum (std::io_errc, ...), as std::error_code takes it.
  template <class E, std::enable_if_t<std::is_error_code_enum_v<E>, int> = 0>
  Result(E e) noexcept : Result(std::error_code(e)) {}  // NOLINT

  Result(const Result& o) noexcept(std::is_nothrow_copy_constructible_v<T>) : ok_(o.ok_) {
    if (ok_) ::new (static_cast<void*>(&value_)) T(o.value_);
    else ::new (static_cast<void*>(&ec_)) std::error_code(o.ec_);
  }
  Result(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(o.ok_) {
    if (ok_) ::new (static_cast<void*>(&value_)) T(std::move(o.value_));
    else ::new (static_cast<void*>(&ec_)) std::error_code(o.ec_);
  }
  Result& operator=(Result o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (ok_) value_.~T();
    ok_ = o.ok_;
    if (ok_) ::new (static_cast<void*>(&value_)) T(std::move(o.value_));
    else ::new (static_cast<void*>(&ec_)) std::error_code(o.ec_);
    return *this;
  }
  ~Result() {
    if (ok_) value_.~T();
  }

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  // The error; a default (zero) error_code when ok().
  std::error_code error() const noexcept { return ok_ ? std::error_code() : ec_; }

  T& value() & noexcept {
    check();
    return value_;
  }
  const T& value() const& noexcept {
    check();
    return value_;
  }
  T&& value() && noexcept {
    check();
    return std::move(value_);
  }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }
  template <class U>
  T value_or(U&& fallback) const& {
    return ok_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void check() const noexcept {
    if (!ok_) detail::result_access_failed(ec_);
  }

  bool ok_;
  union {
    T value_;
    std::error_code ec_;
  };
};

// Success or an error. Success holds no std::error_code (see Result<T>): an error's value
// and category are kept apart, the category null on success.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() noexcept = default;
  Result(std::error_code ec) noexcept  // NOLINT
      : code_(ec.value()), cat_(ec.value() != 0 ? &ec.category() : nullptr) {}
  Result(wsa e) noexcept  // NOLINT
      : code_(static_cast<int>(e)), cat_(code_ != 0 ? &wsa_category() : nullptr) {}
  template <class E, std::enable_if_t<std::is_error_code_enum_v<E>, int> = 0>
  Result(E e) noexcept : Result(std::error_code(e)) {}  // NOLINT

  bool ok() const noexcept { return cat_ == nullptr; }
  explicit operator bool() const noexcept { return ok(); }
  // The error; a default (zero) error_code when ok().
  std::error_code error() const noexcept {
    return cat_ ? std::error_code(code_, *cat_) : std::error_code();
  }
  // Aborts with the error's message unless ok(); for code that treats failure as fatal.
  void value() const noexcept {
    if (cat_) detail::result_access_failed(error());
  }

 private:
  int code_ = 0;
  const std::error_category* cat_ = nullptr;
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

using Status = Result<void>;

}  // namespace weft
