// Pipes and child processes. A pipe end is a socket-table entry marked `pipe` (its reads and
// writes are in socket_io.cpp, its row of the table in socket_table.cpp); a child is a libuv
// process handle, whose exit callback reaps it and wakes the fibers waiting for it.
#include <weft/process.hpp>

#include "blocking.hpp"
#include "errors.hpp"
#include "socket_table.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace weft {

namespace detail {

namespace {

// A write to a pipe whose reader has gone raises SIGPIPE, which by default ends the process;
// with it ignored, the write fails EPIPE instead. Left alone if the process chose otherwise.
void ignore_sigpipe_once() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO)) {
      struct sigaction ign {};
      ign.sa_handler = SIG_IGN;
      ::sigemptyset(&ign.sa_mask);
      (void)::sigaction(SIGPIPE, &ign, nullptr);
    }
  });
}

}  // namespace

// Takes one end of a pipe (non-blocking, close-on-exec) into runtime rt's table; closes it on
// failure.
Result<Socket> add_pipe_end(RuntimeImpl* rt, int fd, bool read_end) noexcept {
  ignore_sigpipe_once();
  auto h = rt->sockets().add(fd, AF_UNSPEC, SOCK_STREAM, SockState::connected);
  if (!h.ok()) return h;
  Sock* s = rt->sockets().get(*h);
  s->pipe = true;
  s->shut_wr = read_end;
  s->shut_rd = !read_end;
  return h;
}

struct ProcessState final : RuntimeHandle {
  uv_process_t proc;
  RuntimeImpl* rt = nullptr;  // null once the runtime is gone
  pid_t pid = 0;
  bool exited = false;
  int status = 0;
  bool owned = true;         // a Process refers to it
  bool handle_open = false;  // proc is initialised and not yet closed
  bool group = false;        // spawned with new_group: the child's pid is its group's id
  Socket pipes[3] = {Socket::invalid, Socket::invalid, Socket::invalid};
  std::vector<Fiber*> waiters;  // fibers waiting for the end: in wait(), or run()'s staged end

  void close_handle() noexcept {
    if (hook.linked()) hook.unlink();
    if (!handle_open) return;
    uv_close(reinterpret_cast<uv_handle_t*>(&proc), [](uv_handle_t* h) {
      auto* st = static_cast<ProcessState*>(h->data);
      st->handle_open = false;
      if (!st->owned) delete st;
    });
  }
  // The runtime is being destroyed while the child runs: the child is left to itself.
  void runtime_ending() noexcept override {
    close_handle();
    rt = nullptr;
  }
};

namespace {

void on_exit(uv_process_t* h, std::int64_t exit_status, int term_signal) {
  auto* st = static_cast<ProcessState*>(h->data);
  st->exited = true;
  st->status = term_signal != 0 ? 128 + term_signal : static_cast<int>(exit_status & 0xff);
  // A fiber in wait() has an outstanding call to complete; one in run()'s staged end has
  // none and is only made ready.
  for (Fiber* f : st->waiters) {
    if (!st->rt->complete(f)) st->rt->make_ready(f);
  }
  st->close_handle();
}

// The process `st` if the calling thread runs its runtime, else null.
ProcessState* local(ProcessState* st) noexcept {
  return st && st->rt && st->rt == tls_runtime ? st : nullptr;
}

bool has_nul(const std::string& s) noexcept { return s.find('\0') != std::string::npos; }

// The staged end's wait: until the child ends, or (when due_ns > 0) that time; not a
// blocking call, so no cancel, deadline or stop cuts it short.
void wait_end_uncancellable(ProcessState* st, Fiber* f, std::int64_t due_ns) {
  struct Ctx {
    Fiber* f;
    bool fired = false;
  } ctx{f};
  ScopedTimer timer(f->rt->timers());
  if (due_ns > 0) {
    timer.arm(
        due_ns,
        [](TimerNode* n) {
          auto* c = static_cast<Ctx*>(n->ctx);
          c->fired = true;
          c->f->rt->make_ready(c->f);
        },
        &ctx);
  }
  st->waiters.push_back(f);
  while (!st->exited && !ctx.fired) f->rt->suspend();
  st->waiters.erase(std::find(st->waiters.begin(), st->waiters.end(), f));
}

}  // namespace

}  // namespace detail

using detail::Err;
using detail::ProcessState;

Result<std::pair<Socket, Socket>> pipe() {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt) return wsa::einval;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return detail::errno_to_error(errno);
  auto r = detail::add_pipe_end(rt, fds[0], true);
  if (!r.ok()) {
    ::close(fds[1]);
    return r.error();
  }
  auto w = detail::add_pipe_end(rt, fds[1], false);
  if (!w.ok()) {
    (void)close(*r);
    return w.error();
  }
  return std::pair<Socket, Socket>(*r, *w);
}

Result<Socket> adopt_pipe(int fd) {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt) return wsa::einval;
  struct stat sb {};
  if (fd < 0 || ::fstat(fd, &sb) != 0) return wsa::enotsock;
  if (!S_ISFIFO(sb.st_mode) && !S_ISCHR(sb.st_mode)) return wsa::enotsock;
  // A device epoll refuses (/dev/null, /dev/zero: always ready, never waited on) would fail every
  // wait: refused here, where the caller still holds it.
  {
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return detail::errno_to_error(errno);
    epoll_event ev{};
    ev.events = EPOLLIN;
    const int rc = ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    const int err = errno;
    ::close(ep);
    if (rc != 0) return err == EPERM ? Err(wsa::einval) : Err(detail::errno_to_error(err));
  }
  const int status_flags = ::fcntl(fd, F_GETFL);
  if (status_flags < 0) return detail::errno_to_error(errno);
  auto h = rt->sockets().adopt(fd, AF_UNSPEC, SOCK_STREAM, detail::SockState::connected);
  if (!h.ok()) return h.error();  // still the caller's, as it was
  detail::ignore_sigpipe_once();
  detail::Sock* s = rt->sockets().get(*h);
  s->pipe = true;
  const int mode = status_flags & O_ACCMODE;
  s->shut_rd = mode == O_WRONLY;
  s->shut_wr = mode == O_RDONLY;
  return h;
}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    Process gone(std::move(*this));
    st_ = o.st_;
    o.st_ = nullptr;
  }
  return *this;
}

Process::~Process() {
  if (!st_) return;
  st_->owned = false;
  // A child still running keeps its state until its end is reaped (or the runtime goes).
  if (!st_->handle_open) delete st_;
}

Result<Process> Process::spawn(const ProcessOptions& o) {
  detail::RuntimeImpl* rt = detail::tls_runtime;
  if (!rt) return wsa::einval;
  if (o.argv.empty() || o.argv[0].empty()) return wsa::einval;
  for (auto& a : o.argv) {
    if (detail::has_nul(a)) return wsa::einval;
  }
  for (auto& e : o.env) {
    if (detail::has_nul(e) || e.find('=') == std::string::npos) return wsa::einval;
  }
  if (detail::has_nul(o.cwd)) return wsa::einval;

  std::vector<char*> argv;
  for (auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> env;
  for (auto& e : o.env) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);

  // The descriptors the child gets as 0, 1 and 2; the parent's ends of its pipes.
  int child_fd[3] = {0, 1, 2};
  int parent_fd[3] = {-1, -1, -1};
  bool close_child[3] = {false, false, false};
  auto undo = [&] {
    for (int i = 0; i < 3; ++i) {
      if (close_child[i]) ::close(child_fd[i]);
      if (parent_fd[i] >= 0) ::close(parent_fd[i]);
    }
  };
  const Stdio modes[3] = {o.in, o.out, o.err};
  for (int i = 0; i < 3; ++i) {
    if (modes[i] == Stdio::null) {
      int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (fd < 0) {
        int err = errno;
        undo();
        return detail::generic_error(err);
      }
      child_fd[i] = fd;
      close_child[i] = true;
    } else if (modes[i] == Stdio::pipe) {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) {
        int err = errno;
        undo();
        return detail::generic_error(err);
      }
      // stdin: the child reads fds[0]; stdout, stderr: the child writes fds[1].
      const bool child_reads = i == 0;
      child_fd[i] = child_reads ? fds[0] : fds[1];
      parent_fd[i] = child_reads ? fds[1] : fds[0];
      close_child[i] = true;
      (void)::fcntl(parent_fd[i], F_SETFL, ::fcntl(parent_fd[i], F_GETFL) | O_NONBLOCK);
    }
  }

  auto* st = new (std::nothrow) ProcessState;
  if (!st) {
    undo();
    return wsa::enobufs;
  }
  uv_stdio_container_t stdio[3];
  for (int i = 0; i < 3; ++i) {
    stdio[i].flags = UV_INHERIT_FD;
    stdio[i].data.fd = child_fd[i];
  }
  uv_process_options_t opts{};
  opts.exit_cb = detail::on_exit;
  opts.file = argv[0];
  opts.args = argv.data();
  opts.env = o.env.empty() ? nullptr : env.data();
  opts.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  opts.stdio_count = 3;
  opts.stdio = stdio;
  // libuv's detached child calls setsid(): a session and a process group of its own.
  if (o.new_group) opts.flags |= UV_PROCESS_DETACHED;
  st->proc.data = st;
  int rc = uv_spawn(rt->loop(), &st->proc, &opts);
  // libuv initialises the handle even when the spawn fails; it must be closed either way.
  st->handle_open = true;
  st->rt = rt;
  for (int i = 0; i < 3; ++i) {
    if (close_child[i]) ::close(child_fd[i]);
    close_child[i] = false;
  }
  if (rc != 0) {
    undo();
    st->owned = false;
    st->close_handle();
    return detail::generic_error(-rc);
  }
  st->pid = st->proc.pid;
  st->group = o.new_group;
  rt->handles().push_back(st->hook);
  Process p(st);
  for (int i = 0; i < 3; ++i) {
    if (parent_fd[i] < 0) continue;
    int fd = parent_fd[i];
    parent_fd[i] = -1;
    auto h = detail::add_pipe_end(rt, fd, i != 0);
    if (!h.ok()) {
      // The child runs; its streams are closed (it sees end of file, or EPIPE).
      undo();
      for (Socket& made : st->pipes) {
        if (made != Socket::invalid) (void)close(made);
        made = Socket::invalid;
      }
      return h.error();
    }
    st->pipes[i] = *h;
  }
  return p;
}

Result<int> Process::wait(const CancelToken& token) {
  detail::BlockingEntry entry(token, "Process::wait", detail::WaitObj::process,
                              static_cast<std::uint64_t>(pid()));
  if (auto ec = entry.need_fiber()) return ec;
  ProcessState* st = detail::local(st_);
  if (!st) return wsa::einval;
  if (auto ec = entry.admit()) return ec;
  if (st->exited) return st->status;
  detail::Fiber* f = entry.fiber();
  detail::CallState how;
  {
    detail::BlockingCall call(entry);
    st->waiters.push_back(f);
    how = call.wait();
    st->waiters.erase(std::find(st->waiters.begin(), st->waiters.end(), f));
  }
  if (how != detail::CallState::completed) return detail::outcome_error(how);
  return st->status;
}

Status Process::kill(int signum) {
  ProcessState* st = detail::local(st_);
  if (!st) return wsa::einval;
  if (st->exited) return std::make_error_code(std::errc::no_such_process);
  if (int rc = uv_process_kill(&st->proc, signum); rc != 0) return detail::generic_error(-rc);
  return {};
}

Status Process::kill_group(int signum) {
  ProcessState* st = detail::local(st_);
  if (!st || !st->group) return wsa::einval;
  if (::kill(-st->pid, signum) != 0) return detail::generic_error(errno);
  return {};
}

Result<int> Process::run(const ProcessOptions& o, std::chrono::milliseconds grace,
                         const CancelToken& token) {
  detail::BlockingEntry entry(token, "Process::run");
  if (auto ec = entry.need_fiber()) return ec;
  if (grace.count() < 0) return wsa::einval;
  if (auto ec = entry.admit()) return ec;
  auto p = spawn(o);
  if (!p.ok()) return p.error();
  for (Socket s : p->st_->pipes) {
    if (s != Socket::invalid) (void)close(s);
  }
  Result<int> r = p->wait(token);
  const std::error_code e = r.error();
  if (r.ok() || (e != wsa::eintr && e != wsa::etimedout && e != wsa::enetdown)) return r;
  // The staged end: SIGTERM, SIGKILL after the grace period, reaped either way. For a group,
  // both to the whole group, and SIGKILL to what is left of it once the child has ended.
  ProcessState* st = p->st_;
  detail::Fiber* f = entry.fiber();
  auto send = [&](int signum) { (void)(st->group ? p->kill_group(signum) : p->kill(signum)); };
  if (!st->exited) {
    send(SIGTERM);
    const std::int64_t due = detail::RuntimeImpl::now_ns() +
                             std::chrono::duration_cast<std::chrono::nanoseconds>(grace).count();
    detail::wait_end_uncancellable(st, f, due > 0 ? due : 1);
  }
  if (!st->exited) {
    send(SIGKILL);
    detail::wait_end_uncancellable(st, f, 0);
  } else if (st->group) {
    send(SIGKILL);  // no_such_process: nothing was left
  }
  return e;
}

pid_t Process::pid() const noexcept { return st_ ? st_->pid : 0; }
bool Process::exited() const noexcept { return st_ && st_->exited; }
Socket Process::stdin_pipe() const noexcept { return st_ ? st_->pipes[0] : Socket::invalid; }
Socket Process::stdout_pipe() const noexcept { return st_ ? st_->pipes[1] : Socket::invalid; }
Socket Process::stderr_pipe() const noexcept { return st_ ? st_->pipes[2] : Socket::invalid; }

}  // namespace weft
