// The C adapter's event selection, as the rest of the adapter sees it (wsp_events.cpp): what
// WSPEventSelect changes about a socket's other calls. Internal; not installed.
//
// An association (WSPEventSelect with a nonzero lNetworkEvents) makes its socket non-blocking
// and records network events as Winsock does. The calls that enable an event again after it was
// recorded report here: a receive (FD_READ), a send that would block (FD_WRITE), an accept
// (FD_ACCEPT). Every function here runs on the socket's runtime thread, from a fiber.
#pragma once

#include "weft/wsp.h"

#include <weft/net.hpp>

namespace weft::detail::wsp {

// True while s has an association: its calls must not wait (WSAEWOULDBLOCK instead).
bool is_nonblocking(WEFT_SOCKET s) noexcept;

// A receive was made on s (whatever its result): FD_READ may be recorded again.
void receive_made(WEFT_SOCKET s) noexcept;

// A send on s would have blocked, or moved only part of its bytes: FD_WRITE may be recorded
// again once s can take more.
void send_blocked(WEFT_SOCKET s) noexcept;

// An accept was made on the listener s: FD_ACCEPT may be recorded again. A socket it accepted
// (WEFT_INVALID_SOCKET: none) inherits s's association, as in Winsock. Returns 0, or the
// Winsock code of a failure to give the accepted socket its association (the caller then
// closes it).
int accept_made(WEFT_SOCKET s, WEFT_SOCKET accepted) noexcept;

// s is listening now (the adapter remembers it: FD_ACCEPT applies to it, FD_READ does not).
void listen_made(WEFT_SOCKET s) noexcept;

// The connect of a non-blocking stream socket: it goes on in a fiber of its own and ends with
// FD_CONNECT. Returns the Winsock code the call fails with: WSAEWOULDBLOCK once started,
// WSAEALREADY while one is under way, WSAEISCONN, WSAEINVAL (listening), WSAENOBUFS; or 0 if
// s is not a non-blocking stream socket (a blocking one, or a datagram socket, whose connect
// never waits): the caller connects as usual.
int connect_in_background(WEFT_SOCKET s, const weft::Address& to) noexcept;

// s is about to be closed: its association ends and the adapter forgets it.
void socket_closing(WEFT_SOCKET s) noexcept;

// The events of wsp_event_objects.cpp, for the associations: set, reset (0 or
// WSA_INVALID_HANDLE), and whether e names an open event.
int event_set(WEFT_EVENT e) noexcept;
int event_reset(WEFT_EVENT e) noexcept;
bool event_valid(WEFT_EVENT e) noexcept;

// A fiber of the C program (weft_run's main one, or one weft_spawn started) is ending. If only
// the fibers that watch associations would be left, the associations end, so that weft_run
// returns as it would without them.
void program_fiber_ending() noexcept;

}  // namespace weft::detail::wsp
