/* weft — the Winsock-SPI-shaped C ABI (docs/wsp.md).
 *
 * A thin shell over weft's C++ API: every call forwards and translates errors; the semantics
 * are those of docs/semantics.md. Calls return SOCKET_ERROR (or WEFT_INVALID_SOCKET) and store
 * a Winsock code in *lpErrno on failure. Bad input is an error, never a crash: a null lpErrno
 * makes a call return SOCKET_ERROR without writing; null or short buffers and lengths give
 * WSAEFAULT; unknown, closed or stale handles give WSAENOTSOCK; a socket call outside any
 * fiber gives WSAEINVAL.
 *
 * Compiles as C11 and as C++20; includes nothing of weft's C++ headers. */
#ifndef WEFT_WSP_H
#define WEFT_WSP_H

#include <stddef.h> /* size_t */
#include <stdint.h>
#include <sys/socket.h> /* struct sockaddr, SOL_SOCKET, SO_LINGER, struct linger */
#include <sys/time.h>   /* struct timeval */

#if defined(WEFT_BUILDING_LIBRARY)
#define WEFT_WSP_API __attribute__((visibility("default")))
#else
#define WEFT_WSP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef uintptr_t WEFT_SOCKET; /* opaque, generation-tagged; never a raw fd */
#define WEFT_INVALID_SOCKET ((WEFT_SOCKET) ~(uintptr_t)0)
#define SOCKET_ERROR (-1)

#define WSAEINTR 10004
#define WSAEFAULT 10014
#define WSAEINVAL 10022
#define WSAEMFILE 10024
#define WSAEWOULDBLOCK 10035
#define WSAEINPROGRESS 10036
#define WSAEALREADY 10037
#define WSAENOTSOCK 10038
#define WSAEMSGSIZE 10040
#define WSAENOPROTOOPT 10042
#define WSAEOPNOTSUPP 10045
#define WSAEAFNOSUPPORT 10047
#define WSAEADDRINUSE 10048
#define WSAEADDRNOTAVAIL 10049
#define WSAENETDOWN 10050
#define WSAENETUNREACH 10051
#define WSAECONNABORTED 10053
#define WSAECONNRESET 10054
#define WSAENOBUFS 10055
#define WSAEISCONN 10056
#define WSAENOTCONN 10057
#define WSAESHUTDOWN 10058
#define WSAETIMEDOUT 10060
#define WSAECONNREFUSED 10061
#define WSAEHOSTUNREACH 10065
/* A failed name lookup (getaddrinfo's EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_NODATA). */
#define WSAHOST_NOT_FOUND 11001
#define WSATRY_AGAIN 11002
#define WSANO_RECOVERY 11003
#define WSANO_DATA 11004

#define WEFT_FD_SETSIZE 64
typedef struct weft_fd_set {
  unsigned fd_count;
  WEFT_SOCKET fd_array[WEFT_FD_SETSIZE];
} weft_fd_set;
WEFT_WSP_API void WEFT_FD_ZERO(weft_fd_set* set);
WEFT_WSP_API void WEFT_FD_SET(WEFT_SOCKET s, weft_fd_set* set);
WEFT_WSP_API int WEFT_FD_ISSET(WEFT_SOCKET s, const weft_fd_set* set);

/* Sockets. Each returns SOCKET_ERROR (or WEFT_INVALID_SOCKET) and sets *lpErrno on failure. */
WEFT_WSP_API WEFT_SOCKET WSPSocket(int af, int type, int protocol, int* lpErrno);
WEFT_WSP_API int WSPBind(WEFT_SOCKET s, const struct sockaddr* name, int namelen, int* lpErrno);
WEFT_WSP_API int WSPListen(WEFT_SOCKET s, int backlog, int* lpErrno);
WEFT_WSP_API WEFT_SOCKET WSPAccept(WEFT_SOCKET s, struct sockaddr* addr, int* addrlen,
                                   int* lpErrno);
WEFT_WSP_API int WSPConnect(WEFT_SOCKET s, const struct sockaddr* name, int namelen, int* lpErrno);
/* The bytes received; 0 at the end of the stream. */
WEFT_WSP_API int WSPRecv(WEFT_SOCKET s, char* buf, int len, int flags, int* lpErrno);
/* len, or an error. */
WEFT_WSP_API int WSPSend(WEFT_SOCKET s, const char* buf, int len, int flags, int* lpErrno);
WEFT_WSP_API int WSPRecvFrom(WEFT_SOCKET s, char* buf, int len, int flags, struct sockaddr* from,
                             int* fromlen, int* lpErrno);
WEFT_WSP_API int WSPSendTo(WEFT_SOCKET s, const char* buf, int len, int flags,
                           const struct sockaddr* to, int tolen, int* lpErrno);
/* The count of ready sockets; 0 when the timeout passed. */
WEFT_WSP_API int WSPSelect(int nfds, weft_fd_set* readfds, weft_fd_set* writefds,
                           weft_fd_set* exceptfds, const struct timeval* timeout, int* lpErrno);
/* how: SHUT_RD, SHUT_WR or SHUT_RDWR. */
WEFT_WSP_API int WSPShutdown(WEFT_SOCKET s, int how, int* lpErrno);
WEFT_WSP_API int WSPSetSockOpt(WEFT_SOCKET s, int level, int optname, const char* optval,
                               int optlen, int* lpErrno);
WEFT_WSP_API int WSPGetSockOpt(WEFT_SOCKET s, int level, int optname, char* optval, int* optlen,
                               int* lpErrno);
WEFT_WSP_API int WSPGetSockName(WEFT_SOCKET s, struct sockaddr* name, int* namelen, int* lpErrno);
WEFT_WSP_API int WSPGetPeerName(WEFT_SOCKET s, struct sockaddr* name, int* namelen, int* lpErrno);
WEFT_WSP_API int WSPCloseSocket(WEFT_SOCKET s, int* lpErrno);

/* Cancellation and pseudo-blocking, per the Winsock SPI. */
/* Cancels the calling fiber's own outstanding call. */
WEFT_WSP_API int WSPCancelBlockingCall(int* lpErrno);
/* Nonzero inside a hook or a message of a blocked fiber. */
WEFT_WSP_API int WSAIsBlocking(void);
/* A blocking hook returns nonzero if it processed something. */
typedef int (*WEFT_BLOCKINGHOOK)(void);
/* Per fiber; returns the previous hook. */
WEFT_WSP_API WEFT_BLOCKINGHOOK WSASetBlockingHook(WEFT_BLOCKINGHOOK hook);
WEFT_WSP_API int WSAUnhookBlockingHook(void);
/* Returns nonzero: keep waiting; 0: the call was cancelled. */
typedef int (*WEFT_BLOCKINGCALLBACK)(uintptr_t dwContext);
WEFT_WSP_API int WPUQueryBlockingCallback(WEFT_BLOCKINGCALLBACK* lplpfnCallback,
                                          uintptr_t* lpdwContext, int* lpErrno);

/* Events (Winsock's WSAEVENT): manual-reset, usable from any fiber of any runtime and from plain
 * OS threads. A WEFT_EVENT is an opaque, generation-tagged value, never dereferenced: a closed or
 * unknown one gives WSA_INVALID_HANDLE, never a crash. */
typedef struct weft_event* WEFT_EVENT;
#define WSA_INVALID_EVENT ((WEFT_EVENT)0)
#define WSA_INVALID_HANDLE 6
#define WSA_MAXIMUM_WAIT_EVENTS 64
#define WSA_WAIT_EVENT_0 0u
#define WSA_WAIT_TIMEOUT 258u
#define WSA_WAIT_FAILED 0xFFFFFFFFu
#define WSA_INFINITE 0xFFFFFFFFu
/* The network events of WSPEventSelect and WSPEnumNetworkEvents. */
#define FD_READ 0x01
#define FD_WRITE 0x02
#define FD_ACCEPT 0x08
#define FD_CONNECT 0x10
#define FD_CLOSE 0x20
/* Indexes into weft_network_events.iErrorCode. */
#define FD_READ_BIT 0
#define FD_WRITE_BIT 1
#define FD_ACCEPT_BIT 3
#define FD_CONNECT_BIT 4
#define FD_CLOSE_BIT 5
typedef struct weft_network_events {
  long lNetworkEvents;
  int iErrorCode[6];
} weft_network_events;

/* A new event, not signalled; WSA_INVALID_EVENT with *lpErrno on failure (WSAENOBUFS). */
WEFT_WSP_API WEFT_EVENT WSACreateEvent(int* lpErrno);
/* Each returns 0, or SOCKET_ERROR (WSA_INVALID_HANDLE). Never blocks; any thread. */
WEFT_WSP_API int WSASetEvent(WEFT_EVENT e, int* lpErrno);
WEFT_WSP_API int WSAResetEvent(WEFT_EVENT e, int* lpErrno);
/* Waits in WSAWaitForMultipleEvents on e return WSA_WAIT_FAILED with WSA_INVALID_HANDLE. */
WEFT_WSP_API int WSACloseEvent(WEFT_EVENT e, int* lpErrno);
/* Waits until one of the events is signalled (fWaitAll: all of them at once), or for dwTimeout
 * milliseconds (WSA_INFINITE: no limit; 0: looks and returns at once). Returns
 * WSA_WAIT_EVENT_0 + the index of the first signalled event (fWaitAll: WSA_WAIT_EVENT_0),
 * WSA_WAIT_TIMEOUT, or WSA_WAIT_FAILED with *lpErrno: WSAEINVAL (no events, more than
 * WSA_MAXIMUM_WAIT_EVENTS, or a runtime's thread outside any fiber), WSAEFAULT (null array),
 * WSA_INVALID_HANDLE, WSAEINPROGRESS (inside a blocking hook or a fiber message), WSAENETDOWN
 * (the runtime is stopping), WSAEINTR (cancelled). A blocking call, cancellable like any other
 * (weft_cancel_blocking_call, WSPCancelBlockingCall); on a thread that runs no fiber it blocks
 * the thread. A cancelled wait leaves every event as it was. */
WEFT_WSP_API unsigned WSAWaitForMultipleEvents(unsigned cEvents, const WEFT_EVENT* lphEvents,
                                               int fWaitAll, unsigned dwTimeout, int* lpErrno);
/* Records the network events of lNetworkEvents that happen on s and signals e for each, as
 * Winsock does: FD_READ is enabled again by the next receive, FD_WRITE by a send that would
 * block, FD_ACCEPT by the next accept; FD_CONNECT and FD_CLOSE happen once. s becomes
 * non-blocking: a call that would wait fails WSAEWOULDBLOCK (a connect returns it at once and
 * ends with FD_CONNECT). lNetworkEvents = 0 ends the association (e is then ignored) and makes
 * s blocking again, as does closing s. A socket accepted from s inherits its association.
 * Errors: WSAENOTSOCK, WSAEINVAL (bits other than the five FD_ events; outside a fiber),
 * WSA_INVALID_HANDLE (e). */
WEFT_WSP_API int WSPEventSelect(WEFT_SOCKET s, WEFT_EVENT e, long lNetworkEvents, int* lpErrno);
/* Copies the events recorded for s (and their error codes) to *out, clears the record and
 * resets e (WSA_INVALID_EVENT: no event to reset). Errors: WSAENOTSOCK, WSAEFAULT (null out),
 * WSA_INVALID_HANDLE (e), WSAEINVAL (outside a fiber). */
WEFT_WSP_API int WSPEnumNetworkEvents(WEFT_SOCKET s, WEFT_EVENT e, weft_network_events* out,
                                      int* lpErrno);

/* The runtime, from C. */
/* Unique for the life of the process; 0 is never a fiber. */
typedef uint64_t weft_fiber_t;
/* A runtime on this thread, main_fn in a fiber of it; returns when every fiber has ended. */
WEFT_WSP_API int weft_run(int (*main_fn)(void* arg), void* arg);
/* weft_run with options; a zero field, or a null opts, takes the default: stacks of 256 KiB
   (room for a 64 KiB buffer on the stack), precise mode. stack_size applies to every fiber of
   the runtime, rounded up to whole pages and to at least 16 KiB; only touched pages cost
   memory. portable_mode nonzero: portable mode (weft_set_portable_mode). SOCKET_ERROR if the
   runtime cannot start: a null main_fn, a stack_size no mapping can have, or a call from a
   fiber. */
struct weft_run_options {
  size_t stack_size;
  int portable_mode;
};
WEFT_WSP_API int weft_run_ex(int (*main_fn)(void* arg), void* arg,
                             const struct weft_run_options* opts);
/* From a fiber; 0 on failure. */
WEFT_WSP_API weft_fiber_t weft_spawn(void (*fn)(void* arg), void* arg);
/* 0 outside a fiber. */
WEFT_WSP_API weft_fiber_t weft_self(void);
/* Blocking, cancellable. */
WEFT_WSP_API int weft_join(weft_fiber_t f, int* lpErrno);
WEFT_WSP_API void weft_yield(void);
/* Blocking, cancellable. */
WEFT_WSP_API int weft_sleep_ms(unsigned ms, int* lpErrno);
/* From any fiber or OS thread. */
WEFT_WSP_API int weft_cancel_blocking_call(weft_fiber_t f, int* lpErrno);
/* Runs fn(arg) in fiber f as a fiber message. */
WEFT_WSP_API int weft_post(weft_fiber_t f, void (*fn)(void* arg), void* arg, int* lpErrno);
/* For the calling fiber's runtime; returns the previous setting. */
WEFT_WSP_API int weft_set_portable_mode(int on);
/* Added to the contract: stops the calling fiber's runtime (outstanding blocking calls return
   WSAENETDOWN; later ones fail at once; weft_run returns when the fibers have ended). */
WEFT_WSP_API int weft_stop(int* lpErrno);

struct weft_stats {
  uint64_t fibers_alive;     /* fibers not yet finished */
  uint64_t sockets_open;     /* handles not yet closed */
  uint64_t pending_connects; /* kernel sockets held by cancelled connects (semantics §3) */
};
/* The calling fiber's runtime's. */
WEFT_WSP_API int weft_get_stats(struct weft_stats* out, int* lpErrno);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_WSP_H */
