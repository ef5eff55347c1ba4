// weft — channels between fibers and threads (semantics.md §8): rendezvous, bounded and
// unbounded; many producers and many consumers; close.
//
// A Channel<T> is a cheap-to-copy handle: copies refer to the same channel, which lives while
// any handle does. Like every weft primitive it may be shared by fibers of different runtimes
// and by plain OS threads (weft/sync.hpp, "Anywhere"); senders and receivers are each served in
// arrival order, and a value sent to a waiting receiver is handed to it directly.
//
// Across threads: a send that finds a buffered channel full, or a recv that finds it empty,
// while the other side was last seen on another thread (another runtime, a plain thread),
// watches the buffer for up to a microsecond before it parks, so that a stream between two
// runtimes moves without a park and a wake-up per message. A watch that runs out makes the
// next ones on the channel be skipped, twice as many each time; none is made before the other
// side has been seen, where it runs on the caller's own runtime, or on a runtime whose
// spin_before_sleep is 0 (weft/runtime.hpp). RuntimeStats::channel_watches and
// channel_watches_timed_out count them. The call is outstanding only once it parks: a cancel
// of the fiber by id during the watch finds it running (WSAEINVAL), as one just before the
// call would; a token's cancel or a deadline ends the call as it parks, unless the watch found
// room or a value, and then the call completed first.
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

// A channel's buffer: a ring of T that grows by doubling when full (the core keeps the
// channel's capacity; the ring only holds what the core lets in) and, past kKeep slots, halves
// when a quarter full, so that a burst through an unbounded channel does not hold its memory
// for the channel's life. Under the channel's lock.
template <class T>
class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() {
    while (count_ > 0) drop_front();
    ::operator delete (slots_, std::align_val_t{alignof(T)});
  }

  // Moves *value onto the back; false (value untouched) if memory ran out.
  bool push(T& value) noexcept {
    if (count_ == size_ && !grow()) return false;
    ::new (static_cast<void*>(slots_ + ((head_ + count_) & (size_ - 1)))) T(std::move(value));
    ++count_;
    return true;
  }
  // Moves the front into `out` and drops it (the ring is not empty).
  void pop(std::optional<T>& out) noexcept {
    out.emplace(std::move(slots_[head_]));
    drop_front();
    if (size_ > kKeep && count_ <= size_ / 4) (void)resize(size_ / 2);
  }

 private:
  void drop_front() noexcept {
    slots_[head_].~T();
    head_ = (head_ + 1) & (size_ - 1);
    --count_;
  }
  bool grow() noexcept {
    const std::size_t size = size_ ? size_ * 2 : kFirst;
    if (size < size_ || size > static_cast<std::size_t>(-1) / sizeof(T)) return false;
    return resize(size);
  }
  // Moves the values to `size` slots (at least count_); false if memory ran out.
  [[gnu::noinline, gnu::cold]] bool resize(std::size_t size) noexcept {
    T* slots = static_cast<T*>(
        ::operator new (size * sizeof(T), std::align_val_t{alignof(T)}, std::nothrow));
    if (!slots) return false;
    for (std::size_t i = 0; i < count_; ++i) {
      T& from = slots_[(head_ + i) & (size_ - 1)];
      ::new (static_cast<void*>(slots + i)) T(std::move(from));
      from.~T();
    }
    ::operator delete (slots_, std::align_val_t{alignof(T)});
    slots_ = slots;
    size_ = size;
    head_ = 0;
    return true;
  }

  static constexpr std::size_t kFirst = 8;
  static constexpr std::size_t kKeep = 1024;
  T* slots_ = nullptr;
  std::size_t size_ = 0;  // a power of two, or 0
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

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
        return static_cast<Ring<T>*>(buffer)->push(*static_cast<T*>(value));
      },
      [](void* buffer, void* out) noexcept {
        static_cast<Ring<T>*>(buffer)->pop(*static_cast<std::optional<T>*>(out));
      },
      [](void* value, void* out) noexcept {
        static_cast<std::optional<T>*>(out)->emplace(std::move(*static_cast<T*>(value)));
      },
  };

  alignas(void*) unsigned char core[kChannelCoreSize];
  Ring<T> buffer;
};
}  // namespace detail

template <class T>
class Channel {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "a channel moves values under its lock: T's move constructor must not throw");

 public:
  // capacity 0: a rendezvous (a send waits for a receiver); weft::unbounded: no limit.
  // std::bad_alloc if the channel cannot be allocated. The buffer takes memory as values
  // arrive (doubling from 8 slots, never past `capacity` values) and, once past 1,024 slots,
  // gives it back as they are taken; a send that finds no memory fails WSAENOBUFS with its
  // value untouched.
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
