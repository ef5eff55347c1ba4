// The calls that run on libuv's thread pool — offload and the file calls — and the rule a
// cancel follows for them (semantics.md §10), each side of the race made deterministic:
//   - a call that cannot start (every pool thread held by test::PoolBlocker) is cancelled
//     and did nothing: the function never ran, no byte moved, no file appeared;
//   - a call known to be running (an offloaded function that said so; a read or write that
//     /proc shows blocked in the kernel on a FIFO) is "cancelled" and still returns its real
//     result.
// Files are checked with plain POSIX calls, never through weft.
#include "../support/peer.hpp"
#include "../support/pool_blocker.hpp"
#include "../support/run.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

using namespace weft;
using namespace std::chrono_literals;
using weft::test::run_in_fiber;
using weft::test::spawn_call;
using weft::test::wait_until;

std::error_code errc(std::errc e) { return std::make_error_code(e); }

// A fresh directory under TMPDIR, removed with its files at the end.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/weft-pool-XXXXXX";
    path = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
    EXPECT_FALSE(path.empty()) << std::strerror(errno);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

std::string posix_read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void posix_write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

bool posix_exists(const std::string& path) {
  struct stat sb {};
  return ::stat(path.c_str(), &sb) == 0;
}

// True once some thread of this process is blocked in system call `nr` on descriptor `fd`
// (from /proc/self/task/*/syscall: the number, then the arguments in hex).
bool thread_in_syscall(long nr, int fd) {
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/syscall");
    long n = -1;
    std::string arg0;
    if (!(in >> n >> arg0)) continue;
    if (n == nr && std::strtol(arg0.c_str(), nullptr, 16) == fd) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// An offloaded function that says when it started and runs until released.
struct Gate {
  std::atomic<bool> started{false};
  std::atomic<bool> released{false};
  void enter() {
    started = true;
    started.notify_all();
    released.wait(false);
  }
  void open() {
    released = true;
    released.notify_all();
  }
};

// --- offload ---------------------------------------------------------------------------

TEST(Offload, ReturnsWhatTheFunctionReturned) {
  run_in_fiber([] {
    auto r = offload([] { return std::string("from the pool"); });
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r, "from the pool");
    std::thread::id pool_thread;
    Status v = offload([&] { pool_thread = std::this_thread::get_id(); });
    EXPECT_TRUE(v.ok());
    EXPECT_NE(pool_thread, std::this_thread::get_id());  // it ran elsewhere
    // A move-only result.
    auto p = offload([] { return std::make_unique<int>(7); });
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(**p, 7);
  });
}

TEST(Offload, AnExceptionIsRethrownOnTheCallingFiber) {
  run_in_fiber([] {
    EXPECT_THROW((void)offload([]() -> int { throw std::runtime_error("boom"); }),
                 std::runtime_error);
  });
}

TEST(Offload, OffAFiberIsInvalidAndTheFunctionDoesNotRun) {
  bool ran = false;
  EXPECT_EQ(offload([&] { ran = true; }).error(), wsa::einval);
  EXPECT_FALSE(ran);
}

TEST(Offload, ACancelledTokenFailsBeforeAnythingIsQueued) {
  run_in_fiber([] {
    CancelSource src;
    src.cancel();
    bool ran = false;
    EXPECT_EQ(offload([&] { ran = true; }, src.token()).error(), wsa::eintr);
    EXPECT_FALSE(ran);
  });
}

TEST(Offload, CancelledBeforeItStartedItNeverRuns) {
  run_in_fiber([] {
    std::atomic<bool> ran{false};
    Result<int> result = wsa::einval;
    {
      test::PoolBlocker pool;  // every pool thread held: the call waits in the queue
      std::atomic<bool> blocked{false};
      auto caller = spawn_call(blocked, [&] {
        result = offload([&] {
          ran = true;
          return 1;
        });
      });
      ASSERT_TRUE(caller.ok());
      ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
      EXPECT_TRUE(cancel_blocking_call(*caller).ok());
      EXPECT_TRUE(join(*caller).ok());
      EXPECT_EQ(result.error(), wsa::eintr);
    }  // the pool is free again
    // A call queued after it runs; the cancelled one, ahead of it in the queue, never did.
    EXPECT_TRUE(offload([] {}).ok());
    EXPECT_FALSE(ran.load());
  });
}

TEST(Offload, ADeadlineBeforeTheStartTimesOutAndTheFunctionNeverRuns) {
  run_in_fiber([] {
    std::atomic<bool> ran{false};
    {
      test::PoolBlocker pool;
      CancelSource src(20ms);
      EXPECT_EQ(offload([&] { ran = true; }, src.token()).error(), wsa::etimedout);
    }
    EXPECT_TRUE(offload([] {}).ok());
    EXPECT_FALSE(ran.load());
  });
}

TEST(Offload, CancelledOnceStartedItReturnsTheRealResult) {
  run_in_fiber([] {
    Gate gate;
    Result<int> result = wsa::einval;
    auto caller = spawn([&] {
      result = offload([&] {
        gate.enter();
        return 42;
      });
    });
    ASSERT_TRUE(caller.ok());
    ASSERT_TRUE(wait_until([&] { return gate.started.load(); }));
    // The start fixed the outcome: the cancel finds the call completed and changes nothing.
    EXPECT_TRUE(cancel_blocking_call(*caller).ok());
    gate.open();
    EXPECT_TRUE(join(*caller).ok());
    ASSERT_TRUE(result.ok()) << result.error().message();
    EXPECT_EQ(*result, 42);
  });
}

TEST(Offload, AStartedFunctionMayWatchItsToken) {
  run_in_fiber([] {
    CancelSource src;
    std::atomic<bool> started{false};
    Result<int> result = wsa::einval;
    auto caller = spawn([&] {
      CancelToken t = src.token();
      result = offload(
          [&] {
            started = true;
            while (!t.cancel_requested()) std::this_thread::yield();
            return -1;  // it stopped early, and said so
          },
          t);
    });
    ASSERT_TRUE(caller.ok());
    ASSERT_TRUE(wait_until([&] { return started.load(); }));
    src.cancel();
    EXPECT_TRUE(join(*caller).ok());
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(*result, -1);
  });
}

TEST(Offload, StopFailsAQueuedCallAndWaitsForAStartedOne) {
  Runtime rt;
  Gate gate;
  std::atomic<bool> queued_ran{false};
  std::atomic<bool> b_returned{false};
  Result<int> started_result = wsa::einval;
  Result<int> queued_result = wsa::einval;
  std::unique_ptr<test::PoolBlocker> pool;
  ASSERT_TRUE(rt.spawn([&] {
                  auto a = spawn([&] {
                    started_result = offload([&] {
                      gate.enter();
                      return 5;
                    });
                  });
                  ASSERT_TRUE(wait_until([&] { return gate.started.load(); }));
                  // The other threads of the pool held: the next call stays queued.
                  pool = std::make_unique<test::PoolBlocker>(test::PoolBlocker::pool_threads() - 1);
                  std::atomic<bool> blocked{false};
                  auto b = spawn_call(blocked, [&] {
                    queued_result = offload([&] {
                      queued_ran = true;
                      return 6;
                    });
                    b_returned = true;
                  });
                  ASSERT_TRUE(b.ok());
                  ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
                  rt.stop();
                  // The stop is swept when this fiber next yields, and ends the queued call
                  // (which gives its job up); only then may the pool have a free thread. The
                  // started call holds run() until its function returns.
                  for (int i = 0; i < 1000000 && !b_returned.load(); ++i) this_fiber::yield();
                  EXPECT_TRUE(b_returned.load());
                  gate.open();
                  (void)a;
                }).ok());
  ASSERT_TRUE(rt.run().ok());
  pool.reset();
  EXPECT_EQ(queued_result.error(), wsa::enetdown);
  ASSERT_TRUE(started_result.ok()) << started_result.error().message();
  EXPECT_EQ(*started_result, 5);
  EXPECT_FALSE(queued_ran.load());
}

// --- files -----------------------------------------------------------------------------

TEST(Files, WriteReadAndThePositionalFormsAgreeWithPosix) {
  TempDir dir;
  run_in_fiber([&] {
    const std::string path = dir / "a.txt";
    auto f = fs::File::open(path, O_RDWR | O_CREAT | O_TRUNC, 0640);
    ASSERT_TRUE(f.ok()) << f.error().message();
    auto w = f->write("hello, world", 12);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(*w, 12u);
    EXPECT_EQ(posix_read_file(path), "hello, world");
    auto pw = f->pwrite("HELLO", 5, 0);
    ASSERT_TRUE(pw.ok());
    EXPECT_EQ(posix_read_file(path), "HELLO, world");
    char buf[32] = {};
    auto pr = f->pread(buf, 5, 7);
    ASSERT_TRUE(pr.ok());
    EXPECT_EQ(std::string(buf, *pr), "world");
    // read() starts at the position write() left: the end.
    auto r = f->read(buf, sizeof buf);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, 0u);
    EXPECT_TRUE(f->sync().ok());
    auto st = f->stat();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->size, 12u);
    EXPECT_TRUE(st->is_regular());
    EXPECT_EQ(st->mode & 0777, 0640u);
    EXPECT_TRUE(f->close().ok());
    EXPECT_FALSE(f->is_open());

    auto again = fs::File::open(path, O_RDONLY);
    ASSERT_TRUE(again.ok());
    std::string all(12, '\0');
    auto n = again->read(all.data(), all.size());
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(all, "HELLO, world");
  });
}

TEST(Files, PathCallsAgreeWithPosix) {
  TempDir dir;
  posix_write_file(dir / "x", "12345");
  run_in_fiber([&] {
    auto st = fs::stat(dir / "x");
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->size, 5u);
    EXPECT_TRUE(fs::rename(dir / "x", dir / "y").ok());
    EXPECT_FALSE(posix_exists(dir / "x"));
    EXPECT_TRUE(posix_exists(dir / "y"));
    EXPECT_TRUE(fs::mkdir(dir / "sub", 0750).ok());
    EXPECT_TRUE(fs::stat(dir / "sub")->is_directory());
    auto entries = fs::readdir(dir.path);
    ASSERT_TRUE(entries.ok());
    std::vector<std::string> names;
    for (auto& e : *entries) {
      names.push_back(e.name);
      if (e.name == "sub") {
        EXPECT_EQ(e.type, fs::EntryType::directory);
      }
      if (e.name == "y") {
        EXPECT_EQ(e.type, fs::EntryType::file);
      }
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"sub", "y"}));
    EXPECT_TRUE(fs::unlink(dir / "y").ok());
    EXPECT_FALSE(posix_exists(dir / "y"));
    EXPECT_TRUE(fs::rmdir(dir / "sub").ok());
    EXPECT_FALSE(posix_exists(dir / "sub"));
  });
}

TEST(Files, TheSystemsErrorsAreGenericErrcValues) {
  TempDir dir;
  run_in_fiber([&] {
    EXPECT_EQ(fs::File::open(dir / "missing", O_RDONLY).error(),
              errc(std::errc::no_such_file_or_directory));
    EXPECT_EQ(fs::stat(dir / "missing").error(), errc(std::errc::no_such_file_or_directory));
    EXPECT_EQ(fs::unlink(dir / "missing").error(), errc(std::errc::no_such_file_or_directory));
    EXPECT_EQ(fs::File::open(dir.path, O_WRONLY).error(), errc(std::errc::is_a_directory));
    EXPECT_EQ(fs::mkdir(dir.path).error(), errc(std::errc::file_exists));
    EXPECT_EQ(fs::readdir(dir / "missing").error(), errc(std::errc::no_such_file_or_directory));
    EXPECT_EQ(fs::rmdir(dir / "missing").error(), errc(std::errc::no_such_file_or_directory));
    auto ro = fs::File::open(dir / "ro", O_RDONLY | O_CREAT);
    ASSERT_TRUE(ro.ok());
    EXPECT_EQ(ro->write("x", 1).error(), errc(std::errc::bad_file_descriptor));  // EBADF: O_RDONLY
  });
}

TEST(Files, BadArgumentsAreRefusedBeforeThePool) {
  TempDir dir;
  run_in_fiber([&] {
    EXPECT_EQ(fs::File::open("", O_RDONLY).error(), wsa::einval);
    EXPECT_EQ(fs::File::open(std::string_view("a\0b", 3), O_RDONLY).error(), wsa::einval);
    EXPECT_EQ(fs::rename(dir / "a", "").error(), wsa::einval);
    auto f = fs::File::open(dir / "f", O_RDWR | O_CREAT);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->read(nullptr, 1).error(), wsa::efault);
    EXPECT_EQ(f->write(nullptr, 1).error(), wsa::efault);
    EXPECT_EQ(f->pread(nullptr, 0, ~std::uint64_t{0}).error(), wsa::einval);
    EXPECT_TRUE(f->close().ok());
    char b[4];
    EXPECT_EQ(f->read(b, 4).error(), errc(std::errc::bad_file_descriptor));
    EXPECT_EQ(f->close().error(), errc(std::errc::bad_file_descriptor));
    fs::File never;
    EXPECT_EQ(never.write("x", 1).error(), errc(std::errc::bad_file_descriptor));
  });
  // Off a fiber: WSAEINVAL, as every blocking call.
  EXPECT_EQ(fs::stat("/").error(), wsa::einval);
}

// A call held in the pool's queue, cancelled by another fiber: WSAEINTR.
template <class Call>
std::error_code cancelled_while_queued(Call&& call) {
  std::error_code out;
  test::PoolBlocker pool;
  std::atomic<bool> blocked{false};
  auto caller = spawn_call(blocked, [&] { out = call(); });
  EXPECT_TRUE(caller.ok());
  EXPECT_TRUE(wait_until([&] { return blocked.load(); }));
  EXPECT_TRUE(cancel_blocking_call(*caller).ok());
  EXPECT_TRUE(join(*caller).ok());
  return out;
}

TEST(Files, CancelledBeforeThePoolStartedItDidNothing) {
  TempDir dir;
  posix_write_file(dir / "data", "0123456789");
  run_in_fiber([&] {
    auto f = fs::File::open(dir / "data", O_RDWR);
    ASSERT_TRUE(f.ok());
    char buf[8];
    std::memset(buf, '#', sizeof buf);
    EXPECT_EQ(cancelled_while_queued([&] { return f->read(buf, 4).error(); }), wsa::eintr);
    EXPECT_EQ(std::string(buf, 8), "########");  // the buffer untouched
    // The position did not move: the next read starts at the beginning.
    auto r = f->read(buf, 4);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(std::string(buf, *r), "0123");
    EXPECT_EQ(cancelled_while_queued([&] { return f->write("XXXX", 4).error(); }), wsa::eintr);
    EXPECT_EQ(cancelled_while_queued([&] { return f->pwrite("YY", 2, 0).error(); }), wsa::eintr);
    EXPECT_EQ(posix_read_file(dir / "data"), "0123456789");
    EXPECT_EQ(cancelled_while_queued(
                  [&] { return fs::File::open(dir / "new", O_WRONLY | O_CREAT).error(); }),
              wsa::eintr);
    EXPECT_FALSE(posix_exists(dir / "new"));
    EXPECT_EQ(
        cancelled_while_queued([&] { return fs::rename(dir / "data", dir / "moved").error(); }),
        wsa::eintr);
    EXPECT_EQ(cancelled_while_queued([&] { return fs::unlink(dir / "data").error(); }), wsa::eintr);
    EXPECT_EQ(cancelled_while_queued([&] { return fs::mkdir(dir / "d").error(); }), wsa::eintr);
    EXPECT_TRUE(posix_exists(dir / "data"));
    EXPECT_FALSE(posix_exists(dir / "moved"));
    EXPECT_FALSE(posix_exists(dir / "d"));
    // A cancelled close leaves the file open and usable.
    EXPECT_EQ(cancelled_while_queued([&] { return f->close().error(); }), wsa::eintr);
    ASSERT_TRUE(f->is_open());
    EXPECT_EQ(::fcntl(f->native_handle(), F_GETFD), FD_CLOEXEC);  // still a descriptor
    auto p = f->pread(buf, 2, 8);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(std::string(buf, *p), "89");
    EXPECT_TRUE(f->close().ok());
  });
}

// A FIFO opened read-write through weft: its reads block in the kernel on a pool thread
// until the test writes, so "running" can be seen in /proc.
struct Fifo {
  std::string path;
  explicit Fifo(const TempDir& dir) : path(dir / "fifo") {
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  }
};

TEST(Files, AReadCancelledWhileRunningReturnsWhatItRead) {
  TempDir dir;
  Fifo fifo(dir);
  run_in_fiber([&] {
    auto f = fs::File::open(fifo.path, O_RDWR);
    ASSERT_TRUE(f.ok()) << f.error().message();
    char buf[16] = {};
    Result<std::size_t> result = wsa::einval;
    auto reader = spawn([&] { result = f->read(buf, sizeof buf); });
    ASSERT_TRUE(reader.ok());
    ASSERT_TRUE(wait_until([&] { return thread_in_syscall(SYS_read, f->native_handle()); }));
    EXPECT_TRUE(cancel_blocking_call(*reader).ok());
    test::Fd writer(::open(fifo.path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    ASSERT_EQ(::write(writer.get(), "hello", 5), 5);
    EXPECT_TRUE(join(*reader).ok());
    ASSERT_TRUE(result.ok()) << result.error().message();
    EXPECT_EQ(std::string(buf, *result), "hello");
  });
}

TEST(Files, AWriteCancelledWhileRunningReturnsWhatItWrote) {
  TempDir dir;
  Fifo fifo(dir);
  run_in_fiber([&] {
    auto f = fs::File::open(fifo.path, O_RDWR);
    ASSERT_TRUE(f.ok());
    const int capacity = ::fcntl(f->native_handle(), F_GETPIPE_SZ);
    ASSERT_GT(capacity, 0);
    const std::string big(static_cast<std::size_t>(capacity) + 4096, 'w');
    Result<std::size_t> result = wsa::einval;
    auto writer = spawn([&] { result = f->write(big.data(), big.size()); });
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(wait_until([&] { return thread_in_syscall(SYS_write, f->native_handle()); }));
    EXPECT_TRUE(cancel_blocking_call(*writer).ok());
    // Drain the FIFO through a descriptor of the test's own until the write has ended.
    test::Fd reader(::open(fifo.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    std::size_t drained = 0;
    std::string sink(65536, '\0');  // on the heap: fiber stacks are small
    while (!result.ok() || drained < *result) {
      ssize_t n = ::read(reader.get(), sink.data(), sink.size());
      if (n > 0) {
        drained += static_cast<std::size_t>(n);
      } else {
        (void)this_fiber::sleep_for(1ms);
      }
      if (result.ok() && drained >= *result) break;
    }
    EXPECT_TRUE(join(*writer).ok());
    ASSERT_TRUE(result.ok()) << result.error().message();
    EXPECT_EQ(*result, big.size());  // the whole write, not WSAEINTR
    EXPECT_EQ(drained, big.size());
  });
}

TEST(Files, CloseWhileAnotherFibersReadIsRunningWaitsForItsEnd) {
  TempDir dir;
  Fifo fifo(dir);
  run_in_fiber([&] {
    auto f = fs::File::open(fifo.path, O_RDWR);
    ASSERT_TRUE(f.ok());
    const int fd = f->native_handle();
    char buf[8] = {};
    Result<std::size_t> result = wsa::einval;
    auto reader = spawn([&] { result = f->read(buf, sizeof buf); });
    ASSERT_TRUE(wait_until([&] { return thread_in_syscall(SYS_read, fd); }));
    EXPECT_TRUE(f->close().ok());
    EXPECT_FALSE(f->is_open());
    EXPECT_NE(::fcntl(fd, F_GETFD), -1);  // the read still holds the descriptor
    test::Fd writer(::open(fifo.path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    ASSERT_EQ(::write(writer.get(), "abc", 3), 3);
    EXPECT_TRUE(join(*reader).ok());
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(std::string(buf, *result), "abc");
  });
}

TEST(Files, SendfileSendsTheFileAndARangeOfIt) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 300000; ++i) content.push_back(static_cast<char>('a' + i % 26));
  posix_write_file(dir / "big", content);
  run_in_fiber([&] {
    test::PeerConnection c = test::connect_to_posix_peer();
    auto f = fs::File::open(dir / "big", O_RDONLY);
    ASSERT_TRUE(f.ok());
    std::string got;
    std::thread peer([&] { got = test::posix_read_n(c.peer.get(), content.size() + 10, 20000); });
    auto n = fs::sendfile(c.s, *f, 0, content.size());
    ASSERT_TRUE(n.ok()) << n.error().message();
    EXPECT_EQ(*n, content.size());
    auto m = fs::sendfile(c.s, *f, 5, 10);  // a range; the file's position untouched
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(*m, 10u);
    peer.join();
    EXPECT_EQ(got, content + content.substr(5, 10));
    // Past the end: what there is.
    std::thread peer2([&] { got = test::posix_read_n(c.peer.get(), 3, 20000); });
    auto tail = fs::sendfile(c.s, *f, content.size() - 3, 100);
    ASSERT_TRUE(tail.ok());
    EXPECT_EQ(*tail, 3u);
    peer2.join();
    EXPECT_EQ(got, content.substr(content.size() - 3));
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(Files, SendfileCancelledAfterBytesLeftResetsTheConnection) {
  TempDir dir;
  posix_write_file(dir / "big", std::string(8 << 20, 'z'));
  run_in_fiber([&] {
    test::PeerConnection c = test::connect_to_posix_peer();
    test::set_small_buffers(c.peer.get());
    auto f = fs::File::open(dir / "big", O_RDONLY);
    ASSERT_TRUE(f.ok());
    Result<std::size_t> result = wsa::einval;
    std::atomic<bool> blocked{false};
    auto sender = spawn_call(blocked, [&] { result = fs::sendfile(c.s, *f, 0, 8 << 20); });
    // The peer reads nothing: the socket fills and the call waits for room.
    ASSERT_TRUE(sender.ok());
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
    ASSERT_TRUE(test::posix_readable(c.peer.get()));
    EXPECT_TRUE(cancel_blocking_call(*sender).ok());
    EXPECT_TRUE(join(*sender).ok());
    EXPECT_EQ(result.error(), wsa::eintr);
    char b[1];
    EXPECT_EQ(send(c.s, b, 1).error(), wsa::econnaborted);  // reset, as the table says
    test::PeerView v = test::posix_read_to_end(c.peer.get());
    EXPECT_GT(v.data.size(), 0u);
    EXPECT_EQ(v.error, ECONNRESET);
    EXPECT_TRUE(close(c.s).ok());
  });
}

TEST(Files, SendfileCancelledBeforeAnyByteLeftLeavesTheSocketUsable) {
  TempDir dir;
  posix_write_file(dir / "f", "payload");
  run_in_fiber([&] {
    test::PeerConnection c = test::connect_to_posix_peer();
    auto f = fs::File::open(dir / "f", O_RDONLY);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(cancelled_while_queued([&] { return fs::sendfile(c.s, *f, 0, 7).error(); }),
              wsa::eintr);
    EXPECT_TRUE(send(c.s, "next", 4).ok());
    EXPECT_EQ(test::posix_read_n(c.peer.get(), 4), "next");  // nothing of the file came first
    EXPECT_TRUE(close(c.s).ok());
  });
}

}  // namespace
