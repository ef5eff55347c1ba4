/* The C adapter's tests: a small harness (checks, POSIX peers, fibers used by the scenarios)
 * shared by wsp_calls.c (every function), wsp_cancel.c (a scenario per cancel row), wsp_events.c
 * (events), wsp_event_select.c (network-event selection) and wsp_run.c (weft_run and weft_run_ex
 * themselves). */
#ifndef WEFT_WSP_TEST_HARNESS_H
#define WEFT_WSP_TEST_HARNESS_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <weft/wsp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern int g_failed_checks;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failed_checks;                                                       \
    }                                                                          \
  } while (0)
#define CHECK_EQ(a, b)                                                                             \
  do {                                                                                             \
    long long va_ = (long long)(a), vb_ = (long long)(b);                                          \
    if (va_ != vb_) {                                                                              \
      fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, va_, #b, \
              vb_);                                                                                \
      ++g_failed_checks;                                                                           \
    }                                                                                              \
  } while (0)

/* --- POSIX peers ------------------------------------------------------------------------- */

static inline int posix_listener(struct sockaddr_in* addr) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(l, (struct sockaddr*)addr, sizeof *addr);
  listen(l, 16);
  socklen_t len = sizeof *addr;
  getsockname(l, (struct sockaddr*)addr, &len);
  return l;
}

static inline int posix_accept(int l) {
  struct pollfd p = {l, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) return -1;
  return accept4(l, NULL, NULL, SOCK_CLOEXEC);
}

/* Reads until EOF or error; returns the bytes read, *error gets errno (ECONNRESET for RST). */
static inline long posix_read_to_end(int fd, int* error) {
  char buf[4096];
  long total = 0;
  *error = 0;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) {
      *error = ETIMEDOUT;
      return total;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      total += n;
    } else if (n == 0) {
      return total;
    } else {
      *error = errno;
      return total;
    }
  }
}

/* A weft socket connected to a POSIX peer. */
struct conn {
  int listener, peer;
  WEFT_SOCKET s;
};

static inline struct conn connect_pair(void) {
  struct conn c;
  struct sockaddr_in addr;
  int err = 0;
  c.listener = posix_listener(&addr);
  c.s = WSPSocket(AF_INET, SOCK_STREAM, 0, &err);
  CHECK(c.s != WEFT_INVALID_SOCKET);
  CHECK_EQ(WSPConnect(c.s, (struct sockaddr*)&addr, sizeof addr, &err), 0);
  c.peer = posix_accept(c.listener);
  CHECK(c.peer >= 0);
  return c;
}

/* Reads from fd until `expected` bytes have come (or nothing comes for 5 s, or the end):
 * returns how many came. */
static inline long posix_drain(int fd, long expected) {
  char buf[65536];
  long drained = 0;
  while (drained < expected) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) break;
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got <= 0) break;
    drained += got;
  }
  return drained;
}

static inline void close_pair(struct conn* c) {
  close(c->peer);
  close(c->listener);
}

/* --- events and weft's own sockets ------------------------------------------------------ */

/* Looks without waiting: is e signalled? */
static inline int is_signalled(WEFT_EVENT e) {
  int err = 0;
  return WSAWaitForMultipleEvents(1, &e, 0, 0, &err) == WSA_WAIT_EVENT_0;
}

/* Waits for e without a time limit, then takes s's recorded events (and resets e). */
static inline long next_events(WEFT_SOCKET s, WEFT_EVENT e, weft_network_events* ne) {
  int err = 0;
  CHECK_EQ(WSAWaitForMultipleEvents(1, &e, 0, WSA_INFINITE, &err), WSA_WAIT_EVENT_0);
  CHECK_EQ(WSPEnumNetworkEvents(s, e, ne, &err), 0);
  return ne->lNetworkEvents;
}

/* A weft listener on the loopback, and its address. */
static inline WEFT_SOCKET weft_listener(struct sockaddr_in* addr, int listening) {
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

static inline int posix_client(const struct sockaddr_in* addr) {
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK_EQ(connect(c, (const struct sockaddr*)addr, sizeof *addr), 0);
  return c;
}

/* --- fibers used by the scenarios --------------------------------------------------------- */

struct call_result {
  WEFT_SOCKET s;
  int ret, err;
  char buf[64];
};

static inline void recv_fiber(void* arg) {
  struct call_result* r = arg;
  r->err = 0;
  r->ret = WSPRecv(r->s, r->buf, sizeof r->buf, 0, &r->err);
}

static inline void accept_fiber(void* arg) {
  struct call_result* r = arg;
  r->err = 0;
  r->ret = (int)(WSPAccept(r->s, NULL, NULL, &r->err) == WEFT_INVALID_SOCKET ? SOCKET_ERROR : 0);
}

static inline void sleep_fiber(void* arg) {
  struct call_result* r = arg;
  r->err = 0;
  r->ret = weft_sleep_ms(3600 * 1000, &r->err);
}

static inline void select_fiber(void* arg) {
  struct call_result* r = arg;
  weft_fd_set set;
  WEFT_FD_ZERO(&set);
  WEFT_FD_SET(r->s, &set);
  r->err = 0;
  r->ret = WSPSelect(0, &set, NULL, NULL, NULL, &r->err);
}

/* A test returns 0, or WSP_TEST_SKIP when the machine cannot run it (it says why on stderr);
 * a failed CHECK fails it either way. */
#define WSP_TEST_SKIP 77

struct test {
  const char* name;
  int (*fn)(void*);
};

/* Each file's table of tests. Those of wsp_calls.c, wsp_cancel.c, wsp_events.c and
 * wsp_event_select.c run as a
 * weft_run's main fiber; those of wsp_run.c call weft_run or weft_run_ex themselves, each in a
 * child process of its own, since what they test fails by crashing (a stack overflow aborts). */
extern const struct test wsp_call_tests[];
extern const unsigned wsp_call_test_count;
extern const struct test wsp_cancel_tests[];
extern const unsigned wsp_cancel_test_count;
extern const struct test wsp_event_tests[];
extern const unsigned wsp_event_test_count;
extern const struct test wsp_event_select_tests[];
extern const unsigned wsp_event_select_test_count;
extern const struct test wsp_run_tests[];
extern const unsigned wsp_run_test_count;

/* A plain OS thread's cancel of `target`'s blocking call (pthread_create(..., cancel_thread,
 * &t)): it retries while weft_cancel_blocking_call answers WSAEINVAL (the call is not yet
 * outstanding), then keeps the reply. */
struct thread_cancel {
  weft_fiber_t target;
  int reply;
};
static inline void* cancel_thread(void* arg) {
  struct thread_cancel* t = (struct thread_cancel*)arg;
  int err = 0, rc;
  while ((rc = weft_cancel_blocking_call(t->target, &err)) == SOCKET_ERROR && err == WSAEINVAL) {
    sched_yield();
  }
  t->reply = rc;
  return NULL;
}

#endif
