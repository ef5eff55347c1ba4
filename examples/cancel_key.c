/* weft-cancel-key: Winsock's "Cancel option" scenario, in C on the adapter.
 *
 *   weft-cancel-key HOST-IPv4 PORT
 *
 * Connects, then blocks in WSPRecv printing whatever arrives. A blocking hook reads the
 * terminal without blocking; pressing `c` cancels the call with WSPCancelBlockingCall (the
 * recv returns WSAEINTR), after which the client resets the connection with SO_LINGER {1,0}
 * and WSPCloseSocket. Any other key is ignored; the peer closing ends the program too. */
#include <weft/wsp.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios g_saved;
static int g_raw;

/* Single keys without Enter when stdin is a terminal. */
static void terminal_raw(void) {
  if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &g_saved) != 0) return;
  struct termios raw = g_saved;
  raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) g_raw = 1;
}

static void terminal_restore(void) {
  if (g_raw) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved);
}

/* The blocking hook: runs while WSPRecv waits. Never blocks: poll with a zero timeout. */
static int key_hook(void) {
  struct pollfd p = {STDIN_FILENO, POLLIN, 0};
  if (poll(&p, 1, 0) != 1) return 0;
  char key;
  if (read(STDIN_FILENO, &key, 1) != 1) return 0;
  if (key == 'c' || key == 'C') {
    int err;
    if (WSPCancelBlockingCall(&err) == 0) {
      fprintf(stderr, "weft-cancel-key: cancel requested\n");
    }
  }
  return 1; /* processed a key: Winsock calls the hook again until it has nothing to do */
}

struct args {
  const char* host;
  int port;
};

static int client(void* arg) {
  const struct args* a = arg;
  int err = 0;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)a->port);
  if (inet_pton(AF_INET, a->host, &addr.sin_addr) != 1) {
    fprintf(stderr, "weft-cancel-key: %s is not an IPv4 address\n", a->host);
    return 2;
  }
  WEFT_SOCKET s = WSPSocket(AF_INET, SOCK_STREAM, 0, &err);
  if (s == WEFT_INVALID_SOCKET || WSPConnect(s, (struct sockaddr*)&addr, sizeof addr, &err) != 0) {
    fprintf(stderr, "weft-cancel-key: cannot connect (error %d)\n", err);
    return 1;
  }
  printf("connected; press c to cancel the blocked receive\n");
  fflush(stdout);
  WSASetBlockingHook(key_hook);
  char buf[512];
  int status = 0;
  for (;;) {
    int n = WSPRecv(s, buf, sizeof buf, 0, &err);
    if (n > 0) {
      fwrite(buf, 1, (size_t)n, stdout);
      fflush(stdout);
      continue;
    }
    if (n == 0) {
      printf("the peer closed the connection\n");
      break;
    }
    if (err == WSAEINTR) {
      printf("cancelled: WSPRecv returned WSAEINTR; resetting the connection\n");
      struct linger rst = {1, 0};
      if (WSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, (const char*)&rst, sizeof rst, &err) != 0)
        status = 1;
      break;
    }
    printf("receive failed: error %d\n", err);
    status = 1;
    break;
  }
  WSAUnhookBlockingHook();
  if (WSPCloseSocket(s, &err) != 0) status = 1;
  fflush(stdout);
  return status;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s HOST-IPv4 PORT\n", argv[0]);
    return 2;
  }
  struct args a = {argv[1], atoi(argv[2])};
  if (a.port <= 0 || a.port > 65535) {
    fprintf(stderr, "weft-cancel-key: bad port %s\n", argv[2]);
    return 2;
  }
  terminal_raw();
  int rc = weft_run(client, &a);
  terminal_restore();
  return rc;
}
