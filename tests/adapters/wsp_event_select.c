/* The C adapter's network events: WSPEventSelect and WSPEnumNetworkEvents against POSIX peers
 * (docs/wsp.md, "Events"): each network event, the association's non-blocking calls, its end.
 * No check depends on timing: a wait that must end is made without a time limit, and an event
 * that must not be recorded is only looked at (a zero timeout). */
#include "harness.h"

static int test_event_select_bad_arguments(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  WEFT_EVENT e = WSACreateEvent(&err);
  struct conn c = connect_pair();
  CHECK_EQ(WSPEventSelect(c.s, e, FD_READ, NULL), SOCKET_ERROR);
  err = 0;
  CHECK_EQ(WSPEventSelect(12345, e, FD_READ, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAENOTSOCK);
  err = 0;
  CHECK_EQ(WSPEventSelect(c.s, e, 0x04 /* FD_OOB: not supported */, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEINVAL);
  err = 0;
  CHECK_EQ(WSPEventSelect(c.s, (WEFT_EVENT)(uintptr_t)77, FD_READ, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSA_INVALID_HANDLE);
  CHECK_EQ(WSPEventSelect(c.s, WSA_INVALID_EVENT, 0, &err), 0); /* 0 ignores the event */
  CHECK_EQ(WSPEnumNetworkEvents(c.s, e, &ne, NULL), SOCKET_ERROR);
  err = 0;
  CHECK_EQ(WSPEnumNetworkEvents(c.s, e, NULL, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  err = 0;
  CHECK_EQ(WSPEnumNetworkEvents(12345, e, &ne, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAENOTSOCK);
  err = 0;
  CHECK_EQ(WSPEnumNetworkEvents(c.s, (WEFT_EVENT)(uintptr_t)77, &ne, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSA_INVALID_HANDLE);
  /* Without an association: nothing recorded; the event given is reset all the same. */
  CHECK_EQ(WSASetEvent(e, &err), 0);
  ne.lNetworkEvents = -1;
  CHECK_EQ(WSPEnumNetworkEvents(c.s, e, &ne, &err), 0);
  CHECK_EQ(ne.lNetworkEvents, 0);
  CHECK(!is_signalled(e));
  CHECK_EQ(WSPEnumNetworkEvents(c.s, WSA_INVALID_EVENT, &ne, &err), 0); /* no event to reset */
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* FD_READ: recorded when data comes, again after a receive leaves some, never while data waits
 * unreceived; the socket is non-blocking; FD_CLOSE after the peer's end. */
static int test_event_select_read_and_close(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  char buf[16];
  struct conn c = connect_pair();
  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK_EQ(WSPEventSelect(c.s, e, FD_READ | FD_CLOSE, &err), 0);
  err = 0;
  CHECK_EQ(WSPRecv(c.s, buf, sizeof buf, 0, &err), SOCKET_ERROR); /* it would wait */
  CHECK_EQ(err, WSAEWOULDBLOCK);
  CHECK(!is_signalled(e));

  CHECK_EQ(send(c.peer, "hello", 5, 0), 5);
  CHECK_EQ(next_events(c.s, e, &ne), FD_READ);
  CHECK_EQ(ne.iErrorCode[FD_READ_BIT], 0);
  CHECK(!is_signalled(e)); /* reset by the enumeration */
  CHECK_EQ(WSPEnumNetworkEvents(c.s, e, &ne, &err), 0);
  CHECK_EQ(ne.lNetworkEvents, 0); /* cleared */

  /* A receive that leaves data enables FD_READ again, and it is recorded again. */
  CHECK_EQ(WSPRecv(c.s, buf, 2, 0, &err), 2);
  CHECK_EQ(next_events(c.s, e, &ne), FD_READ);
  CHECK_EQ(WSPRecv(c.s, buf, sizeof buf, 0, &err), 3);
  CHECK(memcmp(buf, "llo", 3) == 0);
  err = 0;
  CHECK_EQ(WSPRecv(c.s, buf, sizeof buf, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEWOULDBLOCK);

  /* The peer's end: FD_CLOSE, without error. */
  close(c.peer);
  c.peer = -1;
  CHECK_EQ(next_events(c.s, e, &ne), FD_CLOSE);
  CHECK_EQ(ne.iErrorCode[FD_CLOSE_BIT], 0);
  CHECK_EQ(WSPRecv(c.s, buf, sizeof buf, 0, &err), 0);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close(c.listener);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* Data then the peer's end, both there before anything is received: FD_READ first; FD_CLOSE
 * only once the data has been received. */
static int test_event_select_close_after_the_data(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  char buf[16];
  struct conn c = connect_pair();
  CHECK_EQ(send(c.peer, "ab", 2, 0), 2);
  shutdown(c.peer, SHUT_WR);
  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK_EQ(WSPEventSelect(c.s, e, FD_READ | FD_CLOSE, &err), 0);
  CHECK_EQ(next_events(c.s, e, &ne), FD_READ);
  CHECK_EQ(WSPRecv(c.s, buf, sizeof buf, 0, &err), 2);
  CHECK_EQ(next_events(c.s, e, &ne), FD_CLOSE);
  CHECK_EQ(WSPRecv(c.s, buf, sizeof buf, 0, &err), 0);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* A reset by the peer: FD_CLOSE with WSAECONNRESET. */
static int test_event_select_close_by_reset(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  struct conn c = connect_pair();
  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK_EQ(WSPEventSelect(c.s, e, FD_CLOSE, &err), 0);
  struct linger rst = {1, 0};
  setsockopt(c.peer, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
  close(c.peer);
  c.peer = -1;
  CHECK_EQ(next_events(c.s, e, &ne), FD_CLOSE);
  CHECK_EQ(ne.iErrorCode[FD_CLOSE_BIT], WSAECONNRESET);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close(c.listener);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* FD_WRITE: recorded once the socket can send; again only after a send would have blocked and
 * room came back. */
static int test_event_select_write(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  struct conn c = connect_pair();
  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK_EQ(WSPEventSelect(c.s, e, FD_WRITE, &err), 0);
  CHECK_EQ(next_events(c.s, e, &ne), FD_WRITE);
  CHECK_EQ(ne.iErrorCode[FD_WRITE_BIT], 0);
  CHECK_EQ(WSPSend(c.s, "x", 1, 0, &err), 1);
  CHECK(!is_signalled(e)); /* a send that did not block enables nothing */

  /* Fill the socket: the send that would wait fails WSAEWOULDBLOCK instead. */
  static char chunk[65536];
  long queued = 1;
  int n;
  err = 0;
  while ((n = WSPSend(c.s, chunk, sizeof chunk, 0, &err)) > 0) queued += n;
  CHECK_EQ(n, SOCKET_ERROR);
  CHECK_EQ(err, WSAEWOULDBLOCK);
  /* The peer drains it all: room again, FD_WRITE again. */
  CHECK_EQ(posix_drain(c.peer, queued), queued);
  CHECK_EQ(next_events(c.s, e, &ne), FD_WRITE);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* FD_ACCEPT: recorded for a queued connection, again after an accept leaves another queued; the
 * listener is non-blocking, and a socket it accepts inherits its association. */
static int test_event_select_accept(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  struct sockaddr_in addr;
  WEFT_SOCKET l = weft_listener(&addr, 1);
  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK_EQ(WSPEventSelect(l, e, FD_ACCEPT | FD_READ, &err), 0);
  err = 0;
  CHECK(WSPAccept(l, NULL, NULL, &err) == WEFT_INVALID_SOCKET); /* it would wait */
  CHECK_EQ(err, WSAEWOULDBLOCK);
  int c1 = posix_client(&addr);
  CHECK_EQ(next_events(l, e, &ne), FD_ACCEPT);
  CHECK_EQ(ne.iErrorCode[FD_ACCEPT_BIT], 0);
  int c2 = posix_client(&addr);
  WEFT_SOCKET a1 = WSPAccept(l, NULL, NULL, &err);
  CHECK(a1 != WEFT_INVALID_SOCKET);
  CHECK_EQ(next_events(l, e, &ne), FD_ACCEPT); /* the second one is queued */
  struct sockaddr_in peer;
  int peer_len = sizeof peer;
  WEFT_SOCKET a2 = WSPAccept(l, (struct sockaddr*)&peer, &peer_len, &err);
  CHECK(a2 != WEFT_INVALID_SOCKET);
  CHECK_EQ(peer_len, sizeof peer);
  err = 0;
  CHECK(WSPAccept(l, NULL, NULL, &err) == WEFT_INVALID_SOCKET);
  CHECK_EQ(err, WSAEWOULDBLOCK);

  /* Inherited: non-blocking, FD_READ through the same event. */
  char buf[8];
  err = 0;
  CHECK_EQ(WSPRecv(a1, buf, sizeof buf, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEWOULDBLOCK);
  CHECK_EQ(send(c1, "hi", 2, 0), 2);
  CHECK_EQ(next_events(a1, e, &ne), FD_READ);
  CHECK_EQ(WSPEnumNetworkEvents(l, WSA_INVALID_EVENT, &ne, &err), 0);
  CHECK_EQ(ne.lNetworkEvents, 0); /* the listener's record is its own */
  CHECK_EQ(WSPRecv(a1, buf, sizeof buf, 0, &err), 2);

  CHECK_EQ(WSPCloseSocket(a1, &err), 0);
  CHECK_EQ(WSPCloseSocket(a2, &err), 0);
  CHECK_EQ(WSPCloseSocket(l, &err), 0);
  close(c1);
  close(c2);

  /* Selected before listen: FD_ACCEPT applies from the listen on. */
  l = weft_listener(&addr, 0);
  CHECK_EQ(WSPEventSelect(l, e, FD_ACCEPT, &err), 0);
  CHECK_EQ(WSPListen(l, 8, &err), 0);
  int len = sizeof addr;
  CHECK_EQ(WSPGetSockName(l, (struct sockaddr*)&addr, &len, &err), 0);
  c1 = posix_client(&addr);
  CHECK_EQ(next_events(l, e, &ne), FD_ACCEPT);
  a1 = WSPAccept(l, NULL, NULL, &err);
  CHECK(a1 != WEFT_INVALID_SOCKET);
  CHECK_EQ(WSPCloseSocket(a1, &err), 0);
  CHECK_EQ(WSPCloseSocket(l, &err), 0);
  close(c1);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* FD_CONNECT: a non-blocking connect returns WSAEWOULDBLOCK and ends with FD_CONNECT (and
 * FD_WRITE once connected), or with FD_CONNECT and the reason it failed. */
static int test_event_select_connect(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  struct sockaddr_in addr;
  int l = posix_listener(&addr);
  WEFT_EVENT e = WSACreateEvent(&err);
  WEFT_SOCKET s = WSPSocket(AF_INET, SOCK_STREAM, 0, &err);
  CHECK_EQ(WSPEventSelect(s, e, FD_CONNECT | FD_WRITE, &err), 0);
  err = 0;
  CHECK_EQ(WSPConnect(s, (struct sockaddr*)&addr, sizeof addr, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEWOULDBLOCK);
  err = 0;
  CHECK_EQ(WSPConnect(s, (struct sockaddr*)&addr, sizeof addr, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEALREADY);
  long seen = 0;
  while ((seen & (FD_CONNECT | FD_WRITE)) != (FD_CONNECT | FD_WRITE)) {
    long got = next_events(s, e, &ne);
    CHECK(got != 0);
    if (got == 0) break;
    if (got & FD_CONNECT) CHECK_EQ(ne.iErrorCode[FD_CONNECT_BIT], 0);
    seen |= got;
  }
  err = 0;
  CHECK_EQ(WSPConnect(s, (struct sockaddr*)&addr, sizeof addr, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEISCONN);
  int peer = posix_accept(l);
  CHECK(peer >= 0);
  CHECK_EQ(WSPSend(s, "up", 2, 0, &err), 2);
  char buf[4];
  CHECK_EQ(recv(peer, buf, sizeof buf, 0), 2);
  CHECK_EQ(WSPCloseSocket(s, &err), 0);
  close(peer);
  close(l);

  /* Refused: nobody listens at the address any more. */
  s = WSPSocket(AF_INET, SOCK_STREAM, 0, &err);
  CHECK_EQ(WSPEventSelect(s, e, FD_CONNECT | FD_WRITE, &err), 0);
  err = 0;
  CHECK_EQ(WSPConnect(s, (struct sockaddr*)&addr, sizeof addr, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEWOULDBLOCK);
  CHECK_EQ(next_events(s, e, &ne), FD_CONNECT);
  CHECK_EQ(ne.iErrorCode[FD_CONNECT_BIT], WSAECONNREFUSED);
  CHECK_EQ(WSPCloseSocket(s, &err), 0);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* lNetworkEvents = 0 ends the association: blocking again, nothing recorded. A lingering close
 * would wait: non-blocking, it is refused. */
static void recv_some(void* arg) {
  struct call_result* r = arg;
  r->err = 0;
  r->ret = WSPRecv(r->s, r->buf, sizeof r->buf, 0, &r->err);
}

static int test_event_select_zero_makes_it_blocking(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  char buf[8];
  struct conn c = connect_pair();
  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK_EQ(WSPEventSelect(c.s, e, FD_READ | FD_WRITE | FD_CLOSE, &err), 0);
  err = 0;
  CHECK_EQ(WSPRecv(c.s, buf, sizeof buf, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEWOULDBLOCK);
  struct linger wait = {1, 5};
  CHECK_EQ(WSPSetSockOpt(c.s, SOL_SOCKET, SO_LINGER, (char*)&wait, sizeof wait, &err), 0);
  err = 0;
  CHECK_EQ(WSPCloseSocket(c.s, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEWOULDBLOCK);

  CHECK_EQ(WSPEventSelect(c.s, e, 0, &err), 0);
  CHECK_EQ(WSAResetEvent(e, &err), 0);
  struct call_result r = {.s = c.s, .ret = 99};
  weft_fiber_t f = weft_spawn(recv_some, &r);
  weft_yield();
  CHECK_EQ(r.ret, 99); /* blocked, not WSAEWOULDBLOCK */
  CHECK_EQ(send(c.peer, "z", 1, 0), 1);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(r.ret, 1);
  CHECK(!is_signalled(e));
  CHECK_EQ(WSPEnumNetworkEvents(c.s, e, &ne, &err), 0);
  CHECK_EQ(ne.lNetworkEvents, 0);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0); /* blocking: the lingering close is allowed */
  close_pair(&c);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* A new selection replaces the old one and starts from what is there now. */
static int test_event_select_again(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  struct conn c = connect_pair();
  WEFT_EVENT first = WSACreateEvent(&err), second = WSACreateEvent(&err);
  CHECK_EQ(WSPEventSelect(c.s, first, FD_READ, &err), 0);
  CHECK_EQ(send(c.peer, "q", 1, 0), 1);
  CHECK_EQ(next_events(c.s, first, &ne), FD_READ);
  CHECK_EQ(WSPEventSelect(c.s, second, FD_READ | FD_WRITE, &err), 0);
  long seen = 0;
  while ((seen & (FD_READ | FD_WRITE)) != (FD_READ | FD_WRITE)) {
    long got = next_events(c.s, second, &ne);
    CHECK(got != 0);
    if (got == 0) break;
    seen |= got;
  }
  CHECK(!is_signalled(first));
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  CHECK_EQ(WSACloseEvent(first, &err), 0);
  CHECK_EQ(WSACloseEvent(second, &err), 0);
  return 0;
}

/* Closing the socket ends its association: its watcher goes, the event is left alone. */
static int test_close_ends_the_association(void* arg) {
  (void)arg;
  int err = 0;
  struct weft_stats before, during, after;
  struct conn c = connect_pair();
  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK_EQ(weft_get_stats(&before, &err), 0);
  CHECK_EQ(WSPEventSelect(c.s, e, FD_READ | FD_CLOSE, &err), 0);
  CHECK_EQ(weft_get_stats(&during, &err), 0);
  CHECK_EQ(during.fibers_alive, before.fibers_alive + 1);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  for (int i = 0; i < 10; ++i) weft_yield();
  CHECK_EQ(weft_get_stats(&after, &err), 0);
  CHECK_EQ(after.fibers_alive, before.fibers_alive);
  weft_network_events ne;
  err = 0;
  CHECK_EQ(WSPEnumNetworkEvents(c.s, e, &ne, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAENOTSOCK);
  close(c.peer); /* the peer's end reaches nobody */
  close(c.listener);
  CHECK(!is_signalled(e));
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* The program returns with an association still open: weft_run returns all the same (this test
 * would hang otherwise). */
static int test_run_ends_with_an_association_open(void* arg) {
  (void)arg;
  int err = 0;
  struct conn c = connect_pair();
  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK_EQ(WSPEventSelect(c.s, e, FD_READ | FD_CLOSE, &err), 0);
  close_pair(&c);
  return 0;
}

/* A datagram socket under an association: FD_WRITE at once; FD_READ for a datagram, again after
 * a WSPRecvFrom leaves another queued, never while nothing is; WSPRecvFrom takes one datagram
 * whole with its sender's address and fails WSAEWOULDBLOCK, not waiting, once none is left;
 * WSPSendTo sends without waiting. The peer is a POSIX UDP socket. */
static int test_event_select_datagrams(void* arg) {
  (void)arg;
  int err = 0;
  weft_network_events ne;
  char buf[16];
  WEFT_SOCKET s = WSPSocket(AF_INET, SOCK_DGRAM, 0, &err);
  CHECK(s != WEFT_INVALID_SOCKET);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ(WSPBind(s, (struct sockaddr*)&addr, sizeof addr, &err), 0);
  int len = sizeof addr;
  CHECK_EQ(WSPGetSockName(s, (struct sockaddr*)&addr, &len, &err), 0);
  int peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in peer_addr;
  memset(&peer_addr, 0, sizeof peer_addr);
  peer_addr.sin_family = AF_INET;
  peer_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ(bind(peer, (struct sockaddr*)&peer_addr, sizeof peer_addr), 0);
  socklen_t plen = sizeof peer_addr;
  CHECK_EQ(getsockname(peer, (struct sockaddr*)&peer_addr, &plen), 0);

  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK_EQ(WSPEventSelect(s, e, FD_READ | FD_WRITE, &err), 0);
  CHECK_EQ(next_events(s, e, &ne), FD_WRITE);
  struct sockaddr_in from;
  int fromlen = sizeof from;
  err = 0;
  CHECK_EQ(WSPRecvFrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &fromlen, &err),
           SOCKET_ERROR); /* nothing queued: it would wait */
  CHECK_EQ(err, WSAEWOULDBLOCK);
  CHECK(!is_signalled(e));

  CHECK_EQ(sendto(peer, "one", 3, 0, (struct sockaddr*)&addr, sizeof addr), 3);
  CHECK_EQ(sendto(peer, "second", 6, 0, (struct sockaddr*)&addr, sizeof addr), 6);
  CHECK_EQ(next_events(s, e, &ne), FD_READ);
  CHECK_EQ(ne.iErrorCode[FD_READ_BIT], 0);
  fromlen = sizeof from;
  memset(&from, 0, sizeof from);
  CHECK_EQ(WSPRecvFrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &fromlen, &err), 3);
  CHECK(memcmp(buf, "one", 3) == 0);
  CHECK_EQ(fromlen, sizeof from);
  CHECK_EQ(from.sin_port, peer_addr.sin_port);
  CHECK_EQ(from.sin_addr.s_addr, peer_addr.sin_addr.s_addr);
  /* The receive left a datagram: FD_READ again. */
  CHECK_EQ(next_events(s, e, &ne), FD_READ);
  fromlen = sizeof from;
  CHECK_EQ(WSPRecvFrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &fromlen, &err), 6);
  CHECK(memcmp(buf, "second", 6) == 0);
  err = 0;
  fromlen = sizeof from;
  CHECK_EQ(WSPRecvFrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &fromlen, &err),
           SOCKET_ERROR);
  CHECK_EQ(err, WSAEWOULDBLOCK);
  CHECK(!is_signalled(e));

  /* WSPSendTo: the datagram reaches the peer whole. */
  CHECK_EQ(WSPSendTo(s, "back", 4, 0, (struct sockaddr*)&peer_addr, sizeof peer_addr, &err), 4);
  struct pollfd p = {peer, POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 5000), 1);
  CHECK_EQ(recv(peer, buf, sizeof buf, 0), 4);
  CHECK(memcmp(buf, "back", 4) == 0);

  CHECK_EQ(WSPCloseSocket(s, &err), 0);
  close(peer);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

const struct test wsp_event_select_tests[] = {
    {"event_select_bad_arguments", test_event_select_bad_arguments},
    {"event_select_read_and_close", test_event_select_read_and_close},
    {"event_select_close_after_the_data", test_event_select_close_after_the_data},
    {"event_select_close_by_reset", test_event_select_close_by_reset},
    {"event_select_write", test_event_select_write},
    {"event_select_datagrams", test_event_select_datagrams},
    {"event_select_accept", test_event_select_accept},
    {"event_select_connect", test_event_select_connect},
    {"event_select_zero_makes_it_blocking", test_event_select_zero_makes_it_blocking},
    {"event_select_again", test_event_select_again},
    {"event_select_close_ends_the_association", test_close_ends_the_association},
    {"event_select_run_ends_with_an_association_open", test_run_ends_with_an_association_open},
};
const unsigned wsp_event_select_test_count =
    sizeof wsp_event_select_tests / sizeof wsp_event_select_tests[0];
