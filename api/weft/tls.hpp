// weft — TLS streams on OpenSSL over weft sockets (semantics.md §9).
//
// OpenSSL does the protocol; weft moves every byte itself, through a BIO of its own that reads
// and writes the stream's socket without blocking, so at every instant it knows which records
// are wholly on the wire. Each call that can wait is a blocking call like a socket's: it takes
// a CancelToken as its last parameter, obeys the order of checks of semantics.md §7a, and may
// be cancelled by every source (another fiber or thread, a token or scope and their deadlines,
// the blocking hook, a fiber message, runtime stop: WSAENETDOWN). Its "Cancellation:"
// paragraph says what the cancelled call leaves behind.
//
// A stream may have one fiber receiving and another sending at the same time (OpenSSL runs
// between their waits, never during one). It belongs to the runtime of its socket and is used
// from that runtime's fibers. Destroying a stream, or moving another onto it, while a call of
// another fiber is under way on it is a programming error (as for the primitives of
// weft/sync.hpp): close it, which ends those calls with WSAEINTR, and join those fibers first.
//
// A call is one blocking call from its first wait to its end: a cancel, a deadline or a stop
// that comes while the fiber runs OpenSSL between two waits is kept and ends the next wait,
// unless the call completes first. TLS 1.2 renegotiation is refused (it would make a recv
// write and a send read).
//
// Errors: the socket's own ("wsa": WSAECONNRESET, WSAECONNABORTED after a reset, ...), and,
// for what is not a socket failure — a certificate that does not verify, a name that does not
// match, a fatal alert from the peer, a malformed record — errors of the category
// tls::category() ("weft.tls"), whose message is OpenSSL's own reason.
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/net.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace weft::tls {

struct Options {
  std::string certificate_chain_file;  // PEM; required for a server; a client's own, if any
  std::string private_key_file;        // PEM
  std::string ca_file;      // PEM; empty: the system's store (a client). A server given one asks
                            // clients for a certificate and verifies it (mutual TLS)
  bool verify_peer = true;  // a client verifies the server's certificate and name by default
  std::vector<std::string> alpn;  // offered (client) or accepted (server) protocols, in order
                                  // of preference; a server given some refuses a client that
                                  // offers only others (the no_application_protocol alert)
  // How long close() may wait to put close_notify (and what is queued before it) on the wire
  // before it resets the connection instead.
  std::chrono::milliseconds close_timeout = std::chrono::seconds(5);
};

namespace detail {
struct ContextState;
struct StreamState;
}  // namespace detail

// A configuration shared by many streams (OpenSSL's SSL_CTX): certificates, verification,
// ALPN, and the session cache that lets a client resume a session with a server it has spoken
// to (TLS 1.3 tickets, TLS 1.2 sessions; the newest per server name and address, for up to
// 1,024 servers). Cheap to copy (the copies share it); safe to use
// from any thread.
class WEFT_API Context {
 public:
  // Errors: WSAEINVAL (a server without certificate or key, an empty or over-long ALPN
  // name); "weft.tls" errors naming OpenSSL's reason (a file that cannot be read — its name
  // goes to weft's log at level info —, a key that does not match the certificate).
  static Result<Context> server(const Options& o);
  static Result<Context> client(const Options& o);

  bool is_server() const noexcept;

 private:
  friend class Stream;
  explicit Context(std::shared_ptr<detail::ContextState> s) noexcept : s_(std::move(s)) {}
  std::shared_ptr<detail::ContextState> s_;
};

// A TLS stream over a connected TCP socket. It owns the socket from its creation on (creation
// that fails leaves the socket to the caller); destroying a stream that is still open closes
// it as close() does, without waiting: close_notify goes into the socket's send queue if it has
// room, then the socket closes gracefully. Move-only.
//
// The handshake runs in handshake(), or in the first recv or send if it has not been run.
// After a failed handshake every call but close fails with that handshake's error.
class WEFT_API Stream {
 public:
  Stream() noexcept;
  Stream(Stream&&) noexcept;
  Stream& operator=(Stream&&) noexcept;
  ~Stream();

  // Errors: WSAEINVAL (a context of the other side, an empty server name for a client that
  // verifies), WSAENOTSOCK, WSAENOTCONN (not a connected stream socket), WSAENOBUFS.
  static Result<Stream> server(Context& ctx, Socket s);
  static Result<Stream> server(const Context& ctx, Socket s);
  // server_name: sent as SNI (unless it is a numeric address) and, with verify_peer, the name
  // (or address) the server's certificate must carry.
  static Result<Stream> client(Context& ctx, Socket s, std::string_view server_name);
  static Result<Stream> client(const Context& ctx, Socket s, std::string_view server_name);

  // Runs the handshake to its end; returns at once if it is done. Errors: "weft.tls" (the
  // certificate, the name, a fatal alert, the protocol), WSAECONNRESET (the peer closed or
  // reset the connection during it). After a failure the alert OpenSSL sent is followed by
  // the end of the stream (FIN).
  // Cancellation: returns WSAEINTR; the stream is still handshaking and nothing is lost: what
  // arrived stays buffered, what was to be sent is sent by the next call, and calling
  // handshake again resumes it where it stopped. (Portable mode: the connection is reset.)
  Status handshake(const CancelToken& token = {});

  // Receives some plaintext: at least 1 byte, at most len; 0 means the peer's close_notify
  // (the clean end). Errors: WSAECONNRESET (the peer reset the connection, or ended it
  // without close_notify: a truncation), "weft.tls" (a record that does not decrypt, a fatal
  // alert), WSAECONNABORTED (reset after a cancel).
  // Cancellation: returns WSAEINTR; no plaintext was consumed: a record partly received stays
  // buffered and the next recv continues the stream in order. (Portable mode: reset.)
  Result<std::size_t> recv(void* buf, std::size_t len, const CancelToken& token = {});

  // Sends all len bytes, or fails. A record is encrypted only once the socket has room for
  // it, and a record once encrypted is written whole or the stream is reset.
  // Errors: WSAESHUTDOWN (after shutdown), WSAECONNRESET, WSAECONNABORTED, "weft.tls".
  // Cancellation: returns WSAEINTR. If nothing of the call had been committed (the call was
  // waiting for room), the stream is unchanged. If some of it had — a record wholly or partly
  // on the wire — the connection is reset (RST, no close_notify): the peer reads every whole
  // record before the cut, then the reset; every later call but close fails WSAECONNABORTED.
  Status send(const void* buf, std::size_t len, const CancelToken& token = {});

  // Sends what the socket has room for now, waiting only for room for the first record;
  // returns the plaintext bytes of the records it wrote, every one of them wholly on the
  // wire (at least 1 when len > 0).
  // Cancellation: returns WSAEINTR. Waiting for room, nothing was committed: the stream is
  // unchanged. Waiting for the rest of a record the socket took only part of: the connection
  // is reset, as for send.
  Result<std::size_t> send_some(const void* buf, std::size_t len, const CancelToken& token = {});

  // Sends close_notify and waits for the peer's. Plaintext the peer sent before its
  // close_notify is kept: recv returns it (a recv of another fiber too), then 0. Later sends
  // fail WSAESHUTDOWN. Errors: WSAENOTCONN (the handshake has not completed), WSAEINVAL (a
  // send of another fiber is under way and has committed part of its data: close_notify
  // cannot come between its records), WSAECONNRESET.
  // Cancellation: returns WSAEINTR; the connection is reset (RST).
  Status shutdown(const CancelToken& token = {});

  // Sends close_notify (not waiting for the peer's), bounded by Options::close_timeout, then
  // closes the socket gracefully; with SO_LINGER {1, 0} set on the socket it resets at once,
  // without close_notify. Returns 0, after a reset or a failed handshake too; a timeout
  // resets the connection and returns 0. Calls other fibers have outstanding on the stream
  // return WSAEINTR. Later calls fail WSAENOTSOCK.
  // Cancellation: returns WSAEINTR; treated as the timeout: the connection is reset, and the
  // stream stays open for close alone, which then returns 0 (as a lingering close, §3).
  Status close(const CancelToken& token = {});

  // The stream's socket (for options and addresses; its data belongs to the stream).
  Socket socket() const noexcept;
  // The protocol ALPN chose; empty if none (or before the handshake).
  std::string_view alpn_selected() const noexcept;
  // The handshake has completed.
  bool handshake_done() const noexcept;
  // The handshake resumed an earlier session instead of running in full.
  bool resumed() const noexcept;
  // The negotiated protocol version ("TLSv1.3", "TLSv1.2"); empty before the handshake.
  std::string_view version() const noexcept;

 private:
  explicit Stream(std::unique_ptr<detail::StreamState> s) noexcept;
  std::unique_ptr<detail::StreamState> s_;
};

// "weft.tls": failures of the TLS protocol that are not socket failures. A value is one of
// OpenSSL's packed error codes (library and reason), or, for a certificate that did not
// verify, minus X509's verification result; the message names the reason in OpenSSL's words
// ("certificate verify failed: hostname mismatch", "tlsv1 alert unknown ca").
WEFT_API const std::error_category& category() noexcept;

}  // namespace weft::tls
