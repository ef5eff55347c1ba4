// What every file of the Winsock-SPI-shaped C ABI uses: handles across the ABI and failures
// as Winsock reports them (an error number through the caller's pointer, and SOCKET_ERROR or
// WSA_WAIT_FAILED). Internal; not installed.
#pragma once

#include "weft/wsp.h"

#include <weft/weft.hpp>

#include <cstdint>
#include <system_error>

namespace weft::detail::wsp::common {

using weft::Socket;
using weft::wsa;

// ec's Winsock number, or WSAEINVAL for a code of another category.
inline int code_of(std::error_code ec) noexcept {
  return ec.category() == weft::wsa_category() ? ec.value() : WSAEINVAL;
}
// Stores the code (ec's Winsock number) and returns SOCKET_ERROR.
inline int fail(int* err, int code) noexcept {
  *err = code;
  return SOCKET_ERROR;
}
inline int fail(int* err, std::error_code ec) noexcept { return fail(err, code_of(ec)); }
// The same for WSAWaitForMultipleEvents: WSA_WAIT_FAILED.
inline unsigned fail_wait(int* err, int code) noexcept {
  *err = code;
  return WSA_WAIT_FAILED;
}

inline Socket to_socket(WEFT_SOCKET s) noexcept {
  return static_cast<Socket>(static_cast<std::uint64_t>(s));
}
inline WEFT_SOCKET from_socket(Socket s) noexcept {
  return static_cast<WEFT_SOCKET>(static_cast<std::uint64_t>(s));
}

inline bool in_fiber() noexcept { return weft::this_fiber::id() != weft::FiberId::none; }

}  // namespace weft::detail::wsp::common
