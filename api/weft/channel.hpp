// weft — channels between fibers and threads (semantics.md §8): rendezvous, bounded and
// unbounded; many producers and many consumers; close.
//
// A Channel<T> is a cheap-to-copy handle: copies refer to the same channel, which lives while
// any handle does. Like every weft primitive it may be shared by fibers of different runtimes
// and by plain OS threads (weft/sync.hpp, "Anywhere"); senders and receivers are each served in
// arrival order, and a value sent to a waiting receiver is handed to it directly.
//
// Cancellation: send and recv are blocking calls, cancelled by every source (WSAEINTR,
// WSAETIMEDOUT, WSAENETDOWN at stop, WSAEINPROGRESS inside a blocking hook or a message).
//   * A cancelled send enqueued nothing: the value is still the caller's, unchanged. On any
//     error, send leaves the value untouched; it is moved from only when the send succeeds.
//   * A cancelled recv removed nothing: a value a racing sender delivered first is the call's
//     result (the race rule), and any other stays for the next receiver.
// close(): every waiting and later send fails WSAESHUTDOWN with its value left to the caller;
// receivers drain what is buffered, then every recv fails WSAESHUTDOWN.
// The try_ forms never wait: WSAEWOULDBLOCK where the blocking form would wait. A rendezvous
// channel's try_send succeeds when a receiver is waiting, its try_recv when a sender is.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

// A channel's capacity without a limit.
inline constexpr std::size_t unbounded = static_cast<std::size_t>(-1);

template <class T>
class Channel;
class Waitable;
template <class T>
Waitable on_recv(Channel<T>& ch, std::optional<T>& out);
template <class T>
Waitable on_send(Channel<T>& ch, T& value);

namespace detail {
// What the library's channel core (runtime/primitives.hpp) does with a channel's values,
// whose type only the template knows. Each runs under the channel's lock.
struct ChannelOps {
  // Moves *value onto the back of the buffer; false (value untouched) if memory ran out.
  bool (*push)(void* buffer, void* value) noexcept;
  // Moves the buffer's front into *out (a std::optional<T>) and drops it.
  void (*pop)(void* buffer, void* out) noexcept;
  // Moves *value into *out (a std::optional<T>).
  void (*give)(void* value, void* out) noexcept;
};
// The room a channel keeps for the library's core (checked where the core is defined).
inline constexpr std::size_t kChannelCoreSize = 80;

WEFT_API void channel_init(void* core, std::size_t capacity, const ChannelOps* ops,
                           void* buffer) noexcept;
WEFT_API void channel_destroy(void* core) noexcept;
// wait false: the try_ form.
WEFT_API Status channel_send(void* core, void* value, bool wait, const CancelToken& token);
WEFT_API Status channel_recv(void* core, void* out, bool wait, const CancelToken& token);
WEFT_API void channel_close(void* core) noexcept;
WEFT_API bool channel_closed(const void* core) noexcept;
WEFT_API std::size_t channel_size(const void* core) noexcept;

template <class T>
struct ChannelShared {
  explicit ChannelShared(std::size_t capacity) noexcept {
    channel_init(core, capacity, &ops, &buffer);
  }
  ~ChannelShared() { channel_destroy(core); }
  ChannelShared(const ChannelShared&) = delete;
  ChannelShared& operator=(const ChannelShared&) = delete;

  static constexpr ChannelOps ops = {
      [](void* buffer, void* value) noexcept -> bool {
        try {
          static_cast<std::deque<T>*>(buffer)->push_back(std::move(*static_cast<T*>(value)));
          return true;
        } catch (...) {
          return false;
        }
      },
      [](void* buffer, void* out) noexcept {
        auto* b = static_cast<std::deque<T>*>(buffer);
        static_cast<std::optional<T>*>(out)->emplace(std::move(b->front()));
        b->pop_front();
      },
      [](void* value, void* out) noexcept {
        static_cast<std::optional<T>*>(out)->emplace(std::move(*static_cast<T*>(value)));
      },
  };

  alignas(void*) unsigned char core[kChannelCoreSize];
  std::deque<T> buffer;
};
}  // namespace detail

template <class T>
class Channel {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "a channel moves values under its lock: T's move constructor must not throw");

 public:
  // capacity 0: a rendezvous (a send waits for a receiver); weft::unbounded: no limit.
  // std::bad_alloc if the channel cannot be allocated.
  explicit Channel(std::size_t capacity)
      : s_(std::make_shared<detail::ChannelShared<T>>(capacity)) {}

  // Waits for room (or a receiver). On any error the value is untouched.
  Status send(T&& value, const CancelToken& token = {}) {
    return detail::channel_send(s_->core, std::addressof(value), true, token);
  }
  Status try_send(T&& value) {
    return detail::channel_send(s_->core, std::addressof(value), false, CancelToken());
  }
  // Waits for a value; WSAESHUTDOWN once the channel is closed and drained.
  Result<T> recv(const CancelToken& token = {}) {
    std::optional<T> out;
    Status st = detail::channel_recv(s_->core, &out, true, token);
    if (!st.ok()) return st.error();
    return std::move(*out);
  }
  Result<T> try_recv() {
    std::optional<T> out;
    Status st = detail::channel_recv(s_->core, &out, false, CancelToken());
    if (!st.ok()) return st.error();
    return std::move(*out);
  }
  // Ends the channel for senders (never blocks; safe from any thread). Idempotent.
  void close() noexcept { detail::channel_close(s_->core); }
  bool closed() const noexcept { return detail::channel_closed(s_->core); }
  // The values buffered now (0 for a rendezvous channel).
  std::size_t size() const noexcept { return detail::channel_size(s_->core); }

 private:
  template <class U>
  friend Waitable on_recv(Channel<U>& ch, std::optional<U>& out);
  template <class U>
  friend Waitable on_send(Channel<U>& ch, U& value);

  std::shared_ptr<detail::ChannelShared<T>> s_;
};

}  // namespace weft
