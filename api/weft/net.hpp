// weft — sockets on fibers: TCP, UDP, Unix-domain sockets, select/poll, close and linger, name
// resolution. (What only Unix-domain sockets do — pairs, adopting an inherited descriptor,
// passing descriptors, the peer's credentials — is in weft/unix.hpp.)
//
// Every socket is a non-blocking kernel socket behind a generation-tagged handle (Socket),
// never a raw descriptor: a handle that was closed, or whose slot or descriptor has been
// reused since, gets WSAENOTSOCK and never reaches another socket. Handles belong to the
// runtime that created them and are used from its fibers (non-blocking calls may also be made
// from functions posted to it); elsewhere calls return WSAEINVAL (no runtime on this thread,
// or a blocking call outside a fiber) or WSAENOTSOCK (another runtime's handle).
//
// A blocking call first tries the syscall; only if the kernel would block does the fiber
// park, so a call that can complete at once costs one syscall. Several fibers may block on
// one socket at once (a reader and a writer, several acceptors).
//
// The data calls take MSG_DONTWAIT: a call that would park returns WSAEWOULDBLOCK instead
// (send with MSG_DONTWAIT returns the bytes it moved if it moved some).
//
// Every call that can suspend may be cancelled (weft/cancel.hpp): from another fiber, another
// OS thread, or at runtime stop (WSAENETDOWN). Its "Cancellation:" paragraph says what the
// cancelled call returns and leaves behind. "Precise mode" is the default; in portable mode
// (RuntimeOptions::portable_mode) a cancelled call other than accept and poll/select resets
// its socket, as the strictest Winsock provider may (semantics.md §3).
//
// Every blocking call takes a CancelToken as its last parameter (default: none). A call
// given a cancelled token — or inside a cancelled CancelScope — fails at once with the
// token's reason (WSAEINTR, or WSAETIMEDOUT for a deadline) before it does anything, even
// if it could have finished without suspending: no byte moves, the socket is unchanged, and
// a loop over a fast stream still stops. A token cancelled while the call is suspended
// cancels it as above. MSG_DONTWAIT calls and zero-timeout polls never block and ignore
// tokens.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

namespace weft {

// An IPv4, IPv6 or Unix-domain (AF_UNIX) socket address.
//
// A Unix-domain address is a filesystem path, an abstract name (Linux: a name that begins with
// a NUL byte and lives in no filesystem), or unnamed: the address of a socket that was never
// bound, as a peer that connected without binding has. An unnamed address has family()
// AF_UNIX, an empty host() and unix_path_name(), and to_string() "(unnamed)"; bound with
// bind(), it asks the kernel for a fresh abstract name.
class WEFT_API Address {
 public:
  Address() noexcept;
  // A numeric host ("127.0.0.1", "::1", "0.0.0.0", "::") and a port. WSAEINVAL otherwise
  // (names are resolved with resolve()).
  static Result<Address> parse(std::string_view host, std::uint16_t port);
  // A Unix-domain address: a filesystem path ("/run/app.sock", or relative to the working
  // directory), or, with a leading '\0', a name in the abstract namespace
  // (std::string_view("\0app", 4)). WSAEINVAL for an empty path or a lone '\0', a NUL
  // anywhere but the abstract lead, or a path too long for sockaddr_un: more than 107 bytes
  // for a filesystem path (room is kept for its NUL), 108 with the lead for an abstract name.
  static Result<Address> unix_path(std::string_view path);
  // Copies a sockaddr: AF_INET, AF_INET6 or AF_UNIX (a sockaddr_un of the family alone is
  // the unnamed address). WSAEFAULT for null or short input, WSAEAFNOSUPPORT for another
  // family.
  static Result<Address> from_sockaddr(const sockaddr* sa, socklen_t len);
  static Address loopback_v4(std::uint16_t port) noexcept;
  static Address loopback_v6(std::uint16_t port) noexcept;
  static Address any_v4(std::uint16_t port) noexcept;
  static Address any_v6(std::uint16_t port) noexcept;

  int family() const noexcept;          // AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC when empty
  std::uint16_t port() const noexcept;  // 0 for AF_UNIX
  std::string host() const;  // numeric; for AF_UNIX the path, as unix_path_name() gives it
  // "127.0.0.1:80", "[::1]:80"; for AF_UNIX the path, an abstract name as "@name" (each NUL
  // shown as '@', as Linux shows them), an unnamed address as "(unnamed)".
  std::string to_string() const;
  // The path of an AF_UNIX address as unix_path() takes it: an abstract name with its leading
  // '\0'; empty for an unnamed address and for the other families.
  std::string unix_path_name() const;
  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return len_; }
  bool operator==(const Address& o) const noexcept;

 private:
  sockaddr_storage storage_;
  socklen_t len_;
};

// A socket handle: opaque, generation-tagged, never a raw descriptor.
enum class Socket : std::uint64_t { invalid = ~std::uint64_t{0} };
// A handle's value, as logs and fiber dumps print it.
constexpr std::uint64_t to_integer(Socket s) noexcept { return static_cast<std::uint64_t>(s); }

enum class Shutdown { receive = SHUT_RD, send = SHUT_WR, both = SHUT_RDWR };

// --- creation, addresses, options (never block) ---------------------------------------

// A new socket: family AF_INET or AF_INET6, type SOCK_STREAM or SOCK_DGRAM, protocol 0 or
// the type's own; or family AF_UNIX, type SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET (a
// connected socket that keeps each message whole, as a datagram socket does), protocol 0.
// Errors: WSAEAFNOSUPPORT, WSAEINVAL (type/protocol), WSAEMFILE, WSAENOBUFS.
WEFT_API Result<Socket> socket(int family, int type, int protocol = 0);
// Errors: WSAEINVAL (already bound, listening or connected), WSAEAFNOSUPPORT (address of
// another family), WSAEADDRINUSE (for AF_UNIX: something exists at the path),
// WSAEADDRNOTAVAIL; for a Unix path the filesystem's errors, as std::errc values (a missing
// directory: no_such_file_or_directory, permission_denied).
// A filesystem path stays after close, as in POSIX: weft never unlinks it, and a later bind
// to it fails WSAEADDRINUSE until the caller removes it. Abstract names go with the socket.
WEFT_API Status bind(Socket s, const Address& local);
// Errors: WSAEOPNOTSUPP (not a stream or seqpacket socket), WSAEISCONN, WSAEINVAL (backlog
// < 0; an AF_UNIX socket not bound). An unbound TCP socket gets an ephemeral port, as in
// POSIX.
WEFT_API Status listen(Socket s, int backlog);
WEFT_API Result<Address> local_address(Socket s);
// Errors: WSAENOTCONN.
WEFT_API Result<Address> peer_address(Socket s);

// Socket options. Levels/names supported: SOL_SOCKET (SO_LINGER, SO_RCVBUF, SO_SNDBUF,
// SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_BROADCAST; read-only SO_ERROR, SO_TYPE) and
// IPPROTO_TCP (TCP_NODELAY, on a TCP socket). Others, and IPPROTO_TCP options on a UDP or
// Unix-domain socket: WSAENOPROTOOPT. Null or short values: WSAEFAULT.
WEFT_API Status set_option(Socket s, int level, int name, const void* value, socklen_t len);
WEFT_API Status get_option(Socket s, int level, int name, void* value, socklen_t* len);
// Typed conveniences.
WEFT_API Status set_linger(Socket s, std::optional<std::chrono::seconds> linger);
WEFT_API Status set_nodelay(Socket s, bool on);
WEFT_API Status set_reuse_address(Socket s, bool on);
WEFT_API Status set_reuse_port(Socket s, bool on);

// --- blocking calls --------------------------------------------------------------------

// Waits for a connection on a listening socket; the new socket is connected.
// Errors: WSAEINVAL (not listening), WSAEMFILE (descriptor limit: the pending connection
// stays queued and the listener keeps serving).
// Cancellation: returns WSAEINTR; the listener is unchanged and queued connections stay
// queued: everything legal before is legal after.
WEFT_API Result<Socket> accept(Socket listener, Address* peer = nullptr,
                               const CancelToken& token = {});

// Connects a stream socket (or sets a datagram socket's default peer). A zero timeout means
// the kernel's own. Errors: WSAECONNREFUSED, WSAETIMEDOUT (timeout), WSAEISCONN,
// WSAEINVAL (listening, or a connect already under way), WSAEAFNOSUPPORT.
// AF_UNIX: a listener at the path that does not listen, or an abstract name nobody holds,
// is WSAECONNREFUSED; a missing path is std::errc::no_such_file_or_directory, a path the
// caller may not use std::errc::permission_denied. The kernel never leaves an AF_UNIX
// connect under way: it connects at once, or, when the listener's backlog is full, refuses
// with nothing started (EAGAIN) and signals no readiness when room comes. weft then retries
// the connect on a timer, 1 ms after the first refusal and twice as long after each next
// one, up to 50 ms between tries, until it connects, fails, times out or is cancelled.
// Cancellation: returns WSAEINTR; the socket is aborted: every later call but close fails
// WSAECONNABORTED, close returns 0 at once. The runtime keeps the kernel socket until the
// attempt ends — if it connects it is reset (RST), if it fails or times out it is freed —
// and counts it in RuntimeStats::pending_connects meanwhile. A timeout leaves the same.
// (AF_UNIX: no attempt outlives a refusal, so the kernel socket is closed at once and
// nothing is held; the listener's queue never saw it.)
WEFT_API Status connect(Socket s, const Address& peer,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds{0},
                        const CancelToken& token = {});

// Receives some bytes: at least 1, at most len; 0 means the peer's orderly shutdown (EOF).
// Errors: WSAEFAULT (null buffer with len > 0), WSAENOTCONN, WSAESHUTDOWN (after
// shutdown(receive)), WSAECONNRESET (peer reset), WSAECONNABORTED (aborted after a cancel).
// Cancellation: returns WSAEINTR and no byte was consumed: the next recv returns the
// stream's next bytes in order. (Portable mode: the socket is reset instead.)
WEFT_API Result<std::size_t> recv(Socket s, void* buf, std::size_t len, int flags = 0,
                                  const CancelToken& token = {});

// Sends all len bytes, or fails. Errors: WSAEFAULT, WSAENOTCONN, WSAESHUTDOWN (after
// shutdown(send)), WSAECONNRESET, WSAECONNABORTED.
// Cancellation: returns WSAEINTR. If no byte had been transferred the socket is unchanged;
// if some had (the stream's integrity is compromised), the connection is reset (RST), and
// every later call but close fails WSAECONNABORTED.
WEFT_API Result<std::size_t> send(Socket s, const void* buf, std::size_t len, int flags = 0,
                                  const CancelToken& token = {});

// Sends as many bytes as the kernel takes now, blocking only until it takes at least one.
// Cancellation: returns WSAEINTR; no byte was transferred; the socket is unchanged.
WEFT_API Result<std::size_t> send_some(Socket s, const void* buf, std::size_t len, int flags = 0,
                                       const CancelToken& token = {});

// Receives exactly len bytes, or fails; WSAECONNRESET if the stream ends first (the bytes
// received so far are lost to the caller, so use recv for protocols that can end early).
// Cancellation: returns WSAEINTR; if bytes had already been received the connection is
// reset (they cannot be handed back), otherwise the socket is unchanged.
WEFT_API Status recv_exact(Socket s, void* buf, std::size_t len, const CancelToken& token = {});

// Receives one datagram whole. If it is larger than len, the first len bytes are stored,
// the rest discarded, and WSAEMSGSIZE returned (as Winsock does). The sender's address goes
// to *from (an unnamed AF_UNIX sender's is the unnamed address).
// Cancellation: returns WSAEINTR; no datagram was consumed.
WEFT_API Result<std::size_t> recv_from(Socket s, void* buf, std::size_t len, Address* from,
                                       int flags = 0, const CancelToken& token = {});
// Sends one datagram whole (WSAEMSGSIZE if it cannot be one datagram).
// Cancellation: returns WSAEINTR; nothing was sent (a datagram is atomic).
WEFT_API Result<std::size_t> send_to(Socket s, const void* buf, std::size_t len, const Address& to,
                                     int flags = 0, const CancelToken& token = {});

// Disables receives, sends, or both. Errors: WSAENOTCONN.
WEFT_API Status shutdown(Socket s, Shutdown how);

// Closes the handle; it is invalid from then on (WSAENOTSOCK). Calls other fibers have
// outstanding on the socket are cancelled: each returns WSAEINTR. SO_LINGER decides the rest:
//   off (default)  graceful: queued data is sent, then FIN, in the background; no blocking.
//   {1, 0}         abortive: RST at once, unsent data discarded, no TIME_WAIT.
//   {1, t > 0}     blocks the fiber until the queued data is acknowledged (then FIN) or t
//                  expires (then RST); returns 0 either way. Outside a fiber: graceful.
// AF_UNIX has no RST: an abortive close, and every reset after a cancel (semantics.md §3),
// closes the kernel socket at once. The peer still reads every byte that had reached it,
// then ECONNRESET if bytes it had sent were still unread here, else end of file. {1, t > 0}
// waits until the peer has read every byte (the kernel counts what it has not read yet).
// Errors: WSAENOTSOCK (already closed, or being closed by another fiber).
// Cancellation (the linger wait only): returns WSAEINTR; treated as linger expiry: the
// connection is reset (RST) and the handle stays valid; close it again (it returns 0).
WEFT_API Status close(Socket s, const CancelToken& token = {});

// --- readiness -------------------------------------------------------------------------

enum : short { kPollIn = 0x1, kPollOut = 0x4, kPollPri = 0x2, kPollErr = 0x8, kPollHup = 0x10 };

struct PollEntry {
  Socket socket = Socket::invalid;
  short events = 0;   // kPollIn | kPollOut | kPollPri
  short revents = 0;  // set by poll: what is ready (errors and hang-up are always reported)
};

// Waits until at least one entry is ready or the timeout passes; returns how many entries
// have revents set (0: timeout). A zero timeout never blocks (and so is never cancelled);
// no timeout waits indefinitely. Readable: data, EOF, a pending connection (listener).
// Writable: room to send, or a connect finished. Errors: WSAENOTSOCK (any entry's handle),
// WSAEINVAL (no entries).
// Cancellation: returns WSAEINTR; every socket is unchanged.
WEFT_API Result<int> poll(std::span<PollEntry> entries,
                          std::optional<std::chrono::milliseconds> timeout = std::nullopt,
                          const CancelToken& token = {});

// The Winsock shape: sets of sockets in, the ready ones left in each set, the total count
// returned (a socket ready for reading and writing counts twice, as in Winsock). Except set:
// out-of-band data, or a connect that failed. Null sets are allowed; all null is WSAEINVAL.
// Timeout as in poll(). Cancellation: returns WSAEINTR; the sets and sockets are unchanged.
struct WEFT_API SocketSet {
  std::vector<Socket> sockets;
  void add(Socket s) { sockets.push_back(s); }
  bool contains(Socket s) const noexcept;
  void clear() noexcept { sockets.clear(); }
};
WEFT_API Result<int> select(SocketSet* read, SocketSet* write, SocketSet* except,
                            std::optional<std::chrono::milliseconds> timeout = std::nullopt,
                            const CancelToken& token = {});

// --- names -----------------------------------------------------------------------------

// Resolves a host name and service (port number or name) through libuv's thread pool;
// only the calling fiber waits. family: AF_UNSPEC, AF_INET or AF_INET6; type SOCK_STREAM or
// SOCK_DGRAM. Errors: WSAEINVAL (bad arguments); a failed lookup returns Winsock's codes:
// WSAHOST_NOT_FOUND (11001, no such host), WSATRY_AGAIN (11002, no answer from the name
// service, perhaps for now), WSANO_RECOVERY (11003, the name service failed) or WSANO_DATA
// (11004, no address of the family asked for).
// Cancellation: returns WSAEINTR; the pool request is cancelled if it has not started,
// otherwise its result is discarded when it arrives.
WEFT_API Result<std::vector<Address>> resolve(std::string_view host, std::string_view service,
                                              int family = AF_UNSPEC, int type = SOCK_STREAM,
                                              const CancelToken& token = {});

// --- RAII ------------------------------------------------------------------------------

// Owns a handle and closes it on destruction (errors are ignored there; call close() to see
// them). Move-only.
class UniqueSocket {
 public:
  UniqueSocket() noexcept = default;
  explicit UniqueSocket(Socket s) noexcept : s_(s) {}
  UniqueSocket(UniqueSocket&& o) noexcept : s_(o.release()) {}
  UniqueSocket& operator=(UniqueSocket&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = o.release();
    }
    return *this;
  }
  ~UniqueSocket() { reset(); }

  Socket get() const noexcept { return s_; }
  explicit operator bool() const noexcept { return s_ != Socket::invalid; }
  Socket release() noexcept {
    Socket s = s_;
    s_ = Socket::invalid;
    return s;
  }
  void reset() noexcept {
    if (s_ != Socket::invalid) (void)weft::close(release());
  }
  Status close() noexcept { return weft::close(release()); }

 private:
  Socket s_ = Socket::invalid;
};

}  // namespace weft
