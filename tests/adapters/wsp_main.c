/* The C adapter's test program: runs every test of wsp_run.c, each in a child process, then
 * every test of wsp_calls.c, wsp_cancel.c, wsp_events.c and wsp_event_select.c, each in its own
 * weft_run, and prints "N passed, S skipped, M failed". */
#include "harness.h"

#include <sys/wait.h>

int g_failed_checks;

static int g_passed, g_skipped, g_failed;

static void report(const char* name, int rc) {
  if (rc == WSP_TEST_SKIP && !g_failed_checks) {
    printf("skip %s\n", name);
    ++g_skipped;
  } else if (rc != 0 || g_failed_checks) {
    printf("FAIL %s\n", name);
    ++g_failed;
  } else {
    printf("ok   %s\n", name);
    ++g_passed;
  }
}

/* Runs t in a child process, so that a crash fails t alone and the other tests still report.
 * These run first, while this process has no thread but the main one: a child of a process
 * with other threads could inherit a lock one of them held. */
static void run_isolated(const struct test* t) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    g_failed_checks = 0;
    int rc = t->fn(NULL);
    fflush(stdout);
    _exit(g_failed_checks ? 1 : rc);
  }
  int status = 0;
  g_failed_checks = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) {
    fprintf(stderr, "%s: could not run it in a child process\n", t->name);
    report(t->name, 1);
  } else if (WIFSIGNALED(status)) {
    fprintf(stderr, "%s: killed by signal %d\n", t->name, WTERMSIG(status));
    report(t->name, 1);
  } else {
    report(t->name, WEXITSTATUS(status));
  }
}

static int returns_seven(void* arg) {
  (void)arg;
  CHECK(weft_self() != 0);
  return 7;
}

int main(void) {
  for (unsigned i = 0; i < wsp_run_test_count; ++i) run_isolated(&wsp_run_tests[i]);
  /* Outside any fiber. */
  int err = 0;
  g_failed_checks = 0;
  CHECK(WSPSocket(AF_INET, SOCK_STREAM, 0, &err) == WEFT_INVALID_SOCKET);
  CHECK_EQ(err, WSAEINVAL);
  CHECK_EQ(weft_self(), 0);
  CHECK_EQ(weft_run(returns_seven, NULL), 7);
  CHECK_EQ(weft_run(returns_seven, NULL), 7); /* again: a new runtime */
  CHECK_EQ(weft_run(NULL, NULL), SOCKET_ERROR);
  CHECK_EQ(weft_stop(&err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEINVAL);
  report("outside_fiber", 0);
  const struct test* tables[] = {wsp_call_tests, wsp_cancel_tests, wsp_event_tests,
                                 wsp_event_select_tests};
  const unsigned counts[] = {wsp_call_test_count, wsp_cancel_test_count, wsp_event_test_count,
                             wsp_event_select_test_count};
  for (unsigned t = 0; t < sizeof counts / sizeof counts[0]; ++t) {
    for (unsigned i = 0; i < counts[t]; ++i) {
      g_failed_checks = 0;
      report(tables[t][i].name, weft_run(tables[t][i].fn, NULL));
    }
  }
  printf("%d passed, %d skipped, %d failed\n", g_passed, g_skipped, g_failed);
  return g_failed ? 1 : 0;
}
