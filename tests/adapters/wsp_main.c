/* The C adapter's test program: runs every test of wsp_calls.c and wsp_cancel.c, each in its own
 * weft_run, and prints "N passed, M failed". */
#include "harness.h"

int g_failed_checks;

static int returns_seven(void* arg) {
  (void)arg;
  CHECK(weft_self() != 0);
  return 7;
}

int main(void) {
  int passed = 0, failed = 0;
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
  if (g_failed_checks) {
    printf("FAIL outside_fiber\n");
    ++failed;
  } else {
    printf("ok   outside_fiber\n");
    ++passed;
  }
  const struct test* tables[] = {wsp_call_tests, wsp_cancel_tests};
  const unsigned counts[] = {wsp_call_test_count, wsp_cancel_test_count};
  for (unsigned t = 0; t < 2; ++t) {
    for (unsigned i = 0; i < counts[t]; ++i) {
      g_failed_checks = 0;
      int rc = weft_run(tables[t][i].fn, NULL);
      if (rc != 0 || g_failed_checks) {
        printf("FAIL %s\n", tables[t][i].name);
        ++failed;
      } else {
        printf("ok   %s\n", tables[t][i].name);
        ++passed;
      }
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
