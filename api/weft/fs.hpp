// weft — files, on libuv's thread pool (semantics.md §10).
//
// A regular file's descriptor is always "ready" to epoll, and its reads and writes block the
// thread that makes them on the disk: weft makes each file call on a thread of libuv's pool
// (the pool of weft/offload.hpp) while only the calling fiber waits. Every call here that
// touches the file system is a blocking call like a socket's: it takes a CancelToken as its
// last parameter, obeys the order of checks of semantics.md §7a, and may be cancelled by every
// source (another fiber or thread, a token or scope and their deadlines, the blocking hook, a
// fiber message, runtime stop).
//
// Cancellation, for every call of this header: a call cancelled before the pool started it
// returns WSAEINTR (WSAETIMEDOUT for a deadline, WSAENETDOWN at stop) and did nothing — no
// byte read or written, no file opened, renamed or removed, the file position unchanged.
// Once started, it is never abandoned: the call waits for it and returns its real result, as
// if cancel had never been called (the start fixed the outcome first). A completed read or
// write is never reported as cancelled, and the caller's buffer is never touched after the
// call returned.
//
// Errors: the call's own (WSAEINVAL off a fiber or for a bad argument, WSAEFAULT for a null
// buffer with a length, WSAEINPROGRESS inside a hook, the cancel's), and what the system says
// of the file as std::errc values in the generic category (no_such_file_or_directory,
// permission_denied, is_a_directory, bad_file_descriptor for a closed File, ...).
//
// A File may be used by several fibers at once, of one runtime or several; its calls are then
// made in the order the pool runs them. Closing it while another fiber's call on it is under
// way is safe: the descriptor is closed when that call ends (the close reports success; a
// call made after it fails bad_file_descriptor).
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/net.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>

namespace weft::fs {

namespace detail {
struct FileState;
}  // namespace detail

// What stat(2) says of a file.
struct Stat {
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // type and permission bits (S_IFREG, 0644, ...)
  std::uint64_t nlink = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  std::int64_t mtime_ns = 0;  // last modification, nanoseconds since the epoch
  bool is_regular() const noexcept { return (mode & S_IFMT) == S_IFREG; }
  bool is_directory() const noexcept { return (mode & S_IFMT) == S_IFDIR; }
};

enum class EntryType { unknown, file, directory, symlink, other };

struct DirEntry {
  std::string name;  // never "." or ".."
  EntryType type = EntryType::unknown;
};

class WEFT_API File {
 public:
  File() noexcept = default;
  File(File&& o) noexcept : st_(o.st_) { o.st_ = nullptr; }
  File& operator=(File&& o) noexcept;
  // Closes the descriptor if still open, without waiting for the pool (close(2) of a regular
  // file does not wait for the disk; call close() to see its error).
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // open(2) with `flags` (O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC, ...; O_CLOEXEC is always
  // added) and `mode` for a file it creates. WSAEINVAL for an empty path or one with a NUL.
  //
  // Cancellation: cancelled before the pool started it, nothing was opened or created; once
  // started, the call returns the opened file (or open's error).
  static Result<File> open(std::string_view path, int flags, int mode = 0644,
                           const CancelToken& token = {});

  // read(2) and write(2) at the file's position, which they move. A read returns 0 at the
  // end of the file; a write may write less than asked only when the disk is full or a limit
  // is reached (then the next write says why).
  //
  // Cancellation: cancelled before the pool started it, nothing was read or written and the
  // position is where it was; once started, the call returns what it read or wrote.
  Result<std::size_t> read(void* buf, std::size_t len, const CancelToken& token = {});
  Result<std::size_t> write(const void* buf, std::size_t len, const CancelToken& token = {});
  // pread(2) and pwrite(2): at `offset`, the file's position untouched.
  //
  // Cancellation: as read and write.
  Result<std::size_t> pread(void* buf, std::size_t len, std::uint64_t offset,
                            const CancelToken& token = {});
  Result<std::size_t> pwrite(const void* buf, std::size_t len, std::uint64_t offset,
                             const CancelToken& token = {});
  // fsync(2).
  //
  // Cancellation: cancelled before the pool started it, nothing was flushed (data written
  // before may still reach the disk by itself); once started, the call returns fsync's result.
  Status sync(const CancelToken& token = {});
  // fstat(2).
  //
  // Cancellation: nothing to leave behind; cancelled before the pool started it, WSAEINTR.
  Result<Stat> stat(const CancelToken& token = {});
  // close(2), on the pool, reporting its error (EIO from a delayed write). Closing a closed
  // or moved-from File fails bad_file_descriptor.
  //
  // Cancellation: cancelled before the pool started it, the file stays open (close it again,
  // or let the destructor); once started, it is closed and the call returns close's result.
  Status close(const CancelToken& token = {});

  bool is_open() const noexcept { return st_ != nullptr; }
  // The descriptor, or -1. For reading only: closing it is the File's business.
  int native_handle() const noexcept;

 private:
  explicit File(detail::FileState* st) noexcept : st_(st) {}
  friend Result<std::size_t> sendfile(Socket out, File& in, std::uint64_t offset, std::size_t len,
                                      const CancelToken& token);
  detail::FileState* st_ = nullptr;
};

// stat(2), following a final symbolic link.
//
// Cancellation: nothing to leave behind; cancelled before the pool started it, WSAEINTR.
WEFT_API Result<Stat> stat(std::string_view path, const CancelToken& token = {});
// rename(2), unlink(2), mkdir(2), rmdir(2).
//
// Cancellation: cancelled before the pool started it, the file system is unchanged; once
// started, the call returns the system call's result.
WEFT_API Status rename(std::string_view from, std::string_view to, const CancelToken& token = {});
WEFT_API Status unlink(std::string_view path, const CancelToken& token = {});
WEFT_API Status mkdir(std::string_view path, int mode = 0777, const CancelToken& token = {});
WEFT_API Status rmdir(std::string_view path, const CancelToken& token = {});
// The entries of a directory, read whole on the pool ("." and ".." left out), in the order
// the file system gives them.
//
// Cancellation: nothing to leave behind; cancelled before the pool started it, WSAEINTR.
WEFT_API Result<std::vector<DirEntry>> readdir(std::string_view path,
                                               const CancelToken& token = {});

// Sends `len` bytes of `in` from `offset` on the stream socket `out` (sendfile(2): the bytes
// go from the page cache to the socket without passing through the caller), the file's
// position untouched. Returns the bytes sent: `len`, or fewer when the file ends first. Each
// piece is sent by the pool (it may read the disk); between pieces the fiber waits for room on
// the socket like a send. Errors: the socket's as send gives them, the file's as read does.
//
// Cancellation: as a send of the bytes (semantics.md §3): cancelled before any byte left, the
// socket is unchanged; after some did, the connection is reset (the peer must not mistake a
// cut-off file for a whole one). A piece the pool had started is waited for first.
WEFT_API Result<std::size_t> sendfile(Socket out, File& in, std::uint64_t offset, std::size_t len,
                                      const CancelToken& token = {});

}  // namespace weft::fs
