// weft::detail — a runtime's sockets: handles, states, readiness waiters, the connect reaper.
//
// Handle layout: [runtime index:12][slot:20][generation:32]. A handle resolves only on its own
// runtime's thread, only while the slot holds the socket of that generation. Generations come
// from one process-wide counter, so neither a later socket in the same slot nor one of a later
// runtime that reuses the index can be reached by an old handle (for 2^32 sockets).
//
// Readiness: one uv_poll_t per socket (libuv allows one watcher per descriptor), created on
// the first wait. Its interest is the union of what the socket's waiters want; a callback
// completes the waiters for the events that fired and unlinks them, and an interest nobody
// waits for any more is dropped when two callbacks in a row find no waiter for it (lazily: a
// waiter that leaves after a cancel, or that has been woken and not yet run when the loop
// polls again, does not cost an epoll_ctl).
//
// Lifetimes:
//   1. A Sock is created by socket()/accept() and owned by the table.
//   2. close() closes the descriptor, bumps the generation (the handle is dead at once) and
//      closes the uv_poll_t; the Sock's memory goes when libuv's close callback runs.
//   3. Waiters are unlinked by whoever completes them, or by the waiter itself (RAII); close()
//      cancels and unlinks every waiter before the Sock can go.
//   4. A cancelled connect hands its descriptor to the reaper (its own uv_poll_t and timer) and
//      leaves the Sock aborted with no descriptor; the reaper resets or frees the kernel
//      socket when the attempt ends, and counts it in pending_connects meanwhile. An AF_UNIX
//      connect has no attempt under way in the kernel (it connects at once or is refused),
//      so its descriptor is closed at once instead.
//   5. run() does not return while the reaper holds attempts (each ends by itself, or at
//      RuntimeOptions::connect_reap_timeout); stop() ends them at once, abortively.
//   6. The table's destructor (the runtime's) closes whatever is still open, without linger.
#pragma once

#include "cancel_rule.hpp"
#include "fiber.hpp"
#include "intrusive_list.hpp"
#include "timer_heap.hpp"

#include <weft/error.hpp>
#include <weft/net.hpp>

#include <cstdint>
#include <vector>

#include <uv.h>

namespace weft::detail {

class RuntimeImpl;

inline constexpr unsigned kSockSlotBits = 20;
inline constexpr unsigned kRuntimeBits = 12;
inline constexpr std::uint32_t kMaxSlots = 1u << kSockSlotBits;

enum class SockState : std::uint8_t {
  open,  // created (maybe bound), neither listening nor connected
  listening,
  connecting,  // a connect is under way
  connected,
  aborted,  // reset after a cancel: every call but close fails WSAECONNABORTED
  closing,  // a lingering close is under way: only that close may finish it
};

// SOCK_STREAM, and AF_UNIX's SOCK_SEQPACKET: sockets that listen, accept and connect. (A
// SOCK_SEQPACKET socket keeps each message whole, as a datagram socket does: the table of
// what a cancel leaves behind treats it as one.)
inline bool connection_oriented(int type) noexcept {
  return type == SOCK_STREAM || type == SOCK_SEQPACKET;
}

// A fiber parked on a socket's readiness. `op` and `moved` say what its call is and how many
// bytes it has moved so far (null: none), so that a close by another fiber can apply the
// call's row of the table of what a cancel leaves behind (cancel_rule.hpp).
struct IoWaiter {
  IoWaiter(Fiber* f, int ev, Op o = Op::poll, const std::size_t* m = nullptr) noexcept
      : fiber(f), events(ev), op(o), moved(m) {}
  Fiber* fiber;
  int events;  // UV_READABLE or UV_WRITABLE
  Op op;
  const std::size_t* moved;
  ListHook<IoWaiter> hook{this};
};

// The uv_poll_t of a socket, in a box of its own: libuv frees nothing, but the handle must
// outlive its uv_close until the callback, which may come after the Sock is gone.
struct PollBox {
  uv_poll_t poll;
  struct Sock* owner = nullptr;  // null once detached
  int interest = 0;
  int idle = 0;  // the events of the last callback that found nobody waiting for them
};

struct ReapEntry;

struct Sock {
  int fd = -1;
  int family = 0;
  int type = 0;
  SockState state = SockState::open;
  bool bound = false;
  bool shut_rd = false;
  bool shut_wr = false;
  bool linger_on = false;
  // The last recv found the receive queue empty (EAGAIN) or returned less than it asked
  // for: the queue is most likely empty, so the next recv parks for readiness at once
  // instead of trying first (the try would be a wasted syscall). Cleared by a readable
  // event, which the level-triggered interest armed by that recv's wait reports even for
  // data that came after the wait ended (a cancel). (tokio clears readiness likewise.)
  bool drained = false;
  // A call saw the peer's reset. Linux reports it once (later recvs return 0, as for an
  // orderly FIN); weft keeps reporting WSAECONNRESET, as Winsock does (bytes still queued
  // are delivered first).
  bool reset_by_peer = false;
  // One end of a pipe, a FIFO or a terminal (weft::pipe, a child's standard streams, an
  // adopted descriptor): read(2) and write(2) instead of recv and send, a "reset" closes the
  // descriptor at once (semantics.md §10), and the direction it cannot go is shut.
  bool pipe = false;
  int linger_seconds = 0;
  // Counts set_option(SO_SNDBUF) calls: what a TLS stream knows of the room in the send
  // buffer (tls.cpp, room_for) is void once the buffer's size was set again.
  std::uint32_t sndbuf_changes = 0;
  std::uint32_t slot = 0;
  std::uint32_t gen = 0;
  RuntimeImpl* rt = nullptr;
  PollBox* poll = nullptr;
  IntrusiveList<IoWaiter> readers;
  IntrusiveList<IoWaiter> writers;
};

class SocketTable {
 public:
  SocketTable(RuntimeImpl* rt, std::uint32_t runtime_index) noexcept
      : rt_(rt), tag_(runtime_index & ((1u << kRuntimeBits) - 1)) {}
  ~SocketTable();
  SocketTable(const SocketTable&) = delete;
  SocketTable& operator=(const SocketTable&) = delete;

  // Takes ownership of a non-blocking descriptor. WSAENOBUFS when the table is full; the
  // descriptor is then closed, unless `close_on_failure` is false (it stays the caller's).
  Result<Socket> add(int fd, int family, int type, SockState state,
                     bool close_on_failure = true) noexcept;
  // Takes a descriptor the caller still owns (an inherited socket, a pipe, a terminal): makes
  // it non-blocking (O_NONBLOCK belongs to the open file description: a process that shares
  // it sees it too) and close-on-exec, and enters it. On any failure its flags are restored
  // and it stays the caller's.
  Result<Socket> adopt(int fd, int family, int type, SockState state) noexcept;
  // The socket a handle names on this runtime, or nullptr (stale, closed, foreign, invalid).
  // Inline: every socket call looks its handle up, some several times.
  Sock* get(Socket h) const noexcept {
    auto v = static_cast<std::uint64_t>(h);
    if (h == Socket::invalid || (v >> (kSockSlotBits + 32)) != tag_) return nullptr;
    auto slot = static_cast<std::uint32_t>((v >> 32) & (kMaxSlots - 1));
    if (slot >= slots_.size()) return nullptr;
    Sock* s = slots_[slot];
    return (s && s->gen == static_cast<std::uint32_t>(v)) ? s : nullptr;
  }
  Socket handle_of(const Sock* s) const noexcept;

  // Links w into s's waiters and makes sure the poll watches for it. Errors only when the
  // uv_poll_t cannot be created for the descriptor.
  std::error_code wait_add(Sock* s, IoWaiter& w) noexcept;
  // Links w into s's waiters without watching for readiness: for a wait that something
  // else ends (a timer), which a close by another fiber must still find and cancel.
  void wait_link(Sock* s, IoWaiter& w) noexcept;
  // Fixes the outcome of every waiter's call to `how` and unlinks them all.
  void wake_all(Sock* s, CallState how) noexcept;
  // A close by another fiber: cancels every waiter's call (WSAEINTR) and returns what the
  // table (cancel_rule.hpp) says those calls leave behind: reset if any of them does (a send
  // that had moved bytes; any stream call but accept and poll in portable mode), so that the
  // close resets instead of ending a cut-off stream with a clean FIN.
  Leaves cancel_waiters_for_close(Sock* s) noexcept;
  // Applies the table to s after a call of kind `op` on it ended without completing, having
  // moved `moved` bytes: resets it, or hands a connect's attempt to the reaper.
  void leave_after_cancel(Sock* s, Op op, std::size_t moved) noexcept;
  // The debug line of a reset a cancel caused (the runtime, the fiber, the socket, the call).
  void log_reset(Sock* s, Op op, std::size_t moved) noexcept;
  // Ends the handle: closes the descriptor if still open (caller has chosen the linger), the
  // poll, and frees the slot. Waiters must have been woken.
  void release(Sock* s) noexcept;
  // Resets the connection (SO_LINGER {1,0} + close: RST, no TIME_WAIT; AF_UNIX, which has no
  // RST, is closed at once) and marks the socket aborted; its waiters are completed so that
  // they see WSAECONNABORTED.
  void reset(Sock* s) noexcept;
  // Hands a connecting socket's descriptor to the reaper; the socket becomes aborted.
  void reap_connect(Sock* s) noexcept;
  // Ends every held attempt now, abortively (runtime stop, destruction).
  void finish_reaping() noexcept;

  std::uint64_t open_count() const noexcept { return open_; }

 private:
  static void on_poll(uv_poll_t* h, int status, int events);
  void update_interest(Sock* s) noexcept;
  void detach_poll(Sock* s) noexcept;

  RuntimeImpl* rt_;
  std::uint64_t tag_;  // the runtime's bits of this table's handles
  IntrusiveList<ReapEntry> reaping_;
  std::vector<Sock*> slots_;
  std::vector<std::uint32_t> free_;
  std::uint64_t open_ = 0;
};

}  // namespace weft::detail
