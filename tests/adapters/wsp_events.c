/* The C adapter's events: WSACreateEvent ... WSAWaitForMultipleEvents (a blocking call like any
 * other: semantics §2, §5, §8); WSPEventSelect and WSPEnumNetworkEvents are wsp_event_select.c's.
 * No check depends on timing: a wait that must end is made without a time limit, and one that must
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
};
const unsigned wsp_event_test_count = sizeof wsp_event_tests / sizeof wsp_event_tests[0];
