#include <weft/stop_token.hpp>

#include "cancel_state.hpp"

#include <memory>

namespace weft {
namespace {

struct RequestCancel {
  detail::CancelState* state;
  void operator()() const noexcept { (void)state->request(CancelReason::cancelled); }
};

}  // namespace

CancelToken to_cancel_token(std::stop_token st) {
  if (!st.stop_possible()) return {};
  CancelSource source;
  CancelToken token = source.token();
  detail::CancelState* state = detail::CancelState::of(token);
  // Owned by the token's state (never the reverse), and counted as something that can still
  // cancel it once the source above is gone: it runs inline if a stop was already requested,
  // and its destructor waits for a run in progress on another thread.
  state->attach(
      std::make_shared<std::stop_callback<RequestCancel>>(std::move(st), RequestCancel{state}));
  return token;
}

}  // namespace weft
