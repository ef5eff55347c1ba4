// The Winsock-SPI-shaped C ABI: forwarding to weft's C++ API and translating errors. No
// semantics live here. A socket with an association (WSPEventSelect, wsp_events.cpp) is
// non-blocking: its calls here pass MSG_DONTWAIT or look before they wait, and report the calls
// that enable a network event again.
#include "weft/wsp.h"

#include "wsp_common.hpp"
#include "wsp_events.hpp"

#include <weft/weft.hpp>

#include <climits>
#include <cstring>

namespace {

using namespace weft::detail::wsp::common;
namespace events = weft::detail::wsp;

// Copies an address out to a caller's (sockaddr, length) pair; WSAEFAULT if it does not fit.
int put_address(const weft::Address& a, struct sockaddr* out, int* len, int* err) {
  if (!out || !len || *len < 0 || static_cast<socklen_t>(*len) < a.size())
    return fail(err, WSAEFAULT);
  std::memcpy(out, a.data(), a.size());
  *len = static_cast<int>(a.size());
  return 0;
}

// 0 if a caller's (sockaddr, length) pair can take an address of s's family, else
// SOCKET_ERROR with WSAEFAULT (or s's own error). Asked before a call takes a connection or a
// datagram off its queue, so that neither is ever consumed and then lost to a short buffer:
// an IPv6 address does not fit where an IPv4 one would.
int check_address_room(Socket s, int* len, int* err) {
  auto local = weft::local_address(s);
  if (!local.ok()) return fail(err, local.error());
  if (!len || *len < static_cast<int>(local->size())) return fail(err, WSAEFAULT);
  return 0;
}

weft::Result<weft::Address> get_address(const struct sockaddr* name, int len) {
  if (!name || len <= 0) return wsa::efault;
  return weft::Address::from_sockaddr(name, static_cast<socklen_t>(len));
}

// The blocking hook of a C program, kept in a callable whose target can be recovered, so that
// WSASetBlockingHook can return the previous C function.
struct CHook {
  WEFT_BLOCKINGHOOK fn;
  bool operator()() const { return fn() != 0; }
};

int blocking_callback_thunk(uintptr_t) {
  auto keep = weft::blocking_callback();
  return keep.ok() && *keep ? 1 : 0;
}

}  // namespace

extern "C" {

void WEFT_FD_ZERO(weft_fd_set* set) {
  if (set) set->fd_count = 0;
}

void WEFT_FD_SET(WEFT_SOCKET s, weft_fd_set* set) {
  if (!set || set->fd_count >= WEFT_FD_SETSIZE) return;
  for (unsigned i = 0; i < set->fd_count; ++i) {
    if (set->fd_array[i] == s) return;
  }
  set->fd_array[set->fd_count++] = s;
}

int WEFT_FD_ISSET(WEFT_SOCKET s, const weft_fd_set* set) {
  if (!set) return 0;
  for (unsigned i = 0; i < set->fd_count && i < WEFT_FD_SETSIZE; ++i) {
    if (set->fd_array[i] == s) return 1;
  }
  return 0;
}

WEFT_SOCKET WSPSocket(int af, int type, int protocol, int* err) {
  if (!err) return WEFT_INVALID_SOCKET;
  if (!in_fiber()) {
    *err = WSAEINVAL;
    return WEFT_INVALID_SOCKET;
  }
  // Winsock's families only. weft::socket takes AF_UNIX too, but this adapter's address
  // checks size a caller's buffer by the socket's own address, which says nothing of an
  // AF_UNIX peer's length; Unix-domain sockets are the C++ API's (weft/unix.hpp).
  if (af != AF_INET && af != AF_INET6) {
    *err = WSAEAFNOSUPPORT;
    return WEFT_INVALID_SOCKET;
  }
  auto s = weft::socket(af, type, protocol);
  if (!s.ok()) {
    fail(err, s.error());
    return WEFT_INVALID_SOCKET;
  }
  return from_socket(*s);
}

int WSPBind(WEFT_SOCKET s, const struct sockaddr* name, int namelen, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  auto a = get_address(name, namelen);
  if (!a.ok()) return fail(err, a.error());
  auto r = weft::bind(to_socket(s), *a);
  return r.ok() ? 0 : fail(err, r.error());
}

int WSPListen(WEFT_SOCKET s, int backlog, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  auto r = weft::listen(to_socket(s), backlog);
  if (!r.ok()) return fail(err, r.error());
  events::listen_made(s);
  return 0;
}

WEFT_SOCKET WSPAccept(WEFT_SOCKET s, struct sockaddr* addr, int* addrlen, int* err) {
  if (!err) return WEFT_INVALID_SOCKET;
  if (!in_fiber()) {
    *err = WSAEINVAL;
    return WEFT_INVALID_SOCKET;
  }
  if (addr && check_address_room(to_socket(s), addrlen, err) != 0) return WEFT_INVALID_SOCKET;
  const bool nonblocking = events::is_nonblocking(s);
  if (nonblocking) {
    // Looks first: a queued connection is taken without waiting (the kernel keeps it queued
    // until accepted, even if the peer resets it meanwhile).
    weft::PollEntry ready{to_socket(s), weft::kPollIn, 0};
    auto n = weft::poll(std::span(&ready, 1), std::chrono::milliseconds(0));
    if (!n.ok() || *n == 0) {
      (void)events::accept_made(s, WEFT_INVALID_SOCKET);
      if (n.ok()) fail(err, WSAEWOULDBLOCK);
      else fail(err, n.error());
      return WEFT_INVALID_SOCKET;
    }
  }
  weft::Address peer;
  auto c = weft::accept(to_socket(s), &peer);
  if (nonblocking) {
    if (int code = events::accept_made(s, c.ok() ? from_socket(*c) : WEFT_INVALID_SOCKET)) {
      if (c.ok()) (void)weft::close(*c);
      fail(err, code);
      return WEFT_INVALID_SOCKET;
    }
  }
  if (!c.ok()) {
    fail(err, c.error());
    return WEFT_INVALID_SOCKET;
  }
  if (addr) (void)put_address(peer, addr, addrlen, err);  // fits: checked above
  return from_socket(*c);
}

int WSPConnect(WEFT_SOCKET s, const struct sockaddr* name, int namelen, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  auto a = get_address(name, namelen);
  if (!a.ok()) return fail(err, a.error());
  if (int code = events::connect_in_background(s, *a)) return fail(err, code);
  auto r = weft::connect(to_socket(s), *a);
  return r.ok() ? 0 : fail(err, r.error());
}

int WSPRecv(WEFT_SOCKET s, char* buf, int len, int flags, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  if (len < 0 || (!buf && len > 0)) return fail(err, WSAEFAULT);
  const bool nonblocking = events::is_nonblocking(s);
  auto n = weft::recv(to_socket(s), buf, static_cast<std::size_t>(len),
                      nonblocking ? flags | MSG_DONTWAIT : flags);
  if (nonblocking) events::receive_made(s);
  return n.ok() ? static_cast<int>(*n) : fail(err, n.error());
}

int WSPSend(WEFT_SOCKET s, const char* buf, int len, int flags, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  if (len < 0 || (!buf && len > 0)) return fail(err, WSAEFAULT);
  const bool nonblocking = events::is_nonblocking(s);
  auto n = weft::send(to_socket(s), buf, static_cast<std::size_t>(len),
                      nonblocking ? flags | MSG_DONTWAIT : flags);
  if (nonblocking && (n.ok() ? *n < static_cast<std::size_t>(len) : n.error() == wsa::ewouldblock))
    events::send_blocked(s);
  return n.ok() ? static_cast<int>(*n) : fail(err, n.error());
}

int WSPRecvFrom(WEFT_SOCKET s, char* buf, int len, int flags, struct sockaddr* from, int* fromlen,
                int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  if (len < 0 || (!buf && len > 0)) return fail(err, WSAEFAULT);
  if (from && check_address_room(to_socket(s), fromlen, err) != 0) return SOCKET_ERROR;
  weft::Address peer;
  const bool nonblocking = events::is_nonblocking(s);
  auto n = weft::recv_from(to_socket(s), buf, static_cast<std::size_t>(len), &peer,
                           nonblocking ? flags | MSG_DONTWAIT : flags);
  if (nonblocking) events::receive_made(s);
  if (!n.ok() && n.error() != wsa::emsgsize) return fail(err, n.error());
  if (from && put_address(peer, from, fromlen, err) != 0) return SOCKET_ERROR;
  return n.ok() ? static_cast<int>(*n) : fail(err, n.error());
}

int WSPSendTo(WEFT_SOCKET s, const char* buf, int len, int flags, const struct sockaddr* to,
              int tolen, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  if (len < 0 || (!buf && len > 0)) return fail(err, WSAEFAULT);
  auto a = get_address(to, tolen);
  if (!a.ok()) return fail(err, a.error());
  const bool nonblocking = events::is_nonblocking(s);
  auto n = weft::send_to(to_socket(s), buf, static_cast<std::size_t>(len), *a,
                         nonblocking ? flags | MSG_DONTWAIT : flags);
  if (nonblocking && !n.ok() && n.error() == wsa::ewouldblock) events::send_blocked(s);
  return n.ok() ? static_cast<int>(*n) : fail(err, n.error());
}

int WSPSelect(int /*nfds: ignored, as in Winsock*/, weft_fd_set* readfds, weft_fd_set* writefds,
              weft_fd_set* exceptfds, const struct timeval* timeout, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  weft::SocketSet sets[3];
  weft_fd_set* in[3] = {readfds, writefds, exceptfds};
  bool any = false;
  for (int i = 0; i < 3; ++i) {
    if (!in[i]) continue;
    if (in[i]->fd_count > WEFT_FD_SETSIZE) return fail(err, WSAEINVAL);
    for (unsigned k = 0; k < in[i]->fd_count; ++k) sets[i].add(to_socket(in[i]->fd_array[k]));
    any = any || in[i]->fd_count > 0;
  }
  if (!any) return fail(err, WSAEINVAL);
  std::optional<std::chrono::milliseconds> limit;
  if (timeout) {
    if (timeout->tv_sec < 0 || timeout->tv_usec < 0) return fail(err, WSAEINVAL);
    limit = std::chrono::milliseconds(timeout->tv_sec * 1000 + (timeout->tv_usec + 999) / 1000);
  }
  auto n = weft::select(readfds ? &sets[0] : nullptr, writefds ? &sets[1] : nullptr,
                        exceptfds ? &sets[2] : nullptr, limit);
  if (!n.ok()) return fail(err, n.error());
  for (int i = 0; i < 3; ++i) {
    if (!in[i]) continue;
    in[i]->fd_count = 0;
    for (Socket s : sets[i].sockets) in[i]->fd_array[in[i]->fd_count++] = from_socket(s);
  }
  return *n;
}

int WSPShutdown(WEFT_SOCKET s, int how, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return fail(err, WSAEINVAL);
  auto r = weft::shutdown(to_socket(s), static_cast<weft::Shutdown>(how));
  return r.ok() ? 0 : fail(err, r.error());
}

int WSPSetSockOpt(WEFT_SOCKET s, int level, int optname, const char* optval, int optlen, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  if (optlen < 0) return fail(err, WSAEFAULT);
  auto r = weft::set_option(to_socket(s), level, optname, optval, static_cast<socklen_t>(optlen));
  return r.ok() ? 0 : fail(err, r.error());
}

int WSPGetSockOpt(WEFT_SOCKET s, int level, int optname, char* optval, int* optlen, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  if (!optlen || *optlen < 0) return fail(err, WSAEFAULT);
  socklen_t len = static_cast<socklen_t>(*optlen);
  auto r = weft::get_option(to_socket(s), level, optname, optval, &len);
  if (!r.ok()) return fail(err, r.error());
  *optlen = static_cast<int>(len);
  return 0;
}

int WSPGetSockName(WEFT_SOCKET s, struct sockaddr* name, int* namelen, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  auto a = weft::local_address(to_socket(s));
  if (!a.ok()) return fail(err, a.error());
  return put_address(*a, name, namelen, err);
}

int WSPGetPeerName(WEFT_SOCKET s, struct sockaddr* name, int* namelen, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  auto a = weft::peer_address(to_socket(s));
  if (!a.ok()) return fail(err, a.error());
  return put_address(*a, name, namelen, err);
}

int WSPCloseSocket(WEFT_SOCKET s, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!in_fiber()) return fail(err, WSAEINVAL);
  if (events::is_nonblocking(s)) {
    // A lingering close would wait: on a non-blocking socket Winsock refuses it.
    struct linger l = {0, 0};
    socklen_t len = sizeof l;
    if (weft::get_option(to_socket(s), SOL_SOCKET, SO_LINGER, &l, &len).ok() && l.l_onoff &&
        l.l_linger > 0) {
      return fail(err, WSAEWOULDBLOCK);
    }
  }
  events::socket_closing(s);
  auto r = weft::close(to_socket(s));
  return r.ok() ? 0 : fail(err, r.error());
}

int WSPCancelBlockingCall(int* err) {
  if (!err) return SOCKET_ERROR;
  auto r = weft::cancel_blocking_call();
  return r.ok() ? 0 : fail(err, r.error());
}

int WSAIsBlocking(void) { return weft::is_blocking() ? 1 : 0; }

WEFT_BLOCKINGHOOK WSASetBlockingHook(WEFT_BLOCKINGHOOK hook) {
  weft::BlockingHook previous =
      hook ? weft::set_blocking_hook(CHook{hook}) : weft::set_blocking_hook({});
  const CHook* c = previous.target<CHook>();
  return c ? c->fn : nullptr;
}

int WSAUnhookBlockingHook(void) {
  (void)weft::set_blocking_hook({});
  return 0;
}

int WPUQueryBlockingCallback(WEFT_BLOCKINGCALLBACK* callback, uintptr_t* context, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!callback || !context) return fail(err, WSAEFAULT);
  if (!in_fiber()) return fail(err, WSAEINVAL);
  *callback = blocking_callback_thunk;
  *context = 0;
  return 0;
}

int weft_run(int (*main_fn)(void*), void* arg) { return weft_run_ex(main_fn, arg, nullptr); }

int weft_run_ex(int (*main_fn)(void*), void* arg, const struct weft_run_options* opts) {
  if (!main_fn || weft::Runtime::current()) return SOCKET_ERROR;
  weft::RuntimeOptions options;
  if (opts) {
    if (opts->stack_size) options.stack_size = opts->stack_size;
    options.portable_mode = opts->portable_mode != 0;
  }
  weft::Runtime rt(options);
  int result = 0;
  bool started = false;
  auto spawned = rt.spawn([&] {
    started = true;
    result = main_fn(arg);
    events::program_fiber_ending();
  });
  if (!spawned.ok()) return SOCKET_ERROR;
  // A fiber spawned before run() gets its stack when run() starts; if no stack of the size
  // asked for can be mapped, the fiber never runs and run() returns at once.
  if (!rt.run().ok() || !started) return SOCKET_ERROR;
  return result;
}

weft_fiber_t weft_spawn(void (*fn)(void*), void* arg) {
  if (!fn) return 0;
  auto id = weft::spawn([fn, arg] {
    fn(arg);
    events::program_fiber_ending();
  });
  return id.ok() ? weft::to_integer(*id) : 0;
}

weft_fiber_t weft_self(void) { return weft::to_integer(weft::this_fiber::id()); }

int weft_join(weft_fiber_t f, int* err) {
  if (!err) return SOCKET_ERROR;
  auto r = weft::join(static_cast<weft::FiberId>(f));
  return r.ok() ? 0 : fail(err, r.error());
}

void weft_yield(void) { weft::this_fiber::yield(); }

int weft_sleep_ms(unsigned ms, int* err) {
  if (!err) return SOCKET_ERROR;
  auto r = weft::this_fiber::sleep_for(std::chrono::milliseconds(ms));
  return r.ok() ? 0 : fail(err, r.error());
}

int weft_cancel_blocking_call(weft_fiber_t f, int* err) {
  if (!err) return SOCKET_ERROR;
  auto r = weft::cancel_blocking_call(static_cast<weft::FiberId>(f));
  return r.ok() ? 0 : fail(err, r.error());
}

int weft_post(weft_fiber_t f, void (*fn)(void*), void* arg, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!fn) return fail(err, WSAEFAULT);
  auto r = weft::post(static_cast<weft::FiberId>(f), [fn, arg] { fn(arg); });
  return r.ok() ? 0 : fail(err, r.error());
}

int weft_set_portable_mode(int on) {
  weft::Runtime* rt = weft::Runtime::current();
  if (!rt) return 0;
  return rt->set_portable_mode(on != 0) ? 1 : 0;
}

int weft_stop(int* err) {
  if (!err) return SOCKET_ERROR;
  weft::Runtime* rt = weft::Runtime::current();
  if (!rt) return fail(err, WSAEINVAL);
  rt->stop();
  return 0;
}

int weft_get_stats(struct weft_stats* out, int* err) {
  if (!err) return SOCKET_ERROR;
  if (!out) return fail(err, WSAEFAULT);
  weft::Runtime* rt = weft::Runtime::current();
  if (!rt || !in_fiber()) return fail(err, WSAEINVAL);
  weft::RuntimeStats s = rt->stats();
  out->fibers_alive = s.fibers_alive;
  out->sockets_open = s.sockets_open;
  out->pending_connects = s.pending_connects;
  return 0;
}

}  // extern "C"
