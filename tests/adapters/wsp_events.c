/* The C adapter's events: WSACreateEvent ... WSAWaitForMultipleEvents (a blocking call like any
 * other: semantics §2, §5, §8), WSPEventSelect and WSPEnumNetworkEvents against POSIX peers. No
 * check depends on timing: a wait that must end is made without a time limit, and one that must
 * not is only looked at (a zero timeout) or checked after the fiber that made it had its turn. */
#include "harness.h"

#include <sched.h>

/* --- helpers ------------------------------------------------------------------------------- */

struct wait_call {
  unsigned count;
  WEFT_EVENT events[4];
  int all;
  unsigned timeout;
  unsigned ret;
  int err;
};

static void wait_fiber(void* arg) {
  struct wait_call* w = arg;
  w->err = 0;
  w->ret = WSAWaitForMultipleEvents(w->count, w->events, w->all, w->timeout, &w->err);
}

static void* wait_thread(void* arg) {
  wait_fiber(arg);
  return NULL;
}

static void* set_thread(void* arg) {
  int err = 0;
  WSASetEvent((WEFT_EVENT)arg, &err);
  return NULL;
}

/* Looks without waiting: is e signalled? */
static int is_signalled(WEFT_EVENT e) {
  int err = 0;
  return WSAWaitForMultipleEvents(1, &e, 0, 0, &err) == WSA_WAIT_EVENT_0;
}

/* Waits for e without a time limit, then takes s's recorded events (and resets e). */
static long next_events(WEFT_SOCKET s, WEFT_EVENT e, weft_network_events* ne) {
  int err = 0;
  CHECK_EQ(WSAWaitForMultipleEvents(1, &e, 0, WSA_INFINITE, &err), WSA_WAIT_EVENT_0);
  CHECK_EQ(WSPEnumNetworkEvents(s, e, ne, &err), 0);
  return ne->lNetworkEvents;
}

/* A weft listener on the loopback, and its address. */
static WEFT_SOCKET weft_listener(struct sockaddr_in* addr, int listening) {
  int err = 0;
  WEFT_SOCKET l = WSPSocket(AF_INET, SOCK_STREAM, 0, &err);
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ(WSPBind(l, (struct sockaddr*)addr, sizeof *addr, &err), 0);
  if (listening) CHECK_EQ(WSPListen(l, 8, &err), 0);
  int len = sizeof *addr;
  CHECK_EQ(WSPGetSockName(l, (struct sockaddr*)addr, &len, &err), 0);
  return l;
}

static int posix_client(const struct sockaddr_in* addr) {
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK_EQ(connect(c, (const struct sockaddr*)addr, sizeof *addr), 0);
  return c;
}

/* --- events -------------------------------------------------------------------------------- */

static int test_create_set_reset_close(void* arg) {
  (void)arg;
  int err = 0;
  CHECK(WSACreateEvent(NULL) == WSA_INVALID_EVENT);
  WEFT_EVENT e = WSACreateEvent(&err);
  CHECK(e != WSA_INVALID_EVENT);
  CHECK(!is_signalled(e)); /* created not signalled */
  CHECK_EQ(WSASetEvent(e, &err), 0);
  CHECK(is_signalled(e));
  CHECK(is_signalled(e)); /* manual reset: a wait takes nothing */
  CHECK_EQ(WSAResetEvent(e, &err), 0);
  CHECK(!is_signalled(e));
  /* A null lpErrno: SOCKET_ERROR, and nothing happens. */
  CHECK_EQ(WSASetEvent(e, NULL), SOCKET_ERROR);
  CHECK(!is_signalled(e));
  CHECK_EQ(WSACloseEvent(e, NULL), SOCKET_ERROR);
  CHECK_EQ(WSASetEvent(e, &err), 0); /* still open */
  CHECK_EQ(WSAResetEvent(e, NULL), SOCKET_ERROR);
  CHECK(is_signalled(e));
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  /* Closed: every call says WSA_INVALID_HANDLE, and a second close too. */
  err = 0;
  CHECK_EQ(WSASetEvent(e, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSA_INVALID_HANDLE);
  err = 0;
  CHECK_EQ(WSAResetEvent(e, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSA_INVALID_HANDLE);
  err = 0;
  CHECK_EQ(WSACloseEvent(e, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSA_INVALID_HANDLE);
  err = 0;
  CHECK_EQ(WSAWaitForMultipleEvents(1, &e, 0, 0, &err), WSA_WAIT_FAILED);
  CHECK_EQ(err, WSA_INVALID_HANDLE);
  /* A new event may take the closed one's place: the old handle still does not reach it. */
  WEFT_EVENT again = WSACreateEvent(&err);
  CHECK(again != WSA_INVALID_EVENT);
  CHECK(again != e);
  CHECK_EQ(WSASetEvent(e, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSA_INVALID_HANDLE);
  CHECK(!is_signalled(again));
  /* Unknown values: never dereferenced, never a crash. */
  WEFT_EVENT unknown[] = {WSA_INVALID_EVENT, (WEFT_EVENT)(uintptr_t)1, (WEFT_EVENT)(uintptr_t)-1,
                          (WEFT_EVENT)&err};
  for (unsigned i = 0; i < sizeof unknown / sizeof unknown[0]; ++i) {
    err = 0;
    CHECK_EQ(WSASetEvent(unknown[i], &err), SOCKET_ERROR);
    CHECK_EQ(err, WSA_INVALID_HANDLE);
    err = 0;
    CHECK_EQ(WSACloseEvent(unknown[i], &err), SOCKET_ERROR);
    CHECK_EQ(err, WSA_INVALID_HANDLE);
  }
  CHECK_EQ(WSACloseEvent(again, &err), 0);
  return 0;
}

static int test_wait_returns_the_first_signalled(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_EVENT e[3];
  for (int i = 0; i < 3; ++i) e[i] = WSACreateEvent(&err);
  CHECK_EQ(WSAWaitForMultipleEvents(3, e, 0, 0, &err), WSA_WAIT_TIMEOUT); /* a zero timeout polls */
  CHECK_EQ(WSASetEvent(e[2], &err), 0);
  CHECK_EQ(WSASetEvent(e[1], &err), 0);
  CHECK_EQ(WSAWaitForMultipleEvents(3, e, 0, WSA_INFINITE, &err), WSA_WAIT_EVENT_0 + 1);
  CHECK_EQ(WSAWaitForMultipleEvents(3, e, 0, 0, &err), WSA_WAIT_EVENT_0 + 1); /* nothing taken */
  /* fWaitAll: only when every one is signalled. */
  CHECK_EQ(WSAWaitForMultipleEvents(3, e, 1, 0, &err), WSA_WAIT_TIMEOUT);
  CHECK_EQ(WSASetEvent(e[0], &err), 0);
  CHECK_EQ(WSAWaitForMultipleEvents(3, e, 1, WSA_INFINITE, &err), WSA_WAIT_EVENT_0);
  CHECK_EQ(WSAWaitForMultipleEvents(3, e, 0, WSA_INFINITE, &err), WSA_WAIT_EVENT_0);
  /* The same event twice is allowed. */
  WEFT_EVENT twice[2] = {e[2], e[2]};
  CHECK_EQ(WSAWaitForMultipleEvents(2, twice, 1, 0, &err), WSA_WAIT_EVENT_0);
  for (int i = 0; i < 3; ++i) CHECK_EQ(WSACloseEvent(e[i], &err), 0);
  return 0;
}

static int test_wait_timeout(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_EVENT e[2] = {WSACreateEvent(&err), WSACreateEvent(&err)};
  CHECK_EQ(WSAWaitForMultipleEvents(2, e, 0, 5, &err), WSA_WAIT_TIMEOUT);
  CHECK_EQ(WSASetEvent(e[0], &err), 0);
  CHECK_EQ(WSAWaitForMultipleEvents(2, e, 1, 5, &err), WSA_WAIT_TIMEOUT); /* not all */
  CHECK_EQ(WSAWaitForMultipleEvents(2, e, 0, 5, &err), WSA_WAIT_EVENT_0); /* set: no wait */
  CHECK_EQ(WSACloseEvent(e[0], &err), 0);
  CHECK_EQ(WSACloseEvent(e[1], &err), 0);
  return 0;
}

static int test_wait_bad_arguments(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_EVENT many[WSA_MAXIMUM_WAIT_EVENTS + 1];
  for (unsigned i = 0; i <= WSA_MAXIMUM_WAIT_EVENTS; ++i) many[i] = WSACreateEvent(&err);
  CHECK_EQ(WSASetEvent(many[0], &err), 0);
  err = 0;
  CHECK_EQ(WSAWaitForMultipleEvents(0, many, 0, WSA_INFINITE, &err), WSA_WAIT_FAILED);
  CHECK_EQ(err, WSAEINVAL);
  err = 0;
  CHECK_EQ(WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS + 1, many, 0, 0, &err),
           WSA_WAIT_FAILED);
  CHECK_EQ(err, WSAEINVAL);
  CHECK_EQ(WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS, many, 0, 0, &err), WSA_WAIT_EVENT_0);
  err = 0;
  CHECK_EQ(WSAWaitForMultipleEvents(1, NULL, 0, WSA_INFINITE, &err), WSA_WAIT_FAILED);
  CHECK_EQ(err, WSAEFAULT);
  CHECK_EQ(WSAWaitForMultipleEvents(1, many, 0, WSA_INFINITE, NULL), WSA_WAIT_FAILED);
  /* One bad handle fails the call, even beside a signalled event. */
  WEFT_EVENT mixed[2] = {many[0], (WEFT_EVENT)(uintptr_t)12345};
  err = 0;
  CHECK_EQ(WSAWaitForMultipleEvents(2, mixed, 0, WSA_INFINITE, &err), WSA_WAIT_FAILED);
  CHECK_EQ(err, WSA_INVALID_HANDLE);
  for (unsigned i = 0; i <= WSA_MAXIMUM_WAIT_EVENTS; ++i) CHECK_EQ(WSACloseEvent(many[i], &err), 0);
  return 0;
}

/* A wait ends when another fiber sets the event, or closes one of its events. */
static int test_wait_woken_by_another_fiber(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_EVENT a = WSACreateEvent(&err), b = WSACreateEvent(&err);
  struct wait_call w = {2, {a, b}, 0, WSA_INFINITE, 99, 0};
  weft_fiber_t f = weft_spawn(wait_fiber, &w);
  weft_yield(); /* it is waiting */
  CHECK_EQ(w.ret, 99);
  CHECK_EQ(WSASetEvent(b, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(w.ret, WSA_WAIT_EVENT_0 + 1);
  CHECK_EQ(WSAResetEvent(b, &err), 0);

  /* fWaitAll: one set is not enough; the second is. */
  struct wait_call all = {2, {a, b}, 1, WSA_INFINITE, 99, 0};
  f = weft_spawn(wait_fiber, &all);
  weft_yield();
  CHECK_EQ(WSASetEvent(a, &err), 0);
  weft_yield(); /* it would have run now had the set ended its wait */
  CHECK_EQ(all.ret, 99);
  CHECK_EQ(WSASetEvent(b, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(all.ret, WSA_WAIT_EVENT_0);

  /* An event closed under a wait: WSA_INVALID_HANDLE. */
  WEFT_EVENT c = WSACreateEvent(&err);
  struct wait_call closing = {1, {c}, 0, WSA_INFINITE, 99, 0};
  f = weft_spawn(wait_fiber, &closing);
  weft_yield();
  CHECK_EQ(WSACloseEvent(c, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(closing.ret, WSA_WAIT_FAILED);
  CHECK_EQ(closing.err, WSA_INVALID_HANDLE);
  CHECK_EQ(WSACloseEvent(a, &err), 0);
  CHECK_EQ(WSACloseEvent(b, &err), 0);
  return 0;
}

/* §2: cancelled by another fiber; the events are left as they were. */
static int test_wait_cancelled_by_another_fiber(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_EVENT e = WSACreateEvent(&err);
  struct wait_call w = {1, {e}, 0, WSA_INFINITE, 99, 0};
  weft_fiber_t f = weft_spawn(wait_fiber, &w);
  weft_yield();
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(w.ret, WSA_WAIT_FAILED);
  CHECK_EQ(w.err, WSAEINTR);
  CHECK(!is_signalled(e));
  /* A set after the cancel reaches the next wait. */
  CHECK_EQ(WSASetEvent(e, &err), 0);
  CHECK_EQ(WSAWaitForMultipleEvents(1, &e, 0, WSA_INFINITE, &err), WSA_WAIT_EVENT_0);
  /* A wait with a time limit is cancelled the same way. */
  CHECK_EQ(WSAResetEvent(e, &err), 0);
  struct wait_call timed = {1, {e}, 0, 3600 * 1000, 99, 0};
  f = weft_spawn(wait_fiber, &timed);
  weft_yield();
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(timed.ret, WSA_WAIT_FAILED);
  CHECK_EQ(timed.err, WSAEINTR);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* §2: cancelled from another OS thread (cancel_thread: harness.h). */
static int test_wait_cancelled_from_another_thread(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_EVENT e = WSACreateEvent(&err);
  struct wait_call w = {1, {e}, 0, WSA_INFINITE, 99, 0};
  weft_fiber_t f = weft_spawn(wait_fiber, &w);
  struct thread_cancel t = {f, -2};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, cancel_thread, &t), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  pthread_join(th, NULL);
  CHECK_EQ(t.reply, 0);
  CHECK_EQ(w.ret, WSA_WAIT_FAILED);
  CHECK_EQ(w.err, WSAEINTR);
  CHECK(!is_signalled(e));
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* §5: inside the blocking hook a wait is WSAEINPROGRESS, a zero-timeout look and a set work, and
 * WSPCancelBlockingCall cancels the wait the hook interrupts. */
static WEFT_EVENT g_hook_event;
static unsigned g_hook_wait, g_hook_poll;
static int g_hook_calls, g_hook_wait_err, g_hook_set;
static int hook_waiting(void) {
  int err = 0;
  if (g_hook_calls++ == 0) {
    g_hook_wait = WSAWaitForMultipleEvents(1, &g_hook_event, 0, WSA_INFINITE, &err);
    g_hook_wait_err = err;
    g_hook_poll = WSAWaitForMultipleEvents(1, &g_hook_event, 0, 0, &err);
    g_hook_set = WSASetEvent(g_hook_event, &err);
  }
  WSPCancelBlockingCall(&err);
  return 0;
}

static int test_wait_inside_blocking_hook(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_EVENT outer = WSACreateEvent(&err);
  g_hook_event = WSACreateEvent(&err);
  CHECK(WSASetBlockingHook(hook_waiting) == NULL);
  err = 0;
  CHECK_EQ(WSAWaitForMultipleEvents(1, &outer, 0, WSA_INFINITE, &err), WSA_WAIT_FAILED);
  CHECK_EQ(err, WSAEINTR);
  CHECK_EQ(WSAUnhookBlockingHook(), 0);
  CHECK(g_hook_calls >= 1);
  CHECK_EQ(g_hook_wait, WSA_WAIT_FAILED);
  CHECK_EQ(g_hook_wait_err, WSAEINPROGRESS);
  CHECK_EQ(g_hook_poll, WSA_WAIT_TIMEOUT);
  CHECK_EQ(g_hook_set, 0);
  CHECK(is_signalled(g_hook_event));
  CHECK(!is_signalled(outer));
  CHECK_EQ(WSACloseEvent(outer, &err), 0);
  CHECK_EQ(WSACloseEvent(g_hook_event, &err), 0);
  return 0;
}

/* §2: a wait outstanding at stop returns WSAENETDOWN; a later one fails at once; a zero-timeout
 * look still works. */
static int test_wait_at_stop(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_EVENT e = WSACreateEvent(&err);
  struct wait_call w = {1, {e}, 0, WSA_INFINITE, 99, 0};
  weft_spawn(wait_fiber, &w);
  weft_yield();
  CHECK_EQ(weft_stop(&err), 0);
  err = 0;
  CHECK_EQ(WSAWaitForMultipleEvents(1, &e, 0, WSA_INFINITE, &err), WSA_WAIT_FAILED);
  CHECK_EQ(err, WSAENETDOWN);
  for (int i = 0; i < 10 && w.ret == 99; ++i) weft_yield(); /* let the waiter run */
  CHECK_EQ(w.ret, WSA_WAIT_FAILED);
  CHECK_EQ(w.err, WSAENETDOWN);
  CHECK_EQ(WSASetEvent(e, &err), 0); /* signalling never blocks: it still works */
  CHECK_EQ(WSAWaitForMultipleEvents(1, &e, 0, 0, &err), WSA_WAIT_EVENT_0);
  CHECK_EQ(WSACloseEvent(e, &err), 0);
  return 0;
}

/* §8: a plain thread waits (set by another thread), and a fiber's wait is ended by a thread. */
static int test_wait_on_a_plain_thread(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_EVENT a = WSACreateEvent(&err), b = WSACreateEvent(&err);
  struct wait_call w = {2, {a, b}, 0, WSA_INFINITE, 99, 0};
  pthread_t waiter, setter;
  CHECK_EQ(pthread_create(&waiter, NULL, wait_thread, &w), 0);
  CHECK_EQ(pthread_create(&setter, NULL, set_thread, b), 0);
  pthread_join(setter, NULL);
  pthread_join(waiter, NULL);
  CHECK_EQ(w.ret, WSA_WAIT_EVENT_0 + 1);
  /* Time limits and bad arguments there too. */
  CHECK_EQ(WSAResetEvent(b, &err), 0);
  struct wait_call timed = {2, {a, b}, 0, 5, 99, 0};
  CHECK_EQ(pthread_create(&waiter, NULL, wait_thread, &timed), 0);
  pthread_join(waiter, NULL);
  CHECK_EQ(timed.ret, WSA_WAIT_TIMEOUT);
  struct wait_call none = {0, {a}, 0, WSA_INFINITE, 99, 0};
  CHECK_EQ(pthread_create(&waiter, NULL, wait_thread, &none), 0);
  pthread_join(waiter, NULL);
  CHECK_EQ(none.ret, WSA_WAIT_FAILED);
  CHECK_EQ(none.err, WSAEINVAL);
  /* This fiber waits; a thread sets. */
  CHECK_EQ(pthread_create(&setter, NULL, set_thread, a), 0);
  CHECK_EQ(WSAWaitForMultipleEvents(2, w.events, 0, WSA_INFINITE, &err), WSA_WAIT_EVENT_0);
  pthread_join(setter, NULL);
  CHECK_EQ(WSACloseEvent(a, &err), 0);
  CHECK_EQ(WSACloseEvent(b, &err), 0);
  return 0;
}

/* --- network events ---------------------------------------------------------------------- */

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
  char buf[65536];
  long drained = 0;
  while (drained < queued) {
    struct pollfd p = {c.peer, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) break;
    ssize_t got = recv(c.peer, buf, sizeof buf, 0);
    if (got <= 0) break;
    drained += got;
  }
  CHECK_EQ(drained, queued);
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

const struct test wsp_event_tests[] = {
    {"event_create_set_reset_close", test_create_set_reset_close},
    {"event_wait_first_signalled", test_wait_returns_the_first_signalled},
    {"event_wait_timeout", test_wait_timeout},
    {"event_wait_bad_arguments", test_wait_bad_arguments},
    {"event_wait_woken_by_another_fiber", test_wait_woken_by_another_fiber},
    {"event_wait_cancelled_by_another_fiber", test_wait_cancelled_by_another_fiber},
    {"event_wait_cancelled_from_another_thread", test_wait_cancelled_from_another_thread},
    {"event_wait_inside_blocking_hook", test_wait_inside_blocking_hook},
    {"event_wait_at_stop", test_wait_at_stop},
    {"event_wait_on_a_plain_thread", test_wait_on_a_plain_thread},
    {"event_select_bad_arguments", test_event_select_bad_arguments},
    {"event_select_read_and_close", test_event_select_read_and_close},
    {"event_select_close_after_the_data", test_event_select_close_after_the_data},
    {"event_select_close_by_reset", test_event_select_close_by_reset},
    {"event_select_write", test_event_select_write},
    {"event_select_accept", test_event_select_accept},
    {"event_select_connect", test_event_select_connect},
    {"event_select_zero_makes_it_blocking", test_event_select_zero_makes_it_blocking},
    {"event_select_again", test_event_select_again},
    {"event_select_close_ends_the_association", test_close_ends_the_association},
    {"event_select_run_ends_with_an_association_open", test_run_ends_with_an_association_open},
};
const unsigned wsp_event_test_count = sizeof wsp_event_tests / sizeof wsp_event_tests[0];
