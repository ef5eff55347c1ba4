#include "weft/stop_token.hpp"

#include <memory>

namespace weft {
namespace {

struct RequestCancel {
  detail::CancelState* state;
  void operator()() const noexcept { (void)detail::cancel_state_request(state, false); }
};

}  // namespace

CancelToken to_cancel_token(std::stop_token st) {
  if (!st.stop_possible()) return {};
  CancelSource source;
  CancelToken token = source.token();
  // Owned by the token's state (never the reverse): it runs inline if a stop was already
  // requested, and its destructor waits for a run in progress on another thread.
  auto bridge = std::make_shared<std::stop_callback<RequestCancel>>(std::move(st),
                                                                     RequestCancel{token.state()});
  detail::cancel_state_attach(token.state(), std::move(bridge));
  return token;
}

}  // namespace weft
