// weft::detail — the one place where errno becomes a weft error.
#pragma once

#include <weft/error.hpp>

namespace weft::detail {

// Translates an errno value (from a syscall or a negated libuv code) to the "wsa" category.
// Values with no Winsock counterpart keep their generic std::errc meaning.
std::error_code errno_to_error(int err) noexcept;
std::error_code uv_to_error(int uv_status) noexcept;

}  // namespace weft::detail
