// The file calls: each runs its system call on libuv's pool as a PoolJob (runtime/pool.hpp
// says the rule a cancel follows), with only the calling fiber waiting.
//
// A job's function may capture the caller's frame by reference: it runs only if the pool
// started it, and then the call waits for its end; a job given up by a cancel is freed
// without running. A File's descriptor is shared by the File and every job under way on it
// (FileState::refs): the last to let go closes it, so a close while another fiber's read is
// on the pool never lets that read touch a descriptor number the process has reused.
#include <weft/fs.hpp>

#include "park.hpp"
#include "pool.hpp"

#include <atomic>
#include <cerrno>
#include <climits>
#include <memory>
#include <new>
#include <string>

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace weft::fs {

namespace detail {

struct FileState {
  explicit FileState(int d) noexcept : fd(d) {}
  int fd;
  std::atomic<int> refs{1};         // the File's, and one per job under way on it
  std::atomic<bool> closed{false};  // close() was called: new calls fail bad_file_descriptor
};

}  // namespace detail

namespace {

using detail::FileState;
using weft::detail::BlockingCall;
using weft::detail::BlockingEntry;
using weft::detail::CallState;
using weft::detail::Err;
using weft::detail::Op;
using weft::detail::PoolJob;
using weft::detail::WaitObj;

// A file's descriptor for a fiber dump (what a closed File's call waits on: none).
std::uint64_t fd_of(const FileState* st) noexcept {
  return st && st->fd >= 0 ? static_cast<std::uint64_t>(st->fd) : 0;
}

FileState* acquire(FileState* st) noexcept {
  st->refs.fetch_add(1, std::memory_order_relaxed);
  return st;
}

void release(FileState* st) noexcept {
  if (st->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (st->fd >= 0) ::close(st->fd);
  delete st;
}

// The File's state if it may take a new call, else null (moved-from, closed).
FileState* usable(FileState* st) noexcept {
  return st && !st->closed.load(std::memory_order_acquire) ? st : nullptr;
}

// A system call on the pool: `fn` returns its result, negative with errno set on failure
// (retried on EINTR). Holds a reference to the file it works on, if any, until freed.
template <class Fn>
class SysJob final : public PoolJob {
 public:
  SysJob(Fn&& fn, FileState* file) noexcept : fn_(std::move(fn)), file_(file) {}
  ~SysJob() override {
    if (file_) release(file_);
  }
  void run() noexcept override {
    long r;
    do {
      errno = 0;
      r = static_cast<long>(fn_());
    } while (r < 0 && errno == EINTR);
    result = r;
    err = r < 0 ? errno : 0;
  }
  long result = -1;
  int err = 0;

 private:
  Fn fn_;
  FileState* file_;
};

// Runs `fn` on the pool for the call `entry` admitted: its result, the system's error
// (generic category), or the call's (a cancel before the start, WSAENOBUFS). `file`, when
// not null, is held for the job's life.
template <class Fn>
Result<long> on_pool(const BlockingEntry& entry, FileState* file, Fn fn) {
  if (file) acquire(file);
  std::unique_ptr<PoolJob> job(new (std::nothrow) SysJob<Fn>(std::move(fn), file));
  if (!job) {
    if (file) release(file);
    return wsa::enobufs;
  }
  if (Status st = weft::detail::pool_wait(entry, job); !st.ok()) return st.error();
  auto* j = static_cast<SysJob<Fn>*>(job.get());
  if (j->result < 0) return weft::detail::generic_error(j->err);
  return j->result;
}

// A path for a system call: WSAEINVAL when empty or holding a NUL.
Err path_arg(std::string_view path, std::string& out) {
  if (path.empty() || path.find('\0') != std::string_view::npos) return wsa::einval;
  out.assign(path);
  return {};
}

// The common start of a call on an open File (semantics.md §7a: fiber, handle, arguments,
// admission). Null when it may proceed; else its error in `error`.
template <class R>
FileState* enter_file(const BlockingEntry& entry, FileState* st, const void* buf, std::size_t len,
                      R& error) {
  if (auto ec = entry.need_fiber()) {
    error = ec;
    return nullptr;
  }
  FileState* f = usable(st);
  if (!f) {
    error = std::make_error_code(std::errc::bad_file_descriptor);
    return nullptr;
  }
  if (!buf && len > 0) {
    error = wsa::efault;
    return nullptr;
  }
  if (auto ec = entry.admit()) {
    error = ec;
    return nullptr;
  }
  return f;
}

// One system call moves at most this much (Linux's own limit per read or write).
constexpr std::size_t kMaxIo = 0x7ffff000;

Result<std::size_t> as_size(Result<long> r) {
  if (!r.ok()) return r.error();
  return static_cast<std::size_t>(*r);
}

Stat to_stat(const struct stat& sb) noexcept {
  Stat s;
  s.size = static_cast<std::uint64_t>(sb.st_size);
  s.mode = sb.st_mode;
  s.nlink = sb.st_nlink;
  s.uid = sb.st_uid;
  s.gid = sb.st_gid;
  s.inode = sb.st_ino;
  s.device = sb.st_dev;
  s.mtime_ns = static_cast<std::int64_t>(sb.st_mtim.tv_sec) * 1'000'000'000 + sb.st_mtim.tv_nsec;
  return s;
}

}  // namespace

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (st_) {
      st_->closed.store(true, std::memory_order_release);
      release(st_);
    }
    st_ = o.st_;
    o.st_ = nullptr;
  }
  return *this;
}

File::~File() {
  if (st_) {
    st_->closed.store(true, std::memory_order_release);
    release(st_);
  }
}

int File::native_handle() const noexcept { return st_ ? st_->fd : -1; }

Result<File> File::open(std::string_view path, int flags, int mode, const CancelToken& token) {
  BlockingEntry entry(token, "File::open");
  if (auto ec = entry.need_fiber()) return ec;
  std::string p;
  if (auto ec = path_arg(path, p)) return ec;
  if (auto ec = entry.admit()) return ec;
  auto fd = on_pool(entry, nullptr, [&] { return ::open(p.c_str(), flags | O_CLOEXEC, mode); });
  if (!fd.ok()) return fd.error();
  auto* st = new (std::nothrow) FileState(static_cast<int>(*fd));
  if (!st) {
    ::close(static_cast<int>(*fd));
    return wsa::enobufs;
  }
  return File(st);
}

Result<std::size_t> File::read(void* buf, std::size_t len, const CancelToken& token) {
  BlockingEntry entry(token, "File::read", WaitObj::file, fd_of(st_));
  Result<std::size_t> error = wsa::einval;
  FileState* st = enter_file(entry, st_, buf, len, error);
  if (!st) return error;
  const std::size_t n = len < kMaxIo ? len : kMaxIo;
  return as_size(on_pool(entry, st, [fd = st->fd, buf, n] { return ::read(fd, buf, n); }));
}

Result<std::size_t> File::write(const void* buf, std::size_t len, const CancelToken& token) {
  BlockingEntry entry(token, "File::write", WaitObj::file, fd_of(st_));
  Result<std::size_t> error = wsa::einval;
  FileState* st = enter_file(entry, st_, buf, len, error);
  if (!st) return error;
  const std::size_t n = len < kMaxIo ? len : kMaxIo;
  return as_size(on_pool(entry, st, [fd = st->fd, buf, n] { return ::write(fd, buf, n); }));
}

Result<std::size_t> File::pread(void* buf, std::size_t len, std::uint64_t offset,
                                const CancelToken& token) {
  BlockingEntry entry(token, "File::pread", WaitObj::file, fd_of(st_));
  Result<std::size_t> error = wsa::einval;
  FileState* st = enter_file(entry, st_, buf, len, error);
  if (!st) return error;
  if (offset > static_cast<std::uint64_t>(LLONG_MAX)) return wsa::einval;
  const std::size_t n = len < kMaxIo ? len : kMaxIo;
  const auto off = static_cast<off_t>(offset);
  return as_size(
      on_pool(entry, st, [fd = st->fd, buf, n, off] { return ::pread(fd, buf, n, off); }));
}

Result<std::size_t> File::pwrite(const void* buf, std::size_t len, std::uint64_t offset,
                                 const CancelToken& token) {
  BlockingEntry entry(token, "File::pwrite", WaitObj::file, fd_of(st_));
  Result<std::size_t> error = wsa::einval;
  FileState* st = enter_file(entry, st_, buf, len, error);
  if (!st) return error;
  if (offset > static_cast<std::uint64_t>(LLONG_MAX)) return wsa::einval;
  const std::size_t n = len < kMaxIo ? len : kMaxIo;
  const auto off = static_cast<off_t>(offset);
  return as_size(
      on_pool(entry, st, [fd = st->fd, buf, n, off] { return ::pwrite(fd, buf, n, off); }));
}

Status File::sync(const CancelToken& token) {
  BlockingEntry entry(token, "File::sync", WaitObj::file, fd_of(st_));
  Status error;
  FileState* st = enter_file(entry, st_, nullptr, 0, error);
  if (!st) return error;
  auto r = on_pool(entry, st, [fd = st->fd] { return ::fsync(fd); });
  if (!r.ok()) return r.error();
  return {};
}

Result<Stat> File::stat(const CancelToken& token) {
  BlockingEntry entry(token, "File::stat", WaitObj::file, fd_of(st_));
  Result<Stat> error = wsa::einval;
  FileState* st = enter_file(entry, st_, nullptr, 0, error);
  if (!st) return error;
  struct stat sb {};
  auto r = on_pool(entry, st, [fd = st->fd, &sb] { return ::fstat(fd, &sb); });
  if (!r.ok()) return r.error();
  return to_stat(sb);
}

Status File::close(const CancelToken& token) {
  BlockingEntry entry(token, "File::close", WaitObj::file, fd_of(st_));
  Status error;
  FileState* st = enter_file(entry, st_, nullptr, 0, error);
  if (!st) return error;
  st->closed.store(true, std::memory_order_release);  // no new call from here on
  if (st->refs.load(std::memory_order_acquire) > 1) {
    // Calls of other fibers are on the pool with it: the last of them closes it.
    st_ = nullptr;
    release(st);
    return {};
  }
  const int fd = st->fd;
  auto r = on_pool(entry, nullptr, [fd] { return ::close(fd); });
  if (!r.ok() && r.error().category() != std::generic_category()) {
    // The call's own error (a cancel before the pool started it, WSAENOBUFS): still open.
    st->closed.store(false, std::memory_order_release);
    return r.error();
  }
  // close(2) ran: the descriptor is gone even when it reports an error (Linux).
  st->fd = -1;
  st_ = nullptr;
  release(st);
  if (!r.ok()) return r.error();
  return {};
}

Result<Stat> stat(std::string_view path, const CancelToken& token) {
  BlockingEntry entry(token, "stat");
  if (auto ec = entry.need_fiber()) return ec;
  std::string p;
  if (auto ec = path_arg(path, p)) return ec;
  if (auto ec = entry.admit()) return ec;
  struct stat sb {};
  auto r = on_pool(entry, nullptr, [&] { return ::stat(p.c_str(), &sb); });
  if (!r.ok()) return r.error();
  return to_stat(sb);
}

namespace {

// A call on one path: `fn(path)` on the pool.
template <class Fn>
Status path_call(const char* call, std::string_view path, const CancelToken& token, Fn fn) {
  BlockingEntry entry(token, call);
  if (auto ec = entry.need_fiber()) return ec;
  std::string p;
  if (auto ec = path_arg(path, p)) return ec;
  if (auto ec = entry.admit()) return ec;
  auto r = on_pool(entry, nullptr, [&] { return fn(p.c_str()); });
  if (!r.ok()) return r.error();
  return {};
}

}  // namespace

Status rename(std::string_view from, std::string_view to, const CancelToken& token) {
  BlockingEntry entry(token, "rename");
  if (auto ec = entry.need_fiber()) return ec;
  std::string a, b;
  if (auto ec = path_arg(from, a)) return ec;
  if (auto ec = path_arg(to, b)) return ec;
  if (auto ec = entry.admit()) return ec;
  auto r = on_pool(entry, nullptr, [&] { return ::rename(a.c_str(), b.c_str()); });
  if (!r.ok()) return r.error();
  return {};
}

Status unlink(std::string_view path, const CancelToken& token) {
  return path_call("unlink", path, token, [](const char* p) { return ::unlink(p); });
}

Status mkdir(std::string_view path, int mode, const CancelToken& token) {
  return path_call("mkdir", path, token,
                   [mode](const char* p) { return ::mkdir(p, static_cast<mode_t>(mode)); });
}

Status rmdir(std::string_view path, const CancelToken& token) {
  return path_call("rmdir", path, token, [](const char* p) { return ::rmdir(p); });
}

Result<std::vector<DirEntry>> readdir(std::string_view path, const CancelToken& token) {
  BlockingEntry entry(token, "readdir");
  if (auto ec = entry.need_fiber()) return ec;
  std::string p;
  if (auto ec = path_arg(path, p)) return ec;
  if (auto ec = entry.admit()) return ec;
  std::vector<DirEntry> out;
  auto r = on_pool(entry, nullptr, [&]() -> int {
    DIR* d = ::opendir(p.c_str());
    if (!d) return -1;
    for (;;) {
      errno = 0;
      dirent* e = ::readdir(d);
      if (!e) break;
      std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      EntryType type = EntryType::unknown;
      switch (e->d_type) {
        case DT_REG: type = EntryType::file; break;
        case DT_DIR: type = EntryType::directory; break;
        case DT_LNK: type = EntryType::symlink; break;
        case DT_UNKNOWN: break;
        default: type = EntryType::other; break;
      }
      try {
        out.push_back(DirEntry{std::string(name), type});
      } catch (const std::bad_alloc&) {
        ::closedir(d);
        errno = ENOMEM;
        return -1;
      }
    }
    const int err = errno;
    ::closedir(d);
    errno = err;
    return err != 0 ? -1 : 0;
  });
  if (!r.ok()) return r.error();
  return out;
}

// sendfile: pieces on the pool, the socket's room waited for on the loop, one blocking call
// from the first wait to the end (a cancel that comes between two waits is kept by rearm).
Result<std::size_t> sendfile(Socket out, File& in, std::uint64_t offset, std::size_t len,
                             const CancelToken& token) {
  BlockingEntry entry(token, "sendfile", WaitObj::socket, to_integer(out));
  if (auto ec = entry.need_fiber()) return ec;
  weft::detail::SockRef r;
  if (auto ec = weft::detail::sock_lookup(out, r)) return ec;
  if (r.s->type != SOCK_STREAM) return wsa::eopnotsupp;
  if (auto ec = weft::detail::send_gate(r.s)) return ec;
  FileState* st = usable(in.st_);
  if (!st) return std::make_error_code(std::errc::bad_file_descriptor);
  if (offset > static_cast<std::uint64_t>(LLONG_MAX)) return wsa::einval;
  if (auto ec = entry.admit()) return ec;
  if (len == 0) return std::size_t{0};

  // The pool writes to a duplicate of the socket's descriptor: a close of the socket by
  // another fiber while a piece is on the pool cannot hand its number to another file.
  const int sock = ::fcntl(r.s->fd, F_DUPFD_CLOEXEC, 0);
  if (sock < 0) return weft::detail::errno_to_error(errno);
  weft::detail::RuntimeImpl* rt = entry.runtime();
  std::size_t sent = 0;
  auto off = static_cast<off_t>(offset);
  Result<std::size_t> result = std::size_t{0};
  BlockingCall call(entry);
  CallState how = CallState::pending;
  for (;;) {
    // One piece on the pool.
    const std::size_t want = len - sent < kMaxIo ? len - sent : kMaxIo;
    long n = -1;
    int err = 0;
    auto piece = [&]() -> ssize_t { return ::sendfile(sock, st->fd, &off, want); };
    acquire(st);
    std::unique_ptr<PoolJob> job(new (std::nothrow) SysJob<decltype(piece)>(std::move(piece), st));
    if (!job) {
      release(st);
      result = wsa::enobufs;
      break;
    }
    how = weft::detail::pool_run(call, job);
    if (how == CallState::idle) {
      result = wsa::enobufs;
      break;
    }
    if (how != CallState::completed) break;
    auto* j = static_cast<SysJob<decltype(piece)>*>(job.get());
    n = j->result;
    err = j->err;
    job.reset();
    if (!rt->sockets().get(out)) {  // closed by another fiber meanwhile
      how = CallState::cancelled;
      break;
    }
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      if (sent == len) break;
    } else if (n == 0) {
      break;  // the file ended
    } else if (err != EAGAIN) {
      weft::detail::Sock* s = rt->sockets().get(out);
      if (err == ECONNRESET || err == EPIPE) s->reset_by_peer = true;
      result = weft::detail::errno_to_error(err);
      break;
    }
    how = call.rearm();  // a cancel that came while the piece ran is kept
    if (how != CallState::pending) break;
    if (n > 0) continue;
    // The socket is full: wait for room, as a send that has moved `sent` bytes.
    weft::detail::Sock* s = rt->sockets().get(out);
    weft::detail::IoWaiter waiter(entry.fiber(), UV_WRITABLE, Op::send, &sent);
    if (auto ec = rt->sockets().wait_add(s, waiter)) {
      result = Err(ec);
      how = CallState::completed;
      break;
    }
    how = call.wait();
    if (how != CallState::completed) break;
    if (!rt->sockets().get(out)) {
      how = CallState::cancelled;
      break;
    }
    how = call.rearm();
    if (how != CallState::pending) break;
  }
  if (how != CallState::completed && how != CallState::pending && how != CallState::idle) {
    // Ended by a cancel, a deadline, stop or another fiber's close: the send's row.
    if (rt->sockets().get(out)) {
      weft::detail::leave_after_cancel(Op::send, out, sent);
    } else if (sent > 0) {
      // Closed meanwhile: the last reference is the pool's duplicate; reset through it.
      linger lg{1, 0};
      (void)::setsockopt(sock, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    ::close(sock);
    return weft::detail::outcome_error(how);
  }
  ::close(sock);
  if (!result.ok()) return result;
  return sent;
}

}  // namespace weft::fs
