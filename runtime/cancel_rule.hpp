// weft::detail — the one table of what a blocking call that ended without completing leaves
// behind (semantics.md §3). Every call asks it; no call writes its own rule.
//
// "Ended without completing" is any outcome but completion: a cancel (WSAEINTR), a deadline
// of a token, a scope or the call itself (WSAETIMEDOUT), runtime stop (WSAENETDOWN), and a
// close of the socket by another fiber. The table does not ask which: the socket's integrity
// depends on what the call did, not on who ended it. It is keyed by the kind of operation,
// the mode (precise or portable) and how many bytes the call had already moved:
//
//   operation            precise mode                    portable mode
//   accept, poll/select  unchanged                       unchanged
//   recv, recv_from,     unchanged (nothing consumed)    reset (stream); unchanged (datagram)
//   recv_fds
//   recv_exact           reset if it took bytes, else    reset (stream)
//                        unchanged
//   send, send_some,     reset if bytes went out, else   reset (stream)
//   send_fds             unchanged
//   send_to              unchanged (datagram: atomic)    unchanged (datagram)
//   connect              aborted: the reaper holds the kernel socket until the attempt ends
//   close, lingering     reset (treated as linger expiry)
//   TLS handshake, recv  unchanged: a handshake resumes,   reset (stream)
//                        a record partly received stays
//                        buffered (semantics.md §9)
//   TLS send, send_some  reset if any of the call was      reset (stream)
//                        committed (a record wholly or
//                        partly on the wire), else
//                        unchanged
//   TLS shutdown, close  reset (no close_notify wait can be cut short cleanly)
//   sleep, join, resolve, signal_wait: no socket; their own rows say what stops (a timer, a
//                        pool request), and nothing is left to undo
//   SignalWatch::wait    no socket; the watch goes on watching, and a delivery that came
//                        meanwhile stays counted for the next wait
//   the coordination waits (mutex, condition variable, semaphore, event, latch, channel
//                        send and recv, wait_any): no socket; the primitive is left as if
//                        the call had never been made (semantics.md §8, primitives.hpp)
//   pipe recv, send      as recv and send, in both modes: unchanged unless a send had moved
//                        bytes; "reset" closes the write end at once (semantics.md §10)
//   file calls, offload  no socket: cancelled before the pool started them, they did nothing;
//                        once started, never cancelled (pool.hpp); sendfile's socket waits
//                        are the send row
//   process wait         the child runs on; Process::run's staged end ends and reaps it
//
// A datagram socket is unchanged in both modes: a datagram is sent or received whole; so is an
// AF_UNIX SOCK_SEQPACKET socket, which keeps its messages whole. An AF_UNIX reset closes the
// kernel socket at once (it has no RST), and an AF_UNIX connect leaves nothing for the reaper
// (semantics.md §10).
// Portable mode treats every such end alike, deadlines and stop included: it emulates the
// strictest provider Winsock allows, which resets a socket after any cancelled call on it
// other than accept and select.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::detail {

enum class Op : std::uint8_t {
  accept,
  poll,  // poll and select: every socket passed in
  recv,  // recv, recv_from, recv_fds and recv_exact (`moved`: the bytes recv_exact had taken)
  send,  // send, send_some, send_fds (`moved`: the bytes already in the kernel); send_to
  connect,
  close_linger,  // a close waiting for SO_LINGER {1, t>0}
  tls_read,      // a TLS handshake or recv, waiting for the peer's bytes or for room
  tls_write,     // a TLS send or send_some (`moved`: what of the call is committed)
  tls_close,     // a TLS shutdown (waiting for the peer's close_notify) or close (its flush)
};

enum class Leaves : std::uint8_t {
  unchanged,  // every later call legal
  reset,      // RST now; every later call but close fails WSAECONNABORTED
  aborted,    // a connect: the handle stays valid until closed, the reaper holds the socket
};

constexpr Leaves after_cancel(Op op, bool portable, bool stream, std::size_t moved) noexcept {
  switch (op) {
    case Op::accept:
    case Op::poll: return Leaves::unchanged;
    case Op::connect: return Leaves::aborted;
    case Op::close_linger:
    case Op::tls_close: return Leaves::reset;
    case Op::recv:
    case Op::send:
    case Op::tls_read:
    case Op::tls_write: break;
  }
  if (!stream) return Leaves::unchanged;  // a datagram is atomic
  if (moved > 0) return Leaves::reset;    // bytes that left or were taken cannot come back
  return portable ? Leaves::reset : Leaves::unchanged;
}

}  // namespace weft::detail
