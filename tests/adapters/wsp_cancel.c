/* The C adapter: a scenario per row of semantics §2-§5, from C, against POSIX peers. */
#include "harness.h"

/* §2: cancel returns 0 and the call WSAEINTR; the request is per call; no byte lost (§3). */
static int test_cancel_recv(void* arg) {
  (void)arg;
  int err = 0;
  struct conn c = connect_pair();
  struct call_result r = {.s = c.s};
  weft_fiber_t f = weft_spawn(recv_fiber, &r);
  CHECK(f != 0);
  CHECK_EQ(weft_cancel_blocking_call(f, &err), SOCKET_ERROR); /* ready, not yet blocked */
  CHECK_EQ(err, WSAEINVAL);
  weft_yield();
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0);
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0); /* repeated: no further effect */
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(r.ret, SOCKET_ERROR);
  CHECK_EQ(r.err, WSAEINTR);
  CHECK_EQ(weft_cancel_blocking_call(f, &err), SOCKET_ERROR); /* ended */
  CHECK_EQ(err, WSAEINVAL);
  send(c.peer, "abc", 3, 0);
  char buf[8];
  CHECK_EQ(WSPRecv(c.s, buf, sizeof buf, 0, &err), 3);
  CHECK(memcmp(buf, "abc", 3) == 0);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  return 0;
}

/* §3: a send that moved bytes resets; later calls WSAECONNABORTED; close returns 0. */
static void big_send_fiber(void* arg) {
  struct call_result* r = arg;
  static char big[16 << 20];
  memset(big, 'b', sizeof big);
  r->err = 0;
  r->ret = WSPSend(r->s, big, sizeof big, 0, &r->err);
}

static int test_cancel_send_resets_peer(void* arg) {
  (void)arg;
  int err = 0;
  struct conn c = connect_pair();
  struct call_result r = {.s = c.s};
  weft_fiber_t f = weft_spawn(big_send_fiber, &r);
  weft_yield(); /* part went out, then it blocked */
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(r.err, WSAEINTR);
  int peer_error = 0;
  posix_read_to_end(c.peer, &peer_error);
  CHECK_EQ(peer_error, ECONNRESET);
  char b[4];
  CHECK_EQ(WSPRecv(c.s, b, 4, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAECONNABORTED);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  return 0;
}

/* §3: accept and select cancelled leave everything legal. */
static int test_cancel_accept_and_select(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_SOCKET l = WSPSocket(AF_INET, SOCK_STREAM, 0, &err);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ(WSPBind(l, (struct sockaddr*)&addr, sizeof addr, &err), 0);
  CHECK_EQ(WSPListen(l, 8, &err), 0);
  struct call_result ra = {.s = l}, rs = {.s = l};
  weft_fiber_t fa = weft_spawn(accept_fiber, &ra);
  weft_fiber_t fs = weft_spawn(select_fiber, &rs);
  weft_yield();
  CHECK_EQ(weft_cancel_blocking_call(fa, &err), 0);
  CHECK_EQ(weft_cancel_blocking_call(fs, &err), 0);
  CHECK_EQ(weft_join(fa, &err), 0);
  CHECK_EQ(weft_join(fs, &err), 0);
  CHECK_EQ(ra.err, WSAEINTR);
  CHECK_EQ(rs.err, WSAEINTR);
  int len = sizeof addr;
  CHECK_EQ(WSPGetSockName(l, (struct sockaddr*)&addr, &len, &err), 0);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK_EQ(connect(client, (struct sockaddr*)&addr, sizeof addr), 0);
  WEFT_SOCKET a = WSPAccept(l, NULL, NULL, &err);
  CHECK(a != WEFT_INVALID_SOCKET);
  close(client);
  CHECK_EQ(WSPCloseSocket(a, &err), 0);
  CHECK_EQ(WSPCloseSocket(l, &err), 0);
  return 0;
}

/* §3: sleep and join. */
static int test_cancel_sleep_and_join(void* arg) {
  (void)arg;
  int err = 0;
  struct call_result r = {0};
  weft_fiber_t sleeper = weft_spawn(sleep_fiber, &r);
  weft_yield();
  CHECK_EQ(weft_cancel_blocking_call(sleeper, &err), 0);
  CHECK_EQ(weft_join(sleeper, &err), 0);
  CHECK_EQ(r.err, WSAEINTR);
  CHECK_EQ(weft_join(weft_self(), &err), SOCKET_ERROR); /* oneself */
  CHECK_EQ(err, WSAEINVAL);
  CHECK_EQ(weft_sleep_ms(0, &err), 0);
  return 0;
}

/* §5: the blocking hook cancels the call it interrupts; WSAIsBlocking; WSAEINPROGRESS. */
static int g_hook_calls, g_hook_saw_blocking, g_hook_inner_err;
static int cancelling_hook(void) {
  int err = 0;
  ++g_hook_calls;
  g_hook_saw_blocking = WSAIsBlocking();
  if (weft_sleep_ms(1, &err) == SOCKET_ERROR) g_hook_inner_err = err;
  WSPCancelBlockingCall(&err);
  return 0;
}
static int idle_hook(void) { return 0; }

static int test_blocking_hook(void* arg) {
  (void)arg;
  int err = 0;
  struct conn c = connect_pair();
  CHECK(WSASetBlockingHook(cancelling_hook) == NULL);
  char b[8];
  CHECK_EQ(WSPRecv(c.s, b, sizeof b, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEINTR);
  CHECK(g_hook_calls >= 1);
  CHECK_EQ(g_hook_saw_blocking, 1);
  CHECK_EQ(g_hook_inner_err, WSAEINPROGRESS);
  CHECK(WSASetBlockingHook(idle_hook) == cancelling_hook);
  CHECK_EQ(WSAUnhookBlockingHook(), 0);
  CHECK(WSASetBlockingHook(NULL) == NULL);
  CHECK_EQ(WSAIsBlocking(), 0);
  CHECK_EQ(WSPCancelBlockingCall(&err), SOCKET_ERROR); /* nothing outstanding */
  CHECK_EQ(err, WSAEINVAL);
  /* Precise mode: the socket is intact after the hook's cancel. */
  send(c.peer, "ok", 2, 0);
  CHECK_EQ(WSPRecv(c.s, b, sizeof b, 0, &err), 2);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  return 0;
}

/* §5: a fiber message runs during the blocked call and can cancel it. */
static void cancel_from_message(void* arg) {
  int* seen = arg;
  int err = 0;
  *seen = WSAIsBlocking();
  WSPCancelBlockingCall(&err);
}

static int test_fiber_message(void* arg) {
  (void)arg;
  int err = 0;
  struct conn c = connect_pair();
  struct call_result r = {.s = c.s};
  int seen = -1;
  weft_fiber_t f = weft_spawn(recv_fiber, &r);
  weft_yield();
  CHECK_EQ(weft_post(f, cancel_from_message, &seen, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(seen, 1);
  CHECK_EQ(r.err, WSAEINTR);
  CHECK_EQ(weft_post(f, cancel_from_message, &seen, &err), SOCKET_ERROR); /* ended */
  CHECK_EQ(err, WSAEINVAL);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  return 0;
}

/* §5: the provider-side callback. */
static int g_rounds;
static int cancel_on_third(void) {
  int err;
  if (++g_rounds == 3) WSPCancelBlockingCall(&err);
  return 0;
}

static int test_blocking_callback(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_BLOCKINGCALLBACK cb = NULL;
  uintptr_t ctx = 1;
  CHECK_EQ(WPUQueryBlockingCallback(&cb, &ctx, &err), 0);
  CHECK(cb != NULL);
  WSASetBlockingHook(cancel_on_third);
  int keep = 0;
  while (cb(ctx)) ++keep;
  CHECK_EQ(keep, 2);
  WSAUnhookBlockingHook();
  return 0;
}

/* §2: cancel from another OS thread (cancel_thread: harness.h). */
static int test_cross_thread_cancel(void* arg) {
  (void)arg;
  int err = 0;
  struct call_result r = {0};
  weft_fiber_t f = weft_spawn(sleep_fiber, &r);
  struct thread_cancel t = {f, -2};
  pthread_t th;
  pthread_create(&th, NULL, cancel_thread, &t);
  CHECK_EQ(weft_join(f, &err), 0);
  pthread_join(th, NULL);
  CHECK_EQ(t.reply, 0);
  CHECK_EQ(r.err, WSAEINTR);
  return 0;
}

/* §3: a cancelled connect aborts the handle; pending_connects counts the held socket. */
static void connect_fiber(void* arg) {
  struct call_result* r = arg;
  struct sockaddr_in* addr = (struct sockaddr_in*)r->buf;
  r->err = 0;
  r->ret = WSPConnect(r->s, (struct sockaddr*)addr, sizeof *addr, &r->err);
}

static int test_cancel_connect(void* arg) {
  (void)arg;
  int err = 0;
  struct sockaddr_in addr;
  int l = posix_listener(&addr);
  listen(l, 0); /* one queued connection fills it; further SYNs are dropped */
  int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  connect(filler, (struct sockaddr*)&addr, sizeof addr);
  struct call_result r = {0};
  r.s = WSPSocket(AF_INET, SOCK_STREAM, 0, &err);
  memcpy(r.buf, &addr, sizeof addr);
  weft_fiber_t f = weft_spawn(connect_fiber, &r);
  weft_yield();
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(r.err, WSAEINTR);
  struct weft_stats st;
  CHECK_EQ(weft_get_stats(&st, &err), 0);
  CHECK_EQ(st.pending_connects, 1);
  char b[2];
  CHECK_EQ(WSPSend(r.s, b, 1, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAECONNABORTED);
  CHECK_EQ(WSPCloseSocket(r.s, &err), 0);
  close(filler);
  close(l); /* the attempt now fails: the reaper frees it, and weft_run waits for that */
  return 0;
}

/* Portable mode: a cancelled recv resets the socket. */
static int test_portable_mode(void* arg) {
  (void)arg;
  int err = 0;
  CHECK_EQ(weft_set_portable_mode(1), 0);
  struct conn c = connect_pair();
  struct call_result r = {.s = c.s};
  weft_fiber_t f = weft_spawn(recv_fiber, &r);
  weft_yield();
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(r.err, WSAEINTR);
  char b[2];
  CHECK_EQ(WSPRecv(c.s, b, 1, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAECONNABORTED);
  CHECK_EQ(weft_set_portable_mode(0), 1);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  return 0;
}

/* §2: a cancel that finds the call completed returns 0; the call returns its result. Equal
 * due times fire in arming order: ours first, then the sleeper's, in one pass. */
struct timed_sleep {
  unsigned ms;
  int ret, err;
};
static void timed_sleep_fiber(void* arg) {
  struct timed_sleep* t = arg;
  t->err = 0;
  t->ret = weft_sleep_ms(t->ms, &t->err);
}

static int test_cancel_after_completion(void* arg) {
  (void)arg;
  int err = 0;
  struct timed_sleep t = {50, -2, 0};
  weft_fiber_t f = weft_spawn(timed_sleep_fiber, &t);
  CHECK_EQ(weft_sleep_ms(50, &err), 0); /* armed first (the sleeper starts after we block) */
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  /* Either the sleeper's timer had fixed the outcome (normal result) or, if it was armed a
   * tick later, the cancel won (WSAEINTR): both replies are 0, and the call says which. */
  CHECK(t.ret == 0 || t.err == WSAEINTR);
  return 0;
}

static void tail_send_fiber(void* arg) {
  struct call_result* r = arg;
  r->err = 0;
  r->ret = WSPSend(r->s, "tail", 4, 0, &r->err);
}

/* One try of the row below. The kernel may make room in a send buffer it has just reported
 * full (acknowledgements still on their way free what they acknowledge), and the send then
 * goes out whole, or in part before it blocks, instead of blocking with nothing moved: such
 * a try is checked against its own row (§3: a completed send's bytes arrive after the queued
 * ones; a cancelled send that moved some resets the connection) and does not count. */
static void try_cancel_send_nothing_moved(int* nothing_moved) {
  int err = 0;
  struct conn c = connect_pair();
  static char chunk[65536];
  long queued = 0;
  int n;
  while ((n = WSPSend(c.s, chunk, sizeof chunk, MSG_DONTWAIT, &err)) > 0) queued += n;
  CHECK_EQ(err, WSAEWOULDBLOCK);
  while ((n = WSPSend(c.s, chunk, 1, MSG_DONTWAIT, &err)) > 0) queued += n;
  struct call_result r = {.s = c.s};
  weft_fiber_t f = weft_spawn(tail_send_fiber, &r);
  weft_yield(); /* blocked, or done if it found room */
  const int blocked = weft_cancel_blocking_call(f, &err) == 0;
  if (!blocked) CHECK_EQ(err, WSAEINVAL);
  CHECK_EQ(weft_join(f, &err), 0);
  char buf[16];
  if (!blocked) {
    CHECK_EQ(r.ret, 4);
    CHECK_EQ(posix_drain(c.peer, queued + 4), queued + 4);
  } else {
    CHECK_EQ(r.ret, SOCKET_ERROR);
    CHECK_EQ(r.err, WSAEINTR);
    /* Nothing moved: the socket is as it was (a recv would wait); else it was reset. */
    CHECK_EQ(WSPRecv(c.s, buf, sizeof buf, MSG_DONTWAIT, &err), SOCKET_ERROR);
    if (err == WSAEWOULDBLOCK) {
      *nothing_moved = 1;
      /* Unchanged: the peer drains, and a later send arrives intact. */
      CHECK_EQ(posix_drain(c.peer, queued), queued);
      CHECK_EQ(WSPSend(c.s, "next", 4, 0, &err), 4);
      CHECK_EQ(recv(c.peer, buf, sizeof buf, 0), 4);
      CHECK(memcmp(buf, "next", 4) == 0);
    } else {
      CHECK_EQ(err, WSAECONNABORTED);
      int peer_error = 0;
      posix_read_to_end(c.peer, &peer_error);
      CHECK_EQ(peer_error, ECONNRESET);
    }
  }
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
}

/* §3: send with nothing transferred leaves the socket unchanged. Tried until a send blocked
 * with nothing moved (nearly always the first try); each try is checked whatever happened. */
static int test_cancel_send_nothing_moved(void* arg) {
  (void)arg;
  int nothing_moved = 0;
  for (int i = 0; i < 50 && !nothing_moved; ++i) try_cancel_send_nothing_moved(&nothing_moved);
  CHECK(nothing_moved);
  return 0;
}

/* §3: join. */
struct join_args {
  weft_fiber_t target;
  int ret, err;
};
static void join_fiber(void* arg) {
  struct join_args* j = arg;
  j->err = 0;
  j->ret = weft_join(j->target, &j->err);
}

static int test_cancel_join(void* arg) {
  (void)arg;
  int err = 0;
  struct timed_sleep t = {30, -2, 0};
  weft_fiber_t target = weft_spawn(timed_sleep_fiber, &t);
  struct join_args j = {target, -2, 0};
  weft_fiber_t joiner = weft_spawn(join_fiber, &j);
  weft_yield();
  CHECK_EQ(weft_cancel_blocking_call(joiner, &err), 0);
  CHECK_EQ(weft_join(joiner, &err), 0);
  CHECK_EQ(j.err, WSAEINTR);
  CHECK_EQ(t.ret, -2); /* the target runs on */
  CHECK_EQ(weft_join(target, &err), 0);
  CHECK_EQ(t.ret, 0);
  return 0;
}

/* §4: the close/linger rows. */
static int test_close_linger_rows(void* arg) {
  (void)arg;
  int err = 0, peer_error = 0;
  /* off: graceful, the peer gets the data then EOF */
  struct conn c = connect_pair();
  CHECK_EQ(WSPSend(c.s, "bye", 3, 0, &err), 3);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  CHECK_EQ(posix_read_to_end(c.peer, &peer_error), 3);
  CHECK_EQ(peer_error, 0);
  close_pair(&c);
  /* {1,0}: abortive, the peer sees ECONNRESET */
  c = connect_pair();
  struct linger rst = {1, 0};
  CHECK_EQ(WSPSetSockOpt(c.s, SOL_SOCKET, SO_LINGER, (char*)&rst, sizeof rst, &err), 0);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  posix_read_to_end(c.peer, &peer_error);
  CHECK_EQ(peer_error, ECONNRESET);
  close_pair(&c);
  /* {1,t}: the peer acknowledges everything: graceful, close returns 0 */
  c = connect_pair();
  struct linger wait = {1, 5};
  CHECK_EQ(WSPSetSockOpt(c.s, SOL_SOCKET, SO_LINGER, (char*)&wait, sizeof wait, &err), 0);
  CHECK_EQ(WSPSend(c.s, "data", 4, 0, &err), 4);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  CHECK_EQ(posix_read_to_end(c.peer, &peer_error), 4);
  CHECK_EQ(peer_error, 0);
  close_pair(&c);
  return 0;
}

/* §3: a cancelled lingering close resets; the handle stays valid until closed again. */
struct close_args {
  WEFT_SOCKET s;
  int ret, err;
};
static void close_fiber(void* arg) {
  struct close_args* a = arg;
  a->err = 0;
  a->ret = WSPCloseSocket(a->s, &a->err);
}

static int test_cancel_lingering_close(void* arg) {
  (void)arg;
  int err = 0, peer_error = 0;
  struct conn c = connect_pair();
  int small = 4096;
  setsockopt(c.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  static char chunk[65536];
  while (WSPSend(c.s, chunk, sizeof chunk, MSG_DONTWAIT, &err) > 0) {}
  struct linger wait = {1, 30};
  CHECK_EQ(WSPSetSockOpt(c.s, SOL_SOCKET, SO_LINGER, (char*)&wait, sizeof wait, &err), 0);
  struct close_args a = {c.s, -2, 0};
  weft_fiber_t f = weft_spawn(close_fiber, &a);
  weft_yield(); /* it lingers: the peer reads nothing */
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(a.err, WSAEINTR);
  posix_read_to_end(c.peer, &peer_error);
  CHECK_EQ(peer_error, ECONNRESET);
  char b[2];
  CHECK_EQ(WSPRecv(c.s, b, 1, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAECONNABORTED);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  return 0;
}

/* §2: the runtime stopping: outstanding calls and cancels report WSAENETDOWN. */
static int test_stop(void* arg) {
  (void)arg;
  int err = 0;
  struct call_result r = {0};
  weft_fiber_t f = weft_spawn(sleep_fiber, &r);
  weft_yield();
  CHECK_EQ(weft_stop(&err), 0);
  CHECK_EQ(weft_cancel_blocking_call(f, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAENETDOWN);
  CHECK_EQ(weft_join(f, &err), SOCKET_ERROR); /* blocking calls fail at once now */
  CHECK_EQ(err, WSAENETDOWN);
  for (int i = 0; i < 10 && r.err == 0; ++i) weft_yield(); /* let the sleeper run */
  CHECK_EQ(r.err, WSAENETDOWN);
  return 0;
}

const struct test wsp_cancel_tests[] = {
    {"cancel_recv", test_cancel_recv},
    {"cancel_send_resets", test_cancel_send_resets_peer},
    {"cancel_accept_and_select", test_cancel_accept_and_select},
    {"cancel_sleep_and_join", test_cancel_sleep_and_join},
    {"blocking_hook", test_blocking_hook},
    {"fiber_message", test_fiber_message},
    {"blocking_callback", test_blocking_callback},
    {"cross_thread_cancel", test_cross_thread_cancel},
    {"cancel_connect", test_cancel_connect},
    {"portable_mode", test_portable_mode},
    {"cancel_after_completion", test_cancel_after_completion},
    {"cancel_send_nothing_moved", test_cancel_send_nothing_moved},
    {"cancel_join", test_cancel_join},
    {"close_linger_rows", test_close_linger_rows},
    {"cancel_lingering_close", test_cancel_lingering_close},
    {"stop", test_stop},
};
const unsigned wsp_cancel_test_count = sizeof wsp_cancel_tests / sizeof wsp_cancel_tests[0];
