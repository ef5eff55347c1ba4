// TLS streams (semantics.md §9): OpenSSL runs the protocol over a BIO of weft's own, which
// reads and writes the stream's socket without ever blocking; every wait is weft's, a blocking
// call on the socket's readiness (park.hpp), so each one is cancellable and the one table
// (cancel_rule.hpp, the tls_ rows) says what its cancel leaves behind.
//
// What makes the rows hold:
//   * recv: OpenSSL keeps what the socket gave it (a record partly received) in its own
//     buffer, and a wait happens only when it has no whole record: a cancel consumes nothing.
//   * send: a record is encrypted only after poll(2) says the socket has room, with
//     SSL_MODE_ENABLE_PARTIAL_WRITE, so SSL_write encrypts one record and returns only when
//     the record is wholly in the kernel. A call waits either for room with nothing of it
//     committed (a cancel leaves the stream unchanged) or for the rest of a record the kernel
//     took only part of, or for room after records of its own went out (a cancel resets).
//   * handshake: both directions' bytes stay where they were (OpenSSL's buffers, the socket):
//     calling it again resumes it.
// The BIO, and the making of a stream over a socket, are in tls_bio.cpp.
#include <weft/tls.hpp>

#include "park.hpp"
#include "tls_state.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include <poll.h>
#include <sys/socket.h>

namespace weft::tls {

using weft::detail::BlockingEntry;
using weft::detail::CallState;
using weft::detail::Err;
using weft::detail::Op;
using weft::detail::Sock;
using weft::detail::SockRef;
using weft::detail::SockState;
using weft::detail::WaitObj;

using detail::ContextState;
using detail::openssl_error;
using detail::sock_of;
using detail::StreamState;

namespace {

// --- one OpenSSL call and what it asks for next ----------------------------------------------

enum class Next { read, write, closed, failed };

// Before an OpenSSL I/O call: its error queue empty (SSL_get_error reads it), nothing seen.
// The queue is cleared only when it holds something: clearing an empty one costs OpenSSL 3.0
// some 800 instructions (every slot, freed), more than the rest of a record's bookkeeping.
void prepare(StreamState* st) noexcept {
  if (ERR_peek_error() != 0) ERR_clear_error();
  st->io_errno = 0;
  st->eof = false;
}

// The error of a call that failed for good: the socket's, a truncation (the TCP stream ended
// without close_notify), or OpenSSL's own — a certificate's verification result by name.
std::error_code failure(StreamState* st) noexcept {
  std::error_code ec;
  unsigned long e = ERR_peek_error();
  if (st->io_errno) {
    ec = weft::detail::errno_to_error(st->io_errno);
  } else if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL &&
             ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
             SSL_get_verify_result(st->ssl) != X509_V_OK) {
    ec = {-static_cast<int>(SSL_get_verify_result(st->ssl)), category()};
  } else if (st->eof) {
    ec = wsa::econnreset;  // a truncation: no close_notify before the end
  } else {
    ec = openssl_error(e);
  }
  ERR_clear_error();
  return ec;
}

Next classify(StreamState* st, int r, std::error_code& ec) noexcept {
  switch (SSL_get_error(st->ssl, r)) {
    case SSL_ERROR_WANT_READ: return Next::read;
    case SSL_ERROR_WANT_WRITE: return Next::write;
    case SSL_ERROR_ZERO_RETURN: return Next::closed;
    default:
      ec = failure(st);
      st->failed = ec;  // OpenSSL allows no further I/O after these
      return Next::failed;
  }
}

// The waits of one public call: one blocking call (blocking.hpp), outstanding from its first
// wait to the call's end, so that a cancel, a deadline or a stop that comes while the fiber
// runs OpenSSL between two waits is kept (BlockingCall::rearm) and ends the next wait, as a
// socket call's retries keep it. `deadline_ns` (not 0) ends the call with WSAETIMEDOUT.
class Waits {
 public:
  // `closing`: the waits of the stream's close itself (its flush is not cut by its own mark).
  explicit Waits(const BlockingEntry& entry, std::int64_t deadline_ns = 0,
                 bool closing = false) noexcept
      : entry_(entry), deadline_ns_(deadline_ns), closing_(closing) {}
  Waits(const Waits&) = delete;
  Waits& operator=(const Waits&) = delete;

  // Parks until the stream's socket is readable (Next::read) or writable, as a call of kind
  // `op` having committed `*moved` (tls_write). On any end but readiness the table's row
  // applies and `error` is what to return; a stream closed meanwhile by another fiber gives
  // WSAEINTR.
  bool wait(StreamState* st, Next next, Op op, const std::size_t* moved, Err& error) {
    const Socket h = st->sock;  // the stream may be closed while the fiber is parked
    weft::detail::RuntimeImpl* rt = entry_.runtime();
    CallState how = CallState::pending;
    if (!call_) {
      call_.emplace(entry_);
      if (deadline_ns_ > 0) {
        deadline_.emplace(entry_.fiber(), CallState::timed_out);
        deadline_->arm(deadline_ns_);
      }
    } else {
      how = call_->rearm();  // a cancel that came since the last wait ended is kept
      // The call's own deadline may have fired while the last wait's readiness had already
      // fixed the outcome (its complete() lost): only the timer knows, and it ends the call.
      if (how == CallState::pending && deadline_ && deadline_->fired()) how = CallState::timed_out;
    }
    if (how == CallState::pending) {
      Sock* s = rt->sockets().get(h);
      if (!s) {
        error = wsa::eintr;  // closed by another fiber
        return false;
      }
      weft::detail::IoWaiter waiter(entry_.fiber(), next == Next::write ? UV_WRITABLE : UV_READABLE,
                                    op, moved);
      if (auto ec = rt->sockets().wait_add(s, waiter)) {
        error = Err(ec);
        return false;
      }
      how = call_->wait();
      if (how == CallState::completed) {
        if (st->closed || (st->closing && !closing_)) {  // another fiber closed the stream
          error = wsa::eintr;
          return false;
        }
        return true;
      }
    }
    weft::detail::leave_after_cancel(op, h, moved ? *moved : 0);
    error = weft::detail::outcome_error(how);
    return false;
  }
  const BlockingEntry& entry() const noexcept { return entry_; }

 private:
  const BlockingEntry& entry_;
  std::int64_t deadline_ns_;
  bool closing_;
  std::optional<weft::detail::BlockingCall> call_;
  std::optional<weft::detail::CallDeadline> deadline_;  // ends before the call
};

// Room in the socket's send queue now (or an error a write will report).
bool has_room(Sock* s) noexcept {
  pollfd p{s->fd, POLLOUT, 0};
  return weft::detail::retry_eintr([&] { return ::poll(&p, 1, 0); }) != 0;
}

// What a record may take of the send buffer, at most, beyond its plaintext: its header and
// tag, and the socket buffers the kernel may allocate to hold it.
constexpr std::size_t kRecordCharge = 8192;
// Kept back from what poll proved free, for what OpenSSL writes unasked (a key update's
// answer during a recv) and is not charged.
constexpr std::size_t kRoomMargin = 16384;

// Room for a record of `plain` bytes: the kernel will take at least a byte of it. Known
// without asking most of the time: when poll(2) says POLLOUT, Linux has at least a third of
// SO_SNDBUF free (POLLOUT means the free space is at least half of what is queued), and only
// the stream's own writes take from it (acknowledgements give back). So until the records
// written since could have used up that third, the next write finds room — what poll would
// have said — and no syscall asks. On loopback the send buffer grows to megabytes at once: a
// poll every hundred 4 KiB records instead of one per record.
//
// Not where tcp_notsent_lowat is set (a finite value makes a write fail once that many bytes
// wait unsent, whatever the room): there every record asks. (Under global TCP memory pressure
// the kernel may shrink a send buffer at any moment; poll's answer is a snapshot too.)
bool room_for(StreamState* st, Sock* s, std::size_t plain) noexcept {
  static const bool may_budget = [] {
    std::FILE* f = std::fopen("/proc/sys/net/ipv4/tcp_notsent_lowat", "r");
    if (!f) return false;
    unsigned long long lowat = 0;
    const bool read = std::fscanf(f, "%llu", &lowat) == 1;
    std::fclose(f);
    return read && lowat >= 0xffffffffull;  // the default: no limit
  }();
  const std::size_t charge = plain + kRecordCharge;
  if (st->room_changes == s->sndbuf_changes && st->room >= charge) {
    st->room -= charge;
    return true;
  }
  st->room = 0;
  pollfd p{s->fd, POLLOUT, 0};
  int n = weft::detail::retry_eintr([&] { return ::poll(&p, 1, 0); });
  if (n == 0) return false;
  if (n > 0 && (p.revents & POLLOUT)) {
    int sndbuf = 0;
    socklen_t len = sizeof sndbuf;
    if (::getsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 && sndbuf > 0) {
      const std::size_t third = static_cast<std::size_t>(sndbuf) / 3;
      if (may_budget && third > kRoomMargin + charge) {
        st->room = third - kRoomMargin - charge;
        st->room_changes = s->sndbuf_changes;
      }
    }
  }
  return true;  // room, or an error the write will report
}

// The checks every stream call makes first (semantics.md §7a steps 1 and 2): a fiber, a
// stream that is open, a socket that is not reset, no earlier fatal error.
Err gate(const BlockingEntry& entry, StreamState* st, bool need_fiber = true) {
  if (need_fiber) {
    if (auto ec = entry.need_fiber()) return ec;
  }
  if (!st || st->closed || st->closing) return wsa::enotsock;
  SockRef r;
  if (auto ec = weft::detail::sock_lookup(st->sock, r)) return ec;
  if (auto ec = weft::detail::sock_gate(r.s)) return ec;
  if (st->failed) return Err(st->failed);
  return {};
}

// After a failed handshake: the alert OpenSSL sent is followed by the end of the stream.
void end_after_failed_handshake(StreamState* st) noexcept {
  (void)weft::shutdown(st->sock, Shutdown::send);
}

// The handshake, to its end, for a call that `entry` admitted.
Err run_handshake(Waits& w, StreamState* st) {
  while (!SSL_is_init_finished(st->ssl)) {
    prepare(st);
    int r = SSL_do_handshake(st->ssl);
    if (r == 1) break;
    std::error_code ec;
    Next next = classify(st, r, ec);
    if (next == Next::closed) {
      ec = wsa::econnreset;
      st->failed = ec;
      next = Next::failed;
    }
    if (next == Next::failed) {
      end_after_failed_handshake(st);
      return Err(ec);
    }
    Err error;
    if (!w.wait(st, next, Op::tls_read, nullptr, error)) return error;
  }
  return {};
}

// A record's plaintext at most (TLS's limit): SSL_write encrypts one record per call.
constexpr std::size_t kRecord = 16384;

// send and send_some: records until `len` bytes are out (all) or the socket has no room for
// another after the first (send_some).
Result<std::size_t> send_records(Waits& w, StreamState* st, const void* buf, std::size_t len,
                                 bool all) {
  if (auto ec = run_handshake(w, st)) return ec;
  const auto* p = static_cast<const char*>(buf);
  std::size_t done = 0;     // plaintext of the call in records wholly on the wire
  std::size_t at_risk = 0;  // done, plus a record encrypted and not yet wholly written
  std::size_t chunk = 0;    // the record under way (or next)
  bool pending = false;     // a record is encrypted and partly (or not) on the wire
  // What a close of another fiber must know, parked or not: this send has committed bytes.
  struct AtRisk {
    StreamState* st;
    ~AtRisk() { st->write_at_risk = 0; }
  } mark{st};
  while (done < len) {
    st->write_at_risk = at_risk;
    Err error;
    if (!pending) {
      Sock* s = sock_of(st);
      if (!s) return wsa::eintr;  // closed by another fiber
      if (auto ec = weft::detail::sock_gate(s)) return ec;
      chunk = std::min(len - done, kRecord);
      if (!room_for(st, s, chunk)) {
        if (!all && done > 0) break;
        // Nothing of the call committed yet: a cancel here leaves the stream unchanged; after
        // records of its own went out (send), it resets.
        if (!w.wait(st, Next::write, Op::tls_write, &at_risk, error)) return error;
        continue;
      }
    }
    prepare(st);
    std::size_t wrote = 0;
    int r = SSL_write_ex(st->ssl, p + done, chunk, &wrote);
    if (r == 1) {
      done += wrote;
      at_risk = done;
      pending = false;
      continue;
    }
    std::error_code ec;
    Next next = classify(st, r, ec);
    if (next == Next::failed) return ec;
    if (next == Next::closed) {
      st->failed = wsa::econnreset;
      return wsa::econnreset;
    }
    pending = true;
    at_risk = done + chunk;
    st->write_at_risk = at_risk;
    st->room = 0;  // the kernel took only part: what it has free is unknown again
    if (!w.wait(st, next, Op::tls_write, &at_risk, error)) return error;
  }
  return done;
}

// How every stream call starts (the stream's last call has a start of its own, below):
// semantics §7a's order — a fiber, the stream and the arguments, the stream's state for this
// call (`state`), then the hook, stop and token checks.
template <class State, class F>
auto admitted(const char* call, const CancelToken& token, StreamState* st, const void* buf,
              std::size_t len, State&& state, F&& f)
    -> decltype(f(std::declval<BlockingEntry&>())) {
  BlockingEntry entry(token, call, WaitObj::socket, st ? to_integer(st->sock) : 0);
  if (auto ec = gate(entry, st)) return ec;
  if (!buf && len > 0) return wsa::efault;
  if (Err ec = state()) return ec;
  if (auto ec = entry.admit()) return ec;
  return f(entry);
}

Err any_state() noexcept { return {}; }

// A send after shutdown or close_notify: WSAESHUTDOWN.
Err may_send(const StreamState* st) noexcept {
  return st->notify_sent ? Err(wsa::eshutdown) : Err();
}

}  // namespace

Stream::Stream() noexcept = default;
Stream::Stream(std::unique_ptr<StreamState> s) noexcept : s_(std::move(s)) {}
Stream::Stream(Stream&&) noexcept = default;

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    Stream old(std::move(*this));
    s_ = std::move(o.s_);
  }
  return *this;
}

namespace {

// Before the socket closes: what the kernel holds for the stream goes into OpenSSL, so that
// protocol messages nobody had a reason to read (TLS 1.3 session tickets, which a client that
// only sends never reads) do not make the close a reset — Linux resets a connection closed
// with bytes unread. Plaintext the caller did not read stops it there, and the kernel's reset
// then tells the peer so, as it would for a socket.
void absorb_queued(StreamState* st) noexcept {
  if (!SSL_is_init_finished(st->ssl) || st->failed || st->peer_closed) return;
  char b;
  std::size_t n = 0;
  prepare(st);
  (void)SSL_peek_ex(st->ssl, &b, 1, &n);  // reads until plaintext, a wait, or the end
  if (ERR_peek_error() != 0) ERR_clear_error();
}

// The close that never waits (a destructor, or where close may not wait): close_notify into
// the send queue if it has room, then the socket's graceful close (or its reset, per linger).
void close_now(StreamState* st) noexcept {
  if (st->closed) return;
  st->closed = true;
  Sock* s = sock_of(st);
  if (s && st->write_at_risk > 0) s->rt->sockets().reset(s);  // a send of another fiber cut
  // It never waits: a lingering close (SO_LINGER {1, t>0}) goes on in the background instead.
  if (s && s->linger_on && s->linger_seconds > 0) (void)weft::set_linger(st->sock, std::nullopt);
  if (s && s->fd >= 0 && s->state == SockState::connected && !st->failed && !st->notify_sent &&
      SSL_is_init_finished(st->ssl) && !(s->linger_on && s->linger_seconds == 0)) {
    // Only into room (as every record); an alert the socket took only part of cuts the
    // stream, which the peer must then see reset rather than ended.
    if (has_room(s)) {
      prepare(st);
      if (SSL_shutdown(st->ssl) < 0) s->rt->sockets().reset(s);
      if (ERR_peek_error() != 0) ERR_clear_error();
    }
    if (s->state == SockState::connected) absorb_queued(st);
  }
  (void)weft::close(st->sock);
}

}  // namespace

Stream::~Stream() {
  if (s_) close_now(s_.get());
}

Status Stream::handshake(const CancelToken& token) {
  StreamState* st = s_.get();
  return admitted("Stream::handshake", token, st, nullptr, 0, any_state,
                  [&](BlockingEntry& entry) -> Status {
                    Waits w(entry);
                    return run_handshake(w, st).error();
                  });
}

Result<std::size_t> Stream::recv(void* buf, std::size_t len, const CancelToken& token) {
  StreamState* st = s_.get();
  return admitted("Stream::recv", token, st, buf, len, any_state,
                  [&](BlockingEntry& entry) -> Result<std::size_t> {
                    if (len == 0) return std::size_t{0};
                    Waits w(entry);
                    if (auto ec = run_handshake(w, st)) return ec;
                    for (;;) {
                      // What a shutdown() of another fiber read first, and the end it found: looked
                      // at before every read and after every wait (that shutdown wakes the
                      // readers).
                      if (st->tail_read < st->tail.size()) {
                        std::size_t n = std::min(len, st->tail.size() - st->tail_read);
                        std::memcpy(buf, st->tail.data() + st->tail_read, n);
                        st->tail_read += n;
                        return n;
                      }
                      if (st->peer_closed) return std::size_t{0};
                      // Nothing buffered and the socket known drained: wait for readiness before
                      // reading (a read would only find EAGAIN, at the price of OpenSSL's whole
                      // failing read path).
                      Sock* s = sock_of(st);
                      if (s && s->drained && !SSL_has_pending(st->ssl)) {
                        Err error;
                        if (!w.wait(st, Next::read, Op::tls_read, nullptr, error)) return error;
                      }
                      prepare(st);
                      std::size_t got = 0;
                      int r = SSL_read_ex(st->ssl, buf, len, &got);
                      if (r == 1) return got;
                      std::error_code ec;
                      Next next = classify(st, r, ec);
                      if (next == Next::failed) return ec;
                      if (next == Next::closed) {
                        st->peer_closed = true;
                        return std::size_t{0};
                      }
                      Err error;
                      if (!w.wait(st, next, Op::tls_read, nullptr, error)) return error;
                    }
                  });
}

Status Stream::send(const void* buf, std::size_t len, const CancelToken& token) {
  StreamState* st = s_.get();
  return admitted(
      "Stream::send", token, st, buf, len, [st] { return may_send(st); },
      [&](BlockingEntry& entry) -> Status {
        Waits w(entry);
        auto r = send_records(w, st, buf, len, true);
        return r.ok() ? Status{} : Status(r.error());
      });
}

Result<std::size_t> Stream::send_some(const void* buf, std::size_t len, const CancelToken& token) {
  StreamState* st = s_.get();
  return admitted(
      "Stream::send_some", token, st, buf, len, [st] { return may_send(st); },
      [&](BlockingEntry& entry) {
        Waits w(entry);
        return send_records(w, st, buf, len, false);
      });
}

namespace {

// A recv of another fiber parked on the socket looks again: shutdown() took what it waits for
// (plaintext for the tail, or the end). A spurious wake for a writer, which looks again too.
void wake_readers(StreamState* st) noexcept {
  if (Sock* s = sock_of(st)) s->rt->sockets().wake_all(s, CallState::completed);
}

// Puts close_notify on the wire, waiting (as a call of kind tls_close) until it is. Like a
// record of data, the alert is made only once the socket has room for it.
Err send_close_notify(Waits& w, StreamState* st) {
  bool room = false;
  while (!st->notify_sent) {
    Err error;
    if (!room) {
      Sock* s = sock_of(st);
      if (!s) return wsa::eintr;  // closed by another fiber
      if (auto ec = weft::detail::sock_gate(s)) return ec;
      room = has_room(s);
      if (!room) {
        if (!w.wait(st, Next::write, Op::tls_close, nullptr, error)) {
          return error;
        }
        continue;
      }
    }
    prepare(st);
    int r = SSL_shutdown(st->ssl);
    if (r >= 0) {
      st->notify_sent = true;
      if (r == 1) st->peer_closed = true;
      break;
    }
    std::error_code ec;
    Next next = classify(st, r, ec);
    if (next == Next::failed) return Err(ec);
    if (!w.wait(st, next, Op::tls_close, nullptr, error)) return error;
  }
  return {};
}

}  // namespace

Status Stream::shutdown(const CancelToken& token) {
  StreamState* st = s_.get();
  // Before the handshake's end: WSAENOTCONN. While a send of another fiber has committed
  // part of its call: WSAEINVAL (close_notify cannot come between its records).
  auto state = [st]() -> Err {
    if (!SSL_is_init_finished(st->ssl)) return wsa::enotconn;
    if (st->write_at_risk > 0) return wsa::einval;
    return {};
  };
  return admitted("Stream::shutdown", token, st, nullptr, 0, state,
                  [&](BlockingEntry& entry) -> Status {
                    Waits w(entry);
                    if (auto ec = send_close_notify(w, st)) return ec;
                    // The peer's close_notify; what it sends before it is kept for recv.
                    std::string chunk(kRecord, '\0');
                    while (!st->peer_closed) {
                      prepare(st);
                      std::size_t got = 0;
                      int r = SSL_read_ex(st->ssl, chunk.data(), chunk.size(), &got);
                      if (r == 1) {
                        st->tail.append(chunk.data(), got);
                        wake_readers(st);
                        continue;
                      }
                      std::error_code ec;
                      Next next = classify(st, r, ec);
                      if (next == Next::failed) return ec;
                      if (next == Next::closed) {
                        st->peer_closed = true;
                        wake_readers(st);
                        break;
                      }
                      Err error;
                      if (!w.wait(st, next, Op::tls_close, nullptr, error)) return error;
                    }
                    return Status{};
                  });
}

Status Stream::close(const CancelToken& token) {
  StreamState* st = s_.get();
  if (!st || st->closed) return wsa::enotsock;
  BlockingEntry entry(token, "Stream::close", WaitObj::socket, to_integer(st->sock));
  SockRef r;
  if (auto ec = weft::detail::sock_lookup(st->sock, r)) return ec;
  if (r.s->state == SockState::closing || st->closing) return wsa::enotsock;  // by another fiber
  auto& table = r.rt->sockets();
  // Calls other fibers have outstanding on the stream end with WSAEINTR; a send that had
  // committed part of its data leaves a cut-off stream, which the peer must see reset.
  // So does a send that readiness had woken and that has not run since (no longer parked).
  if (table.cancel_waiters_for_close(r.s) == weft::detail::Leaves::reset || st->write_at_risk > 0) {
    table.reset(r.s);
  }
  const bool can_notify = r.s->fd >= 0 && r.s->state == SockState::connected && !st->failed &&
                          !st->notify_sent && SSL_is_init_finished(st->ssl) &&
                          !(r.s->linger_on && r.s->linger_seconds == 0);
  if (can_notify) {
    // A blocking call where it may wait; elsewhere (off a fiber, in a hook, at stop) the close
    // that never waits. Under a cancelled token it is cancelled before it starts.
    Err refused = entry.need_fiber();
    if (!refused) refused = entry.admit();
    if (refused.is(wsa::eintr) || refused.is(wsa::etimedout)) {
      weft::detail::leave_after_cancel(Op::tls_close, st->sock, 0);
      return refused;
    }
    if (refused) {
      close_now(st);
      return {};
    }
    const std::int64_t deadline =
        weft::detail::RuntimeImpl::now_ns() +
        std::chrono::duration_cast<std::chrono::nanoseconds>(st->ctx->close_timeout).count();
    st->closing = true;
    Err ec;
    {
      Waits w(entry, std::max<std::int64_t>(deadline, 1), true);
      ec = send_close_notify(w, st);
    }  // the call ends before the socket's close, which may linger (a blocking call of its own)
    st->closing = false;
    // Ended by a cancel, a deadline of its token or scope, or a stop: the table has reset the
    // connection, and the stream stays open for close alone (as a lingering close's, §3). Its
    // own bound passing (reset too), or a broken stream, ends in the close of the socket.
    const bool bound_passed =
        ec.is(wsa::etimedout) && weft::detail::RuntimeImpl::now_ns() >= deadline;
    if ((ec.is(wsa::eintr) || ec.is(wsa::etimedout) || ec.is(wsa::enetdown)) && !bound_passed) {
      return ec;
    }
    // OpenSSL could not make the alert (a record of a send it holds): the stream is cut.
    if (ec && ec.error().category() == category()) {
      if (Sock* s = sock_of(st)) s->rt->sockets().reset(s);
    }
  }
  if (Sock* s = sock_of(st); s && s->state == SockState::connected) absorb_queued(st);
  // The socket's close may linger (SO_LINGER {1, t>0}) and be cancelled: then the handle, and
  // the stream with it, stays open for another close.
  Status closed = weft::close(st->sock, token);
  if (closed.ok() || closed.error() == wsa::enotsock) st->closed = true;
  return closed;
}

Socket Stream::socket() const noexcept { return s_ ? s_->sock : Socket::invalid; }

std::string_view Stream::alpn_selected() const noexcept {
  if (!s_) return {};
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(s_->ssl, &p, &n);
  return p ? std::string_view(reinterpret_cast<const char*>(p), n) : std::string_view();
}

bool Stream::handshake_done() const noexcept { return s_ && SSL_is_init_finished(s_->ssl); }

bool Stream::resumed() const noexcept { return s_ && SSL_session_reused(s_->ssl) == 1; }

std::string_view Stream::version() const noexcept {
  if (!handshake_done()) return {};
  return SSL_get_version(s_->ssl);
}

}  // namespace weft::tls
