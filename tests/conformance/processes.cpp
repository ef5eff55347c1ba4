// Pipes and child processes (semantics.md §10), against real programs: sh, cat, printf and
// Python children that read, write, ignore signals and say when they are ready. Each row of
// the pipe table is observed by the child at the other end; each staged end is checked for
// zombies and descriptors left open through /proc.
#include "../support/process.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::open_descriptors;
using weft::test::run_in_fiber;
using weft::test::spawn_call;
using weft::test::wait_until;
using weft::test::zombie_children;

std::error_code errc(std::errc e) { return std::make_error_code(e); }

ProcessOptions opts(std::vector<std::string> argv, Stdio in = Stdio::null, Stdio out = Stdio::null,
                    Stdio err = Stdio::inherit) {
  ProcessOptions o;
  o.argv = std::move(argv);
  o.in = in;
  o.out = out;
  o.err = err;
  return o;
}

ProcessOptions python(const std::string& code, Stdio in = Stdio::null, Stdio out = Stdio::null) {
  return opts({"python3", "-c", code}, in, out);
}

// Everything a pipe end gives until end of file (or an error, returned as such).
Result<std::string> read_all(Socket s) {
  std::string out;
  std::string buf(65536, '\0');  // on the heap: fiber stacks are small
  for (;;) {
    auto n = recv(s, buf.data(), buf.size());
    if (!n.ok()) return n.error();
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

// One line (up to and without its '\n') from a pipe end, byte by byte.
std::string read_line(Socket s) {
  std::string line;
  char c;
  while (recv(s, &c, 1).value_or(0) == 1 && c != '\n') line.push_back(c);
  return line;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// --- pipes -----------------------------------------------------------------------------

TEST(Pipes, ABytePipeBetweenFibers) {
  run_in_fiber([] {
    auto p = weft::pipe();
    ASSERT_TRUE(p.ok()) << p.error().message();
    auto [r, w] = *p;
    EXPECT_TRUE(send(w, "abc", 3).ok());
    char b[8];
    auto n = recv(r, b, sizeof b);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(b, *n), "abc");
    // Each end goes one way; a pipe has no peeking; it is no connection.
    EXPECT_EQ(send(r, "x", 1).error(), wsa::eshutdown);
    EXPECT_EQ(recv(w, b, 1).error(), wsa::eshutdown);
    EXPECT_EQ(recv(r, b, 1, MSG_PEEK).error(), wsa::eopnotsupp);
    EXPECT_EQ(recv(r, b, 1, MSG_DONTWAIT).error(), wsa::ewouldblock);
    EXPECT_FALSE(peer_address(r).ok());
    EXPECT_TRUE(close(w).ok());
    auto eof = recv(r, b, sizeof b);
    ASSERT_TRUE(eof.ok());
    EXPECT_EQ(*eof, 0u);
    EXPECT_TRUE(close(r).ok());
  });
}

TEST(Pipes, ACancelledReadConsumesNothing) {
  run_in_fiber([] {
    auto child = Process::spawn(
        python("import sys; sys.stdin.readline(); sys.stdout.write('hello'); sys.stdout.flush()",
               Stdio::pipe, Stdio::pipe));
    ASSERT_TRUE(child.ok()) << child.error().message();
    std::atomic<bool> blocked{false};
    Result<std::size_t> first = wsa::einval;
    char b[16];
    auto reader = spawn_call(blocked, [&] { first = recv(child->stdout_pipe(), b, sizeof b); });
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
    EXPECT_TRUE(cancel_blocking_call(*reader).ok());
    EXPECT_TRUE(join(*reader).ok());
    EXPECT_EQ(first.error(), wsa::eintr);
    EXPECT_TRUE(send(child->stdin_pipe(), "go\n", 3).ok());
    auto all = read_all(child->stdout_pipe());
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(*all, "hello");  // every byte, none lost to the cancelled read
    EXPECT_EQ(*child->wait(), 0);
    EXPECT_TRUE(close(child->stdin_pipe()).ok());
    EXPECT_TRUE(close(child->stdout_pipe()).ok());
  });
}

// A child that reads nothing until SIGUSR1, then counts what its standard input holds up to
// end of file and says whether it was the pattern i % 251 from the start.
const char* kCountAfterSignal = "import signal, sys\n"
                                "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\n"
                                "print('ready', flush=True)\n"
                                "signal.sigwait([signal.SIGUSR1])\n"
                                "data = sys.stdin.buffer.read()\n"
                                "ok = all(b == i % 251 for i, b in enumerate(data))\n"
                                "print(len(data), 'prefix' if ok else 'garbled', flush=True)\n";

std::string pattern(std::size_t n, std::size_t from = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((from + i) % 251);
  return s;
}

TEST(Pipes, ACancelledWriteThatMovedNothingLeavesThePipeAsItWas) {
  run_in_fiber([] {
    auto child = Process::spawn(python(kCountAfterSignal, Stdio::pipe, Stdio::pipe));
    ASSERT_TRUE(child.ok());
    ASSERT_EQ(read_line(child->stdout_pipe()), "ready");
    Socket in = child->stdin_pipe();
    // Fill the pipe without waiting.
    std::size_t queued = 0;
    for (;;) {
      std::string chunk = pattern(4096, queued);
      auto n = send_some(in, chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (!n.ok()) {
        ASSERT_EQ(n.error(), wsa::ewouldblock);
        break;
      }
      queued += *n;
    }
    std::atomic<bool> blocked{false};
    Result<std::size_t> cancelled = wsa::einval;
    const std::string more = pattern(100, queued);
    auto writer = spawn_call(blocked, [&] { cancelled = send(in, more.data(), more.size()); });
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
    EXPECT_TRUE(cancel_blocking_call(*writer).ok());
    EXPECT_TRUE(join(*writer).ok());
    EXPECT_EQ(cancelled.error(), wsa::eintr);
    // The pipe is as it was: the same bytes may be sent again, in order.
    EXPECT_TRUE(child->kill(SIGUSR1).ok());
    EXPECT_TRUE(send(in, more.data(), more.size()).ok());
    EXPECT_TRUE(close(in).ok());
    EXPECT_EQ(read_line(child->stdout_pipe()), std::to_string(queued + more.size()) + " prefix");
    EXPECT_EQ(*child->wait(), 0);
    EXPECT_TRUE(close(child->stdout_pipe()).ok());
  });
}

TEST(Pipes, ACancelledWriteThatMovedSomeClosesTheWriteEnd) {
  run_in_fiber([] {
    auto child = Process::spawn(python(kCountAfterSignal, Stdio::pipe, Stdio::pipe));
    ASSERT_TRUE(child.ok());
    ASSERT_EQ(read_line(child->stdout_pipe()), "ready");
    Socket in = child->stdin_pipe();
    const std::string big = pattern(4 << 20);  // more than any pipe holds
    std::atomic<bool> blocked{false};
    Result<std::size_t> cancelled = wsa::einval;
    auto writer = spawn_call(blocked, [&] { cancelled = send(in, big.data(), big.size()); });
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
    EXPECT_TRUE(cancel_blocking_call(*writer).ok());
    EXPECT_TRUE(join(*writer).ok());
    EXPECT_EQ(cancelled.error(), wsa::eintr);
    EXPECT_EQ(send(in, "x", 1).error(), wsa::econnaborted);  // the write end is closed
    EXPECT_TRUE(child->kill(SIGUSR1).ok());
    // The child reads what arrived — a prefix, some bytes, not all — then end of file.
    std::string said = read_line(child->stdout_pipe());
    std::istringstream ss(said);
    std::size_t got = 0;
    std::string verdict;
    ss >> got >> verdict;
    EXPECT_GT(got, 0u) << said;
    EXPECT_LT(got, big.size()) << said;
    EXPECT_EQ(verdict, "prefix") << said;
    EXPECT_EQ(*child->wait(), 0);
    EXPECT_TRUE(close(in).ok());
    EXPECT_TRUE(close(child->stdout_pipe()).ok());
  });
}

TEST(Pipes, WritingToAPipeWhoseReaderIsGoneFailsWithoutSigpipe) {
  run_in_fiber([] {
    auto child = Process::spawn(opts({"true"}, Stdio::pipe));
    ASSERT_TRUE(child.ok());
    EXPECT_EQ(*child->wait(), 0);
    const std::string data(1 << 16, 'x');
    auto r = send(child->stdin_pipe(), data.data(), data.size());
    EXPECT_EQ(r.error(), wsa::econnreset);  // EPIPE; the process lives on
    EXPECT_TRUE(close(child->stdin_pipe()).ok());
  });
}

TEST(Pipes, AdoptTakesAPipeEndAndATerminal) {
  run_in_fiber([] {
    // A pipe made outside weft: its read end adopted, written by plain write(2).
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    auto r = adopt_pipe(fds[0]);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(send(*r, "x", 1).error(), wsa::eshutdown);  // read-only
    ASSERT_EQ(::write(fds[1], "posix", 5), 5);
    char b[16];
    auto n = recv(*r, b, sizeof b);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(b, *n), "posix");
    ::close(fds[1]);
    EXPECT_EQ(*recv(*r, b, sizeof b), 0u);
    EXPECT_TRUE(close(*r).ok());
    EXPECT_EQ(::fcntl(fds[0], F_GETFD), -1);  // weft closed it

    // A terminal: the slave side of a pseudo-terminal, read and written through weft.
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    ASSERT_GE(master, 0);
    ASSERT_EQ(::grantpt(master), 0);
    ASSERT_EQ(::unlockpt(master), 0);
    const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    ASSERT_GE(slave, 0);
    auto tty = adopt_pipe(slave);
    ASSERT_TRUE(tty.ok()) << tty.error().message();
    ASSERT_EQ(::write(master, "line\n", 5), 5);
    auto got = recv(*tty, b, sizeof b);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(std::string(b, *got), "line\n");
    EXPECT_TRUE(send(*tty, "out", 3).ok());
    std::string echoed;
    while (echoed.find("out") == std::string::npos) {  // the terminal echoes the input first
      ssize_t m = ::read(master, b, sizeof b);
      ASSERT_GT(m, 0);
      echoed.append(b, static_cast<std::size_t>(m));
    }
    EXPECT_TRUE(close(*tty).ok());
    ::close(master);
  });
}

TEST(Pipes, AdoptRefusesWhatIsNoPipeAndLeavesItToTheCaller) {
  run_in_fiber([] {
    char tmpl[] = "/tmp/weft-adopt-XXXXXX";
    const int file = ::mkstemp(tmpl);
    ASSERT_GE(file, 0);
    ::unlink(tmpl);
    EXPECT_EQ(adopt_pipe(file).error(), wsa::enotsock);  // a regular file never waits
    EXPECT_NE(::fcntl(file, F_GETFD), -1);               // still open, still the caller's
    ::close(file);
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    EXPECT_EQ(adopt_pipe(null).error(), wsa::einval);   // epoll cannot watch it
    EXPECT_EQ(::fcntl(null, F_GETFL) & O_NONBLOCK, 0);  // untouched
    ::close(null);
    const int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(adopt_pipe(sock).error(), wsa::enotsock);  // a socket: adopt()
    ::close(sock);
    EXPECT_EQ(adopt_pipe(-1).error(), wsa::enotsock);
  });
  EXPECT_EQ(adopt_pipe(0).error(), wsa::einval);  // off a runtime
}

// --- processes -------------------------------------------------------------------------

TEST(Processes, ExitStatusAndSignal) {
  run_in_fiber([] {
    auto a = Process::spawn(opts({"sh", "-c", "exit 3"}));
    ASSERT_TRUE(a.ok()) << a.error().message();
    EXPECT_GT(a->pid(), 0);
    EXPECT_EQ(*a->wait(), 3);
    EXPECT_TRUE(a->exited());
    EXPECT_EQ(*a->wait(), 3);  // as often as asked
    EXPECT_EQ(a->kill(SIGTERM).error(), errc(std::errc::no_such_process));
    auto b = Process::spawn(opts({"sh", "-c", "kill -TERM $$"}));
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(*b->wait(), 128 + SIGTERM);
  });
}

TEST(Processes, StandardStreamsAsPipes) {
  run_in_fiber([] {
    auto rev = Process::spawn(
        python("import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d[::-1])",
               Stdio::pipe, Stdio::pipe));
    ASSERT_TRUE(rev.ok());
    EXPECT_EQ(rev->stderr_pipe(), Socket::invalid);  // inherited
    EXPECT_TRUE(send(rev->stdin_pipe(), "stressed", 8).ok());
    EXPECT_TRUE(close(rev->stdin_pipe()).ok());
    EXPECT_EQ(*read_all(rev->stdout_pipe()), "desserts");
    EXPECT_EQ(*rev->wait(), 0);
    EXPECT_TRUE(close(rev->stdout_pipe()).ok());

    ProcessOptions o =
        opts({"sh", "-c", "printf out; printf err >&2"}, Stdio::null, Stdio::pipe, Stdio::pipe);
    auto both = Process::spawn(o);
    ASSERT_TRUE(both.ok());
    EXPECT_EQ(*read_all(both->stdout_pipe()), "out");
    EXPECT_EQ(*read_all(both->stderr_pipe()), "err");
    EXPECT_EQ(*both->wait(), 0);
    (void)close(both->stdout_pipe());
    (void)close(both->stderr_pipe());
  });
}

TEST(Processes, EnvironmentAndWorkingDirectory) {
  run_in_fiber([] {
    ProcessOptions o = opts({"sh", "-c", "echo \"$GREETING\"; pwd"}, Stdio::null, Stdio::pipe);
    o.env = {"GREETING=hi there", "PATH=/usr/bin:/bin"};
    o.cwd = "/";
    auto p = Process::spawn(o);
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_EQ(*read_all(p->stdout_pipe()), "hi there\n/\n");
    EXPECT_EQ(*p->wait(), 0);
    (void)close(p->stdout_pipe());
  });
}

TEST(Processes, BadOptionsAndMissingPrograms) {
  run_in_fiber([] {
    EXPECT_EQ(Process::spawn(ProcessOptions{}).error(), wsa::einval);
    EXPECT_EQ(Process::spawn(opts({std::string("a\0b", 3)})).error(), wsa::einval);
    ProcessOptions bad_env = opts({"true"});
    bad_env.env = {"NOEQUALS"};
    EXPECT_EQ(Process::spawn(bad_env).error(), wsa::einval);
    const int before = open_descriptors();
    EXPECT_EQ(Process::spawn(opts({"/nonexistent/program"}, Stdio::pipe, Stdio::pipe)).error(),
              errc(std::errc::no_such_file_or_directory));
    ProcessOptions bad_cwd = opts({"true"});
    bad_cwd.cwd = "/nonexistent/dir";
    EXPECT_EQ(Process::spawn(bad_cwd).error(), errc(std::errc::no_such_file_or_directory));
    EXPECT_EQ(open_descriptors(), before);  // no pipe left behind
    EXPECT_EQ(Process::run(opts({"true"}), -1ms).error(), wsa::einval);
    Process none;
    EXPECT_EQ(none.wait().error(), wsa::einval);
    EXPECT_EQ(none.kill(SIGTERM).error(), wsa::einval);
    EXPECT_EQ(none.stdout_pipe(), Socket::invalid);
  });
  // Off a runtime.
  EXPECT_EQ(Process::spawn(opts({"true"})).error(), wsa::einval);
}

TEST(Processes, TheDescriptorLimitHitDuringSpawnLeaksNothing) {
  run_in_fiber([] {
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    const int before = open_descriptors();
    rlimit tight = old;
    tight.rlim_cur = static_cast<rlim_t>(before + 3);  // room for one pipe, not three
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
    auto p = Process::spawn(opts({"true"}, Stdio::pipe, Stdio::pipe, Stdio::pipe));
    ::setrlimit(RLIMIT_NOFILE, &old);
    EXPECT_EQ(p.error(), errc(std::errc::too_many_files_open));
    EXPECT_EQ(open_descriptors(), before);
  });
}

TEST(Processes, ACancelledWaitLeavesTheChildRunning) {
  run_in_fiber([] {
    auto p = Process::spawn(opts({"sleep", "60"}));
    ASSERT_TRUE(p.ok());
    std::atomic<bool> blocked{false};
    Result<int> first = wsa::einval;
    auto waiter = spawn_call(blocked, [&] { first = p->wait(); });
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
    EXPECT_TRUE(cancel_blocking_call(*waiter).ok());
    EXPECT_TRUE(join(*waiter).ok());
    EXPECT_EQ(first.error(), wsa::eintr);
    EXPECT_TRUE(alive(p->pid()));
    EXPECT_TRUE(p->kill(0).ok());
    CancelSource deadline(20ms);
    EXPECT_EQ(p->wait(deadline.token()).error(), wsa::etimedout);
    EXPECT_TRUE(p->kill(SIGKILL).ok());
    EXPECT_EQ(*p->wait(), 128 + SIGKILL);  // waited again, to the end
    EXPECT_EQ(zombie_children(), 0);
  });
}

// A Python child that writes its pid into `file` once its SIGTERM disposition is set (ignored
// when `ignore_term`), then sleeps.
ProcessOptions ready_sleeper(const std::string& file, bool ignore_term) {
  std::string code = "import os, signal, time\n";
  if (ignore_term) code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n";
  code += "with open('" + file +
          ".tmp', 'w') as f: f.write(str(os.getpid()))\n"
          "os.rename('" +
          file + ".tmp', '" + file +
          "')\n"
          "time.sleep(60)\n";
  return python(code);
}

pid_t pid_in(const std::string& file) {
  std::ifstream in(file);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

struct ReadyFile {
  std::string path;
  ReadyFile() {
    const char* base = std::getenv("TMPDIR");
    path = std::string(base ? base : "/tmp") + "/weft-ready-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter++);
    ::unlink(path.c_str());
  }
  ~ReadyFile() { ::unlink(path.c_str()); }
  bool exists() const {
    struct stat sb {};
    return ::stat(path.c_str(), &sb) == 0;
  }
  static inline int counter = 0;
};

// run() of `o` cancelled by another fiber once the child said it is ready.
std::pair<Result<int>, pid_t> run_cancelled_when_ready(const ReadyFile& ready,
                                                       const ProcessOptions& o,
                                                       std::chrono::milliseconds grace) {
  Result<int> result = wsa::einval;
  auto runner = weft::spawn([&] { result = Process::run(o, grace); });
  EXPECT_TRUE(runner.ok());
  EXPECT_TRUE(wait_until([&] { return ready.exists(); }));
  const pid_t pid = pid_in(ready.path);
  EXPECT_TRUE(cancel_blocking_call(*runner).ok());
  EXPECT_TRUE(join(*runner).ok());
  return {result, pid};
}

TEST(Processes, RunCancelledEndsTheChildWithSigtermAndReapsIt) {
  run_in_fiber([] {
    ReadyFile ready;
    const int fds = open_descriptors();
    auto [result, pid] = run_cancelled_when_ready(ready, ready_sleeper(ready.path, false), 30s);
    EXPECT_EQ(result.error(), wsa::eintr);
    ASSERT_GT(pid, 0);
    EXPECT_FALSE(alive(pid));  // ended and reaped: no zombie holds its pid
    EXPECT_EQ(zombie_children(), 0);
    EXPECT_EQ(open_descriptors(), fds);
  });
}

TEST(Processes, RunCancelledKillsAChildThatIgnoresSigtermAfterTheGrace) {
  run_in_fiber([] {
    ReadyFile ready;
    ProcessOptions o = ready_sleeper(ready.path, true);
    o.out = Stdio::pipe;  // a pipe run() closes
    const int fds = open_descriptors();
    auto [result, pid] = run_cancelled_when_ready(ready, o, 100ms);
    EXPECT_EQ(result.error(), wsa::eintr);
    ASSERT_GT(pid, 0);
    EXPECT_FALSE(alive(pid));
    EXPECT_EQ(zombie_children(), 0);
    EXPECT_EQ(open_descriptors(), fds);
  });
}

TEST(Processes, RunReturnsTheStatusWhenNotCancelled) {
  run_in_fiber([] { EXPECT_EQ(*Process::run(opts({"sh", "-c", "exit 7"}), 1s), 7); });
}

// --- process groups -----------------------------------------------------------------------

// Ended: no such process, or one that ended and that nobody has reaped yet (an orphan of
// this test's children waits for the system's init to reap it).
bool dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto end_of_name = line.rfind(')');
  return end_of_name != std::string::npos && line.compare(end_of_name + 1, 3, " Z ") == 0;
}

// A Python child that starts `sleep 60` and writes "its pid, the sleep's pid" into `file`,
// then sleeps.
ProcessOptions parent_of_a_sleeper(const std::string& file) {
  return python("import os, subprocess, time\n"
                "c = subprocess.Popen(['sleep', '60'])\n"
                "with open('" +
                file +
                ".tmp', 'w') as f: f.write('%d %d' % (os.getpid(), c.pid))\n"
                "os.rename('" +
                file + ".tmp', '" + file +
                "')\n"
                "time.sleep(60)\n");
}

// run() of parent_of_a_sleeper in another fiber, once the child is ready: the runner, the
// child's pid and the sleep's (0, 0 if it never got ready).
struct RunningParent {
  Result<int> result = wsa::einval;
  Result<FiberId> runner = wsa::einval;
  pid_t child = 0, grandchild = 0;

  RunningParent(const ReadyFile& ready, const ProcessOptions& o) {
    runner = weft::spawn([this, o] { result = Process::run(o, 30s); });
    if (!runner.ok() || !wait_until([&] { return ready.exists(); })) return;
    std::ifstream in(ready.path);
    in >> child >> grandchild;
  }
  RunningParent(const RunningParent&) = delete;
  RunningParent& operator=(const RunningParent&) = delete;
};

TEST(ProcessGroups, ACancelledRunEndsWhatTheChildStartedInItsGroup) {
  run_in_fiber([] {
    ReadyFile ready;
    ProcessOptions o = parent_of_a_sleeper(ready.path);
    o.new_group = true;
    RunningParent run(ready, o);
    const pid_t child = run.child, grandchild = run.grandchild;
    ASSERT_GT(child, 0);
    ASSERT_GT(grandchild, 0);
    // The child leads a group (and a session) of its own, and the sleep is in it.
    EXPECT_EQ(::getpgid(child), child);
    EXPECT_EQ(::getpgid(grandchild), child);
    EXPECT_NE(::getpgid(0), child);
    EXPECT_EQ(::getsid(child), child);
    ASSERT_TRUE(cancel_blocking_call(*run.runner).ok());
    ASSERT_TRUE(join(*run.runner).ok());
    EXPECT_EQ(run.result.error(), wsa::eintr);
    EXPECT_FALSE(alive(child));  // ended and reaped
    EXPECT_EQ(zombie_children(), 0);
    // The sleep, signalled with its group, ends too (it is not this process's to reap).
    EXPECT_TRUE(wait_until([&] { return dead(grandchild); }));
    if (!dead(grandchild)) ::kill(grandchild, SIGKILL);
  });
}

TEST(ProcessGroups, WithoutANewGroupOnlyTheChildIsEnded) {
  run_in_fiber([] {
    ReadyFile ready;
    RunningParent run(ready, parent_of_a_sleeper(ready.path));
    const pid_t child = run.child, grandchild = run.grandchild;
    ASSERT_GT(grandchild, 0);
    EXPECT_EQ(::getpgid(child), ::getpgid(0));  // the parent's group
    ASSERT_TRUE(cancel_blocking_call(*run.runner).ok());
    ASSERT_TRUE(join(*run.runner).ok());
    EXPECT_EQ(run.result.error(), wsa::eintr);
    EXPECT_FALSE(alive(child));
    EXPECT_FALSE(dead(grandchild));  // SIGTERM went to the child alone: the sleep runs on
    ::kill(grandchild, SIGKILL);
    EXPECT_TRUE(wait_until([&] { return dead(grandchild); }));
  });
}

TEST(ProcessGroups, KillGroupReachesTheGroupAfterTheChildHasEnded) {
  run_in_fiber([] {
    ProcessOptions o = opts({"sh", "-c", "sleep 60 & echo $!"}, Stdio::null, Stdio::pipe);
    o.new_group = true;
    auto p = Process::spawn(o);
    ASSERT_TRUE(p.ok());
    const pid_t sleeper = static_cast<pid_t>(std::stol(read_line(p->stdout_pipe())));
    EXPECT_EQ(*p->wait(), 0);  // the shell has ended; its sleep runs on in its group
    EXPECT_EQ(p->kill(SIGKILL).error(), errc(std::errc::no_such_process));
    EXPECT_FALSE(dead(sleeper));
    EXPECT_TRUE(p->kill_group(0).ok());
    EXPECT_TRUE(p->kill_group(SIGKILL).ok());
    EXPECT_TRUE(wait_until([&] { return dead(sleeper); }));
    EXPECT_TRUE(close(p->stdout_pipe()).ok());
  });
}

TEST(ProcessGroups, KillGroupNeedsANewGroup) {
  run_in_fiber([] {
    auto p = Process::spawn(opts({"sleep", "60"}));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->kill_group(SIGKILL).error(), wsa::einval);  // its group is this process's
    EXPECT_TRUE(alive(p->pid()));
    EXPECT_TRUE(p->kill(SIGKILL).ok());
    EXPECT_EQ(*p->wait(), 128 + SIGKILL);
    EXPECT_EQ(Process().kill_group(SIGTERM).error(), wsa::einval);
  });
}

TEST(Processes, StopFailsAWaitAndRunsTheStagedEndOfARun) {
  ReadyFile ready;
  auto rt = std::make_unique<Runtime>();
  Result<int> waited = wsa::einval;
  Result<int> ran = wsa::einval;
  pid_t waited_pid = 0, ran_pid = 0;
  ASSERT_TRUE(rt->spawn([&] {
                  auto p = Process::spawn(opts({"sleep", "60"}));
                  ASSERT_TRUE(p.ok());
                  waited_pid = p->pid();
                  std::atomic<bool> blocked{false};
                  auto w = spawn_call(blocked, [&] { waited = p->wait(); });
                  auto r = weft::spawn(
                      [&] { ran = Process::run(ready_sleeper(ready.path, false), 30s); });
                  ASSERT_TRUE(wait_until([&] { return blocked.load() && ready.exists(); }));
                  ran_pid = pid_in(ready.path);
                  rt->stop();
                }).ok());
  ASSERT_TRUE(rt->run().ok());
  EXPECT_EQ(waited.error(), wsa::enetdown);
  EXPECT_EQ(ran.error(), wsa::enetdown);
  EXPECT_FALSE(alive(ran_pid));  // the staged end ran before run() returned
  ASSERT_GT(waited_pid, 0);
  EXPECT_TRUE(alive(waited_pid));  // a cancelled wait leaves the child running
  rt.reset();                      // the runtime lets go of it
  ::kill(waited_pid, SIGKILL);
  EXPECT_EQ(::waitpid(waited_pid, nullptr, 0), waited_pid);
}

}  // namespace
