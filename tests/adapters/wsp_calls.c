/* The C adapter: every function, from C, against POSIX peers. */
#include "harness.h"

static int test_fd_set(void* arg) {
  (void)arg;
  weft_fd_set set;
  WEFT_FD_ZERO(&set);
  CHECK_EQ(set.fd_count, 0);
  WEFT_FD_SET(7, &set);
  WEFT_FD_SET(7, &set); /* no duplicates */
  WEFT_FD_SET(9, &set);
  CHECK_EQ(set.fd_count, 2);
  CHECK(WEFT_FD_ISSET(9, &set));
  CHECK(!WEFT_FD_ISSET(8, &set));
  for (WEFT_SOCKET i = 100; i < 200; ++i) WEFT_FD_SET(i, &set); /* stops at the limit */
  CHECK_EQ(set.fd_count, WEFT_FD_SETSIZE);
  CHECK(!WEFT_FD_ISSET(1, NULL));
  WEFT_FD_ZERO(NULL);
  return 0;
}

static int test_bad_input(void* arg) {
  (void)arg;
  int err = 0;
  char b[8];
  CHECK_EQ(WSPRecv(1, b, 8, 0, NULL), SOCKET_ERROR); /* null lpErrno: nothing written, no crash */
  CHECK(WSPSocket(AF_INET, SOCK_STREAM, 0, NULL) == WEFT_INVALID_SOCKET);
  CHECK_EQ(WSPCloseSocket(12345, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAENOTSOCK);
  CHECK_EQ(WSPRecv(WEFT_INVALID_SOCKET, b, 8, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAENOTSOCK);
  WEFT_SOCKET s = WSPSocket(AF_INET, SOCK_STREAM, 0, &err);
  CHECK_EQ(WSPRecv(s, NULL, 8, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  CHECK_EQ(WSPSend(s, b, -1, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  CHECK_EQ(WSPBind(s, NULL, 16, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  struct sockaddr_in sin = {0};
  sin.sin_family = AF_INET;
  CHECK_EQ(WSPBind(s, (struct sockaddr*)&sin, 4, &err), SOCKET_ERROR); /* short */
  CHECK_EQ(err, WSAEFAULT);
  CHECK(WSPSocket(AF_UNIX, SOCK_STREAM, 0, &err) == WEFT_INVALID_SOCKET);
  CHECK_EQ(err, WSAEAFNOSUPPORT);
  CHECK_EQ(WSPShutdown(s, 99, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEINVAL);
  int one = 1, len = 1;
  CHECK_EQ(WSPSetSockOpt(s, SOL_SOCKET, SO_DEBUG, (char*)&one, sizeof one, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAENOPROTOOPT);
  CHECK_EQ(WSPGetSockOpt(s, SOL_SOCKET, SO_TYPE, (char*)&one, &len, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  CHECK_EQ(WSPGetSockName(s, NULL, &len, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  weft_fd_set big;
  big.fd_count = WEFT_FD_SETSIZE + 1;
  CHECK_EQ(WSPSelect(0, &big, NULL, NULL, NULL, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEINVAL);
  CHECK_EQ(WSPSelect(0, NULL, NULL, NULL, NULL, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEINVAL);
  CHECK_EQ(WPUQueryBlockingCallback(NULL, NULL, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  CHECK_EQ(weft_get_stats(NULL, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  CHECK_EQ(weft_spawn(NULL, NULL), 0);
  CHECK_EQ(weft_post(weft_self(), NULL, NULL, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  CHECK_EQ(WSPCloseSocket(s, &err), 0);
  CHECK_EQ(WSPCloseSocket(s, &err), SOCKET_ERROR); /* double close */
  CHECK_EQ(err, WSAENOTSOCK);
  return 0;
}

static int test_tcp(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_SOCKET l = WSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ(WSPBind(l, (struct sockaddr*)&addr, sizeof addr, &err), 0);
  CHECK_EQ(WSPListen(l, 8, &err), 0);
  int len = sizeof addr;
  CHECK_EQ(WSPGetSockName(l, (struct sockaddr*)&addr, &len, &err), 0);
  CHECK(addr.sin_port != 0);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK_EQ(connect(client, (struct sockaddr*)&addr, sizeof addr), 0);
  struct sockaddr_in peer;
  int peerlen = sizeof peer;
  WEFT_SOCKET a = WSPAccept(l, (struct sockaddr*)&peer, &peerlen, &err);
  CHECK(a != WEFT_INVALID_SOCKET);
  CHECK_EQ(peerlen, sizeof(struct sockaddr_in));
  CHECK_EQ(send(client, "hello", 5, 0), 5);
  char buf[16];
  CHECK_EQ(WSPRecv(a, buf, sizeof buf, 0, &err), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_EQ(WSPSend(a, "world", 5, 0, &err), 5);
  CHECK_EQ(recv(client, buf, sizeof buf, 0), 5);
  len = sizeof peer;
  CHECK_EQ(WSPGetPeerName(a, (struct sockaddr*)&peer, &len, &err), 0);
  struct linger lin = {1, 0};
  CHECK_EQ(WSPSetSockOpt(a, SOL_SOCKET, SO_LINGER, (char*)&lin, sizeof lin, &err), 0);
  struct linger got;
  len = sizeof got;
  CHECK_EQ(WSPGetSockOpt(a, SOL_SOCKET, SO_LINGER, (char*)&got, &len, &err), 0);
  CHECK_EQ(got.l_onoff, 1);
  CHECK_EQ(WSPShutdown(a, SHUT_WR, &err), 0);
  CHECK_EQ(WSPSend(a, "x", 1, 0, &err), SOCKET_ERROR);
  CHECK_EQ(err, WSAESHUTDOWN);
  close(client);
  CHECK_EQ(WSPRecv(a, buf, sizeof buf, 0, &err), 0); /* EOF */
  CHECK_EQ(WSPCloseSocket(a, &err), 0);
  CHECK_EQ(WSPCloseSocket(l, &err), 0);
  return 0;
}

static int test_udp(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_SOCKET a = WSPSocket(AF_INET, SOCK_DGRAM, 0, &err);
  WEFT_SOCKET b = WSPSocket(AF_INET, SOCK_DGRAM, 0, &err);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ(WSPBind(a, (struct sockaddr*)&addr, sizeof addr, &err), 0);
  int len = sizeof addr;
  CHECK_EQ(WSPGetSockName(a, (struct sockaddr*)&addr, &len, &err), 0);
  CHECK_EQ(WSPSendTo(b, "0123456789", 10, 0, (struct sockaddr*)&addr, sizeof addr, &err), 10);
  CHECK_EQ(WSPSendTo(b, "ok", 2, 0, (struct sockaddr*)&addr, sizeof addr, &err), 2);
  char buf[4];
  struct sockaddr_in from;
  int fromlen = sizeof from;
  CHECK_EQ(WSPRecvFrom(a, buf, sizeof buf, 0, (struct sockaddr*)&from, &fromlen, &err),
           SOCKET_ERROR);
  CHECK_EQ(err, WSAEMSGSIZE);
  fromlen = sizeof from;
  CHECK_EQ(WSPRecvFrom(a, buf, sizeof buf, 0, (struct sockaddr*)&from, &fromlen, &err), 2);
  CHECK_EQ(fromlen, sizeof(struct sockaddr_in));
  CHECK_EQ(WSPCloseSocket(a, &err), 0);
  CHECK_EQ(WSPCloseSocket(b, &err), 0);
  return 0;
}

/* The address buffer is checked against the socket's family before a datagram is taken: a
 * sockaddr_in cannot hold an IPv6 sender, and the datagram stays queued for a call that can. */
static int test_udp_v6_short_address_buffer(void* arg) {
  (void)arg;
  int err = 0;
  WEFT_SOCKET s = WSPSocket(AF_INET6, SOCK_DGRAM, 0, &err);
  CHECK(s != WEFT_INVALID_SOCKET);
  struct sockaddr_in6 addr = {0};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  if (WSPBind(s, (struct sockaddr*)&addr, sizeof addr, &err) != 0) {
    fprintf(stderr, "udp_v6_short_address_buffer: no IPv6 loopback here (%d)\n", err);
    WSPCloseSocket(s, &err);
    return WSP_TEST_SKIP;
  }
  int len = sizeof addr;
  CHECK_EQ(WSPGetSockName(s, (struct sockaddr*)&addr, &len, &err), 0);
  int sender = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK_EQ(sendto(sender, "datagram", 8, 0, (struct sockaddr*)&addr, sizeof addr), 8);
  char buf[16] = {0};
  struct sockaddr_in6 from;
  int fromlen = sizeof(struct sockaddr_in);
  CHECK_EQ(WSPRecvFrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &fromlen, &err),
           SOCKET_ERROR);
  CHECK_EQ(err, WSAEFAULT);
  CHECK_EQ(fromlen, sizeof(struct sockaddr_in)); /* untouched */
  /* Still queued: a receive that does not wait finds it. */
  fromlen = sizeof from;
  CHECK_EQ(WSPRecvFrom(s, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr*)&from, &fromlen, &err),
           8);
  CHECK(memcmp(buf, "datagram", 8) == 0);
  CHECK_EQ(fromlen, sizeof(struct sockaddr_in6));
  struct sockaddr_in6 sent_from;
  socklen_t sent_len = sizeof sent_from;
  getsockname(sender, (struct sockaddr*)&sent_from, &sent_len);
  CHECK_EQ(from.sin6_family, AF_INET6);
  CHECK_EQ(from.sin6_port, sent_from.sin6_port);
  CHECK(memcmp(&from.sin6_addr, &in6addr_loopback, sizeof from.sin6_addr) == 0);
  close(sender);
  CHECK_EQ(WSPCloseSocket(s, &err), 0);
  return 0;
}

static int test_select(void* arg) {
  (void)arg;
  int err = 0;
  struct conn c = connect_pair();
  weft_fd_set r, w;
  WEFT_FD_ZERO(&r);
  WEFT_FD_ZERO(&w);
  WEFT_FD_SET(c.s, &r);
  struct timeval zero = {0, 0};
  CHECK_EQ(WSPSelect(0, &r, NULL, NULL, &zero, &err), 0);
  CHECK_EQ(r.fd_count, 0);
  send(c.peer, "x", 1, 0);
  WEFT_FD_SET(c.s, &r);
  WEFT_FD_SET(c.s, &w);
  struct timeval five = {5, 0};
  CHECK_EQ(WSPSelect(0, &r, &w, NULL, &five, &err), 2);
  CHECK(WEFT_FD_ISSET(c.s, &r));
  CHECK(WEFT_FD_ISSET(c.s, &w));
  CHECK_EQ(WSPCloseSocket(c.s, &err), 0);
  close_pair(&c);
  return 0;
}

const struct test wsp_call_tests[] = {
    {"fd_set", test_fd_set},
    {"bad_input", test_bad_input},
    {"tcp", test_tcp},
    {"udp", test_udp},
    {"udp_v6_short_address_buffer", test_udp_v6_short_address_buffer},
    {"select", test_select},
};
const unsigned wsp_call_test_count = sizeof wsp_call_tests / sizeof wsp_call_tests[0];
