// weft — what only Unix-domain sockets do: socket pairs, adopting a descriptor the process
// inherited, passing descriptors, and the peer's credentials (semantics.md §10).
//
// A Unix-domain socket is an ordinary weft socket otherwise (weft/net.hpp):
// socket(AF_UNIX, SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET), Address::unix_path() for its
// names (a filesystem path, or an abstract name with a leading '\0'), and bind, listen,
// accept, connect, recv, send, recv_from, send_to, shutdown, poll and close as for TCP and
// UDP, with every row of semantics.md §3 and §4. The kernel makes one difference: AF_UNIX has
// no RST, so where weft resets a connection (a cancelled send that had moved bytes, a cancel
// in portable mode, SO_LINGER {1, 0}) it closes the kernel socket at once, and the peer reads
// every byte that had reached it, then ECONNRESET if bytes it had sent were still unread
// here, else end of file. A protocol that must tell a cut-off stream from a whole one frames
// its messages. weft never unlinks a filesystem path it bound (as in POSIX): remove it
// yourself, before a new bind to it, which otherwise fails WSAEADDRINUSE.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/net.hpp>

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace weft {

// The most descriptors one message may carry (Linux's SCM_MAX_FD).
inline constexpr std::size_t kMaxPassedDescriptors = 253;

// The process at the other end of a connection, as the kernel recorded it when the
// connection was made (SO_PEERCRED): its process id, user id and group id.
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Two connected AF_UNIX sockets of `type` (SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET), both
// on the calling thread's runtime: what one sends the other receives. Never blocks.
// Errors: WSAEINVAL (another type; no runtime on this thread), WSAEMFILE, WSAENOBUFS.
WEFT_API Result<std::pair<Socket, Socket>> socketpair(int type);

// Takes a socket descriptor the process already has — inherited from systemd's socket
// activation (LISTEN_FDS, from descriptor 3 on), an end of a parent's socketpair, one
// received with recv_fds — into weft, on the calling thread's runtime. weft learns its
// family, type and state from the kernel: listening (SO_ACCEPTCONN), connected (it has a
// peer), or open (bound if it has a name); makes it non-blocking (O_NONBLOCK is shared with
// every process that holds the same open socket) and close-on-exec; and owns it from then on:
// close() closes it. Never blocks.
// Errors, each leaving the descriptor untouched and the caller's: WSAENOTSOCK (not a socket
// — a pipe, a file, a terminal — or not an open descriptor), WSAEAFNOSUPPORT (a family other
// than AF_INET, AF_INET6, AF_UNIX), WSAEINVAL (a type or protocol weft does not make itself,
// such as a raw socket; no runtime on this thread), WSAENOBUFS.
WEFT_API Result<Socket> adopt(int fd);

// Sends len bytes and, with the first of them, the descriptors in fds (SCM_RIGHTS; at most
// kMaxPassedDescriptors) over a connected AF_UNIX socket. The receiver gets copies of them:
// the caller's stay open and its own. Like send, it sends all len bytes or fails; on a
// datagram or seqpacket socket they are one message. On a stream socket descriptors need at
// least one byte to ride with (Linux passes none with an empty write): fds with len 0 is
// WSAEINVAL there.
// Errors: WSAEOPNOTSUPP (not an AF_UNIX socket), WSAENOTCONN, WSAEFAULT (null buffer with
// len > 0), WSAEINVAL (more than kMaxPassedDescriptors descriptors; a negative one, or one
// that is not open — weft has no WSAEBADF), WSAESHUTDOWN, WSAECONNRESET, WSAECONNABORTED,
// WSAEMSGSIZE (a message too large for the socket).
// Cancellation: returns WSAEINTR. If no byte had been transferred, neither had any
// descriptor, and the socket is unchanged. If some had (the descriptors went with the
// first), the connection is reset as send's is, and every later call but close fails
// WSAECONNABORTED; on AF_UNIX that closes the kernel socket at once (see above).
WEFT_API Result<std::size_t> send_fds(Socket s, const void* buf, std::size_t len,
                                      std::span<const int> fds, const CancelToken& token = {});

// Receives some bytes, as recv does, and the descriptors that came with them, which it
// appends to fds: they are the caller's to close. Each is close-on-exec (MSG_CMSG_CLOEXEC).
// Before it receives anything it makes room in fds for kMaxPassedDescriptors more, so a
// descriptor received always has a place: a vector that cannot grow fails the call with
// WSAENOBUFS and nothing taken. On a stream socket descriptors come with the call that
// receives the first byte they were sent with, and that call returns no byte of a later
// send (Linux stops there). 0 bytes and no descriptor: the peer's orderly shutdown.
// Errors: WSAEOPNOTSUPP (not an AF_UNIX socket), WSAENOTCONN, WSAEFAULT, WSAESHUTDOWN,
// WSAECONNRESET, WSAECONNABORTED, WSAEMSGSIZE (a datagram or seqpacket message larger than
// len: its first len bytes are stored, the rest discarded, and its descriptors appended all
// the same).
// Cancellation: returns WSAEINTR, and nothing was taken: no byte and no descriptor; the next
// call receives them. (Portable mode: a stream socket is reset instead.)
WEFT_API Result<std::size_t> recv_fds(Socket s, void* buf, std::size_t len, std::vector<int>& fds,
                                      const CancelToken& token = {});

// The credentials of the process at the other end of a connected AF_UNIX socket (an
// accepted or connected stream or seqpacket socket, or an end of a socketpair), as recorded
// when it connected. Never blocks.
// Errors: WSAEOPNOTSUPP (not an AF_UNIX socket), WSAENOTCONN (not connected, or a datagram
// socket connected with connect(), for which Linux records none), WSAECONNABORTED.
WEFT_API Result<PeerCredentials> peer_credentials(Socket s);

}  // namespace weft
