// weft — std::stop_token to CancelToken.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>

#include <stop_token>

namespace weft {

// A CancelToken that is cancelled (WSAEINTR) when a stop is requested on `st` — at once if
// one already was. A stop_token that can never stop gives a default token. The bridge (a
// std::stop_callback) lives as long as the returned token's state, so the token may be
// copied, stored and used in a CancelScope freely.
WEFT_API CancelToken to_cancel_token(std::stop_token st);

}  // namespace weft
