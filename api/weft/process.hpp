// weft — pipes and child processes (semantics.md §10).
//
// A pipe's ends, and a child's standard streams when piped, are weft handles (`Socket`):
// `recv`, `send`, `send_some`, `poll`, `wait_any` and `close` take them (flags other than
// MSG_DONTWAIT are WSAEOPNOTSUPP; the calls of a connection — connect, accept, shutdown,
// socket options, addresses — fail WSAENOTSOCK). A read end refuses `send`, a write end
// `recv` (WSAESHUTDOWN). Like a socket, a pipe end belongs to the runtime that made it.
//
// Cancellation, for a pipe end (both modes: portable mode concerns sockets): a cancelled
// `recv` consumed nothing. A cancelled `send` that had moved no byte leaves the pipe as it
// was; one that had moved some closes the write end at once — the reader sees end of file
// after the bytes that arrived, and later calls on the end fail WSAECONNABORTED — so that a
// cut-off write can never be mistaken for a whole one.
//
// Writing to a pipe whose reader has gone fails WSAECONNRESET (EPIPE), never SIGPIPE: the
// first pipe weft makes sets SIGPIPE to be ignored if the process had left it at its default
// (which would end the process), as Go and Rust programs do.
//
// A child process runs on the runtime that spawned it: its calls are made from that runtime's
// fibers (WSAEINVAL elsewhere). A child that ends is reaped by the runtime, whether or not
// anyone waits for it; destroying the Process while the child runs lets it run on (it is
// reaped if it ends while the runtime lives).
#pragma once

#include <weft/cancel_token.hpp>
#include <weft/config.hpp>
#include <weft/error.hpp>
#include <weft/net.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace weft {

// A pipe: {read end, write end}, both non-blocking weft handles of the calling runtime.
WEFT_API Result<std::pair<Socket, Socket>> pipe();

// Takes a descriptor the process already has — a pipe's end, a FIFO, a terminal: standard
// input or output, a parent's pipe — into weft as a pipe end of the calling runtime: `recv`
// reads it (unless it is open for writing only), `send` writes it (unless read-only). weft
// makes it non-blocking (O_NONBLOCK belongs to the open file description: a process that
// shares it, such as the shell of a terminal, sees it too) and close-on-exec, and owns it
// from then on: close() closes it. Never blocks. A child spawned with that stream as
// Stdio::inherit shares its open file description, which libuv makes blocking in the child:
// give such a child Stdio::pipe or Stdio::null instead.
// Errors, each leaving the descriptor untouched and the caller's: WSAENOTSOCK (not an open
// descriptor; a regular file or a directory, which never wait: use weft/fs.hpp; a socket:
// use adopt), WSAEINVAL (a device the kernel cannot watch for readiness, such as /dev/null;
// no runtime on this thread), WSAENOBUFS.
WEFT_API Result<Socket> adopt_pipe(int fd);

enum class Stdio { inherit, pipe, null };

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::vector<std::string> env;   // "NAME=value"; empty: the parent's environment
  std::string cwd;                // empty: the parent's
  Stdio in = Stdio::inherit, out = Stdio::inherit, err = Stdio::inherit;
  // The child starts a session and a process group of its own (setsid), whose id is its pid:
  // kill_group signals the child and every process it started that stayed in its group, and
  // a cancelled run ends them all (a shell's pipeline, a server's workers). It has no
  // controlling terminal, and a terminal's signals (^C) do not reach it.
  bool new_group = false;
};

namespace detail {
struct ProcessState;
}  // namespace detail

class WEFT_API Process {
 public:
  Process() noexcept = default;
  Process(Process&& o) noexcept : st_(o.st_) { o.st_ = nullptr; }
  Process& operator=(Process&& o) noexcept;
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts the child. Not a blocking call (the fork and exec do not wait for the child), so
  // it runs on a fiber or a post()ed function of a running runtime. Errors: WSAEINVAL for an
  // empty argv, an argument or variable holding a NUL, or off a runtime; what the system
  // says of the program (no_such_file_or_directory, permission_denied, ...) as std::errc
  // values; too_many_files_open when the descriptor limit is hit making its pipes.
  static Result<Process> spawn(const ProcessOptions& o);

  // Spawns, then waits for the child's end, returning its status as wait() does. Standard
  // streams given as Stdio::pipe are closed at once (use spawn to talk to the child).
  //
  // Cancellation: a cancel, a deadline or stop sends SIGTERM, then SIGKILL when `grace`
  // has passed without the child ending, reaps it, and returns the cancel's error
  // (WSAEINTR, WSAETIMEDOUT, WSAENETDOWN): no zombie, no pipe left open. With
  // ProcessOptions::new_group both signals go to the child's whole group, and once the child
  // has ended, SIGKILL goes to what is left of its group: nothing it started in its group
  // outlives the call. The others of the group have their grace for as long as the child
  // runs: a shell that passes SIGTERM on and waits for its children gives them all of it
  // (`trap 'kill -TERM $pid; wait $pid' TERM`). The staged end itself is not cancellable (it
  // is bounded by `grace` and SIGKILL).
  static Result<int> run(const ProcessOptions& o, std::chrono::milliseconds grace,
                         const CancelToken& token = {});

  // Waits for the child's end: its exit status (0-255), or 128 + the signal number for a
  // child ended by a signal. Once the child has ended, returns that status at once, as
  // often as asked. Several fibers may wait together.
  //
  // Cancellation: a cancelled wait leaves the child running, and may be called again.
  Result<int> wait(const CancelToken& token = {});

  // Sends `signum` to the child (0 checks it still runs). no_such_process once it has ended
  // (its pid may already be another process's).
  Status kill(int signum);
  // Sends `signum` to the child's process group (ProcessOptions::new_group): the child, if it
  // runs, and every process still in its group, even after the child has ended.
  // no_such_process once the group is empty; WSAEINVAL for a child spawned without
  // new_group (its group is the parent's), or with no child. As with kill after the child's
  // end, the id of a group that has emptied may be taken by another process's group later:
  // signal a group that still has a member you know of.
  Status kill_group(int signum);

  pid_t pid() const noexcept;
  // True once the child has ended and been reaped.
  bool exited() const noexcept;
  Socket stdin_pipe() const noexcept;   // Socket::invalid unless that stream is Stdio::pipe;
  Socket stdout_pipe() const noexcept;  // read and written with recv / send, closed with close
  Socket stderr_pipe() const noexcept;

 private:
  explicit Process(detail::ProcessState* st) noexcept : st_(st) {}
  detail::ProcessState* st_ = nullptr;
};

}  // namespace weft
