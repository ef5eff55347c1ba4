/* weft_run and weft_run_ex: the stack every fiber gets, the runtime's options, bad options.
 * Each test calls them itself, outside any fiber; wsp_main.c runs each in a child process,
 * since a stack too small for a test's buffer aborts the process. */
#include "harness.h"

/* --- a POSIX peer that sends a known pattern ----------------------------------------------- */

static char pattern_byte(size_t i) { return (char)(i * 7 % 251); }

struct pattern_sender {
  int fd;
  size_t len;
};

/* On a thread of its own: the fiber's receives and this thread's sends interleave as the
 * socket buffers allow. */
static void* send_pattern(void* arg) {
  struct pattern_sender* p = arg;
  char chunk[4096];
  size_t sent = 0;
  while (sent < p->len) {
    size_t n = p->len - sent < sizeof chunk ? p->len - sent : sizeof chunk;
    for (size_t i = 0; i < n; ++i) chunk[i] = pattern_byte(sent + i);
    ssize_t k = send(p->fd, chunk, n, MSG_NOSIGNAL);
    if (k <= 0) break;
    sent += (size_t)k;
  }
  return NULL;
}

/* Fills buf (on the caller's fiber stack) with WSPRecv from a POSIX peer sending len bytes,
 * and checks every byte. Returns 0 if all arrived intact. */
static int receive_pattern(char* buf, size_t len) {
  int err = 0;
  struct conn c = connect_pair();
  struct pattern_sender p = {c.peer, len};
  pthread_t sender;
  CHECK_EQ(pthread_create(&sender, NULL, send_pattern, &p), 0);
  size_t got = 0;
  while (got < len) {
    int n = WSPRecv(c.s, buf + got, (int)(len - got), 0, &err);
    CHECK(n > 0);
    if (n <= 0) break;
    got += (size_t)n;
  }
  pthread_join(sender, NULL);
  size_t wrong = 0;
  for (size_t i = 0; i < got; ++i) wrong += buf[i] != pattern_byte(i);
  CHECK_EQ(got, len);
  CHECK_EQ(wrong, 0);
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  return got == len && wrong == 0 ? 0 : 1;
}

/* --- the default stack --------------------------------------------------------------------- */

/* C written for Winsock keeps its receive buffer on the stack, in the function that calls
 * WSPRecv. */
static int receive_into_64k_on_the_stack(void) {
  char buf[65536];
  memset(buf, 0, sizeof buf); /* every page of it touched */
  return receive_pattern(buf, sizeof buf);
}

static int main_with_a_64k_buffer(void* arg) {
  (void)arg;
  return receive_into_64k_on_the_stack();
}

static void fiber_with_a_64k_buffer(void* arg) { *(int*)arg = receive_into_64k_on_the_stack(); }

static int main_spawning_a_64k_buffer_fiber(void* arg) {
  (void)arg;
  int err = 0, result = -1;
  weft_fiber_t f = weft_spawn(fiber_with_a_64k_buffer, &result);
  CHECK(f != 0);
  CHECK_EQ(weft_join(f, &err), 0);
  return result;
}

static int test_default_stack_holds_a_64k_buffer(void* arg) {
  (void)arg;
  struct weft_run_options zero = {0, 0};
  CHECK_EQ(weft_run(main_with_a_64k_buffer, NULL), 0);
  CHECK_EQ(weft_run(main_spawning_a_64k_buffer_fiber, NULL), 0);
  CHECK_EQ(weft_run_ex(main_with_a_64k_buffer, NULL, NULL), 0);
  CHECK_EQ(weft_run_ex(main_spawning_a_64k_buffer_fiber, NULL, &zero), 0);
  return 0;
}

/* --- weft_run_ex's options ----------------------------------------------------------------- */

/* More than the default stack holds: runs only on the stack size the options chose. */
static void fiber_with_a_384k_buffer(void* arg) {
  char buf[384 * 1024];
  memset(buf, 0, sizeof buf);
  *(int*)arg = receive_pattern(buf, sizeof buf);
}

static int main_big_stacks_portable(void* arg) {
  (void)arg;
  int err = 0, result = -1;
  /* The stack size applies to every fiber of the runtime, not only the main one. */
  weft_fiber_t f = weft_spawn(fiber_with_a_384k_buffer, &result);
  CHECK(f != 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(result, 0);
  /* Portable mode from the start: a cancelled recv resets the socket (semantics §3). */
  struct conn c = connect_pair();
  struct call_result r = {.s = c.s};
  f = weft_spawn(recv_fiber, &r);
  weft_yield();
  CHECK_EQ(weft_cancel_blocking_call(f, &err), 0);
  CHECK_EQ(weft_join(f, &err), 0);
  CHECK_EQ(r.ret, SOCKET_ERROR);
  CHECK_EQ(r.err, WSAEINTR);
  char b[2];
  CHECK_EQ(WSPRecv(c.s, b, 1, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAECONNABORTED);
  CHECK_EQ(weft_set_portable_mode(0), 1); /* it was on */
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  return 0;
}

/* Precise mode by default: the previous setting, as main_fn's result. */
static int main_reporting_portable_mode(void* arg) {
  (void)arg;
  return weft_set_portable_mode(0);
}

static int test_run_ex_applies_its_options(void* arg) {
  (void)arg;
  struct weft_run_options opts = {512 * 1024, 1};
  CHECK_EQ(weft_run_ex(main_big_stacks_portable, NULL, &opts), 0);
  opts.stack_size = 0; /* the default size, portable mode still */
  CHECK_EQ(weft_run_ex(main_reporting_portable_mode, NULL, &opts), 1);
  opts.portable_mode = 0;
  CHECK_EQ(weft_run_ex(main_reporting_portable_mode, NULL, &opts), 0);
  CHECK_EQ(weft_run_ex(main_reporting_portable_mode, NULL, NULL), 0);
  return 0;
}

/* --- bad options: an error, never a crash -------------------------------------------------- */

static int g_runs;

static int counts_its_run(void* arg) {
  (void)arg;
  ++g_runs;
  return 5;
}

static int main_calling_run_again(void* arg) {
  (void)arg;
  /* This thread already runs a runtime. */
  CHECK_EQ(weft_run_ex(counts_its_run, NULL, NULL), SOCKET_ERROR);
  CHECK_EQ(weft_run(counts_its_run, NULL), SOCKET_ERROR);
  return 0;
}

static int test_run_ex_bad_options(void* arg) {
  (void)arg;
  struct weft_run_options opts = {0, 0};
  CHECK_EQ(weft_run_ex(NULL, NULL, NULL), SOCKET_ERROR);
  CHECK_EQ(weft_run_ex(NULL, NULL, &opts), SOCKET_ERROR);
  opts.stack_size = SIZE_MAX; /* rounding it up to whole pages would wrap around */
  CHECK_EQ(weft_run_ex(counts_its_run, NULL, &opts), SOCKET_ERROR);
  opts.stack_size = SIZE_MAX / 4; /* more than any address space */
  CHECK_EQ(weft_run_ex(counts_its_run, NULL, &opts), SOCKET_ERROR);
  CHECK_EQ(g_runs, 0);
  opts.stack_size = 1; /* raised to the smallest stack weft makes */
  CHECK_EQ(weft_run_ex(counts_its_run, NULL, &opts), 5);
  CHECK_EQ(g_runs, 1);
  CHECK_EQ(weft_run_ex(main_calling_run_again, NULL, NULL), 0);
  CHECK_EQ(g_runs, 1);
  return 0;
}

const struct test wsp_run_tests[] = {
    {"default_stack_holds_a_64k_buffer", test_default_stack_holds_a_64k_buffer},
    {"run_ex_applies_its_options", test_run_ex_applies_its_options},
    {"run_ex_bad_options", test_run_ex_bad_options},
};
const unsigned wsp_run_test_count = sizeof wsp_run_tests / sizeof wsp_run_tests[0];
