// The conformance matrix of the calls of semantics.md §10 that are not sockets (machinery and
// sources: matrix.hpp): offload and the file calls held in the pool's queue (every pool
// thread occupied: the cancel comes before the start, so the call did nothing), sendfile on a
// full socket, pipe reads and writes, a child's wait and the staged end of Process::run —
// each against every source of cancellation, in precise and portable mode (a pipe's rows
// are the same in both).
#include "../support/process.hpp"
#include "matrix.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace weft::matrix {
namespace {

using test::zombie_children;

struct PoolCell {
  std::string dir;
  fs::File file;
  std::atomic<bool> ran{false};
  Socket read_end = Socket::invalid;
  Socket write_end = Socket::invalid;
  Process child;
  ~PoolCell() {
    if (!dir.empty()) std::system(("rm -rf '" + dir + "'").c_str());
  }
};

PoolCell& pc(Cell& c) { return *static_cast<PoolCell*>(c.extra.get()); }

// A fresh directory holding "data" (ten digits).
void with_dir(Cell& c) {
  auto p = std::make_shared<PoolCell>();
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/weft-matrix-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  p->dir = tmpl;
  std::ofstream(p->dir + "/data") << "0123456789";
  c.extra = p;
}

std::string posix_read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool posix_exists(const std::string& path) {
  struct stat sb {};
  return ::stat(path.c_str(), &sb) == 0;
}

// The pool is free again, and a call queued now runs: the cancelled one ahead of it did not.
void free_pool(Cell& c) {
  c.pool.reset();
  EXPECT_TRUE(offload([] {}).ok());
}

void with_pipe(Cell& c) {
  auto p = std::make_shared<PoolCell>();
  auto ends = weft::pipe();
  ASSERT_TRUE(ends.ok()) << ends.error().message();
  p->read_end = ends->first;
  p->write_end = ends->second;
  c.extra = p;
}

// Fills the pipe without waiting; returns what it queued.
std::size_t fill_pipe(Socket w) {
  std::size_t queued = 0;
  const std::string chunk(4096, 'q');
  for (;;) {
    auto n = send_some(w, chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (!n.ok()) break;
    queued += *n;
  }
  return queued;
}

// Reads `n` bytes from a pipe end (fewer at end of file).
std::size_t drain(Socket r, std::size_t n) {
  std::string buf(65536, '\0');
  std::size_t got = 0;
  while (got < n) {
    auto m = recv(r, buf.data(), std::min(buf.size(), n - got));
    if (!m.ok() || *m == 0) break;
    got += *m;
  }
  return got;
}

const std::vector<Kind> kinds() {
  std::vector<Kind> k;
  k.push_back({"OffloadQueued", false,
               [](Cell& c) {
                 c.extra = std::make_shared<PoolCell>();
                 c.pool = std::make_unique<test::PoolBlocker>();
               },
               [](Cell& c, const CancelToken& t) {
                 PoolCell* p = &pc(c);
                 return offload([p] { p->ran = true; }, t).error();
               },
               [](Cell& c) {
                 free_pool(c);
                 EXPECT_FALSE(pc(c).ran.load());  // it never ran
               },
               [](Cell& c) { c.pool.reset(); }});
  k.push_back({"FileReadQueued", false,
               [](Cell& c) {
                 with_dir(c);
                 auto f = fs::File::open(pc(c).dir + "/data", O_RDONLY);
                 ASSERT_TRUE(f.ok());
                 pc(c).file = std::move(*f);
                 std::memset(c.buf, '#', sizeof c.buf);
                 c.pool = std::make_unique<test::PoolBlocker>();
               },
               [](Cell& c, const CancelToken& t) { return pc(c).file.read(c.buf, 4, t).error(); },
               [](Cell& c) {
                 free_pool(c);
                 EXPECT_EQ(c.buf[0], '#');            // the buffer untouched
                 auto n = pc(c).file.read(c.buf, 4);  // from the start: the position unmoved
                 ASSERT_TRUE(n.ok());
                 EXPECT_EQ(std::string(c.buf, *n), "0123");
               },
               [](Cell& c) { c.pool.reset(); }});
  k.push_back({"FileWriteQueued", false,
               [](Cell& c) {
                 with_dir(c);
                 auto f = fs::File::open(pc(c).dir + "/data", O_WRONLY);
                 ASSERT_TRUE(f.ok());
                 pc(c).file = std::move(*f);
                 c.pool = std::make_unique<test::PoolBlocker>();
               },
               [](Cell& c, const CancelToken& t) { return pc(c).file.write("XXXX", 4, t).error(); },
               [](Cell& c) {
                 free_pool(c);
                 EXPECT_EQ(posix_read_file(pc(c).dir + "/data"), "0123456789");
               },
               [](Cell& c) { c.pool.reset(); }});
  k.push_back({"FileOpenQueued", false,
               [](Cell& c) {
                 with_dir(c);
                 c.pool = std::make_unique<test::PoolBlocker>();
               },
               [](Cell& c, const CancelToken& t) {
                 return fs::File::open(pc(c).dir + "/new", O_WRONLY | O_CREAT, 0644, t).error();
               },
               [](Cell& c) {
                 free_pool(c);
                 EXPECT_FALSE(posix_exists(pc(c).dir + "/new"));  // nothing created
               },
               [](Cell& c) { c.pool.reset(); }});
  k.push_back({"RenameQueued", false,
               [](Cell& c) {
                 with_dir(c);
                 c.pool = std::make_unique<test::PoolBlocker>();
               },
               [](Cell& c, const CancelToken& t) {
                 return fs::rename(pc(c).dir + "/data", pc(c).dir + "/moved", t).error();
               },
               [](Cell& c) {
                 free_pool(c);
                 EXPECT_TRUE(posix_exists(pc(c).dir + "/data"));
                 EXPECT_FALSE(posix_exists(pc(c).dir + "/moved"));
               },
               [](Cell& c) { c.pool.reset(); }});
  // sendfile on a socket the peer does not read: it waits for room having moved nothing, so
  // it leaves the socket as a send that moved nothing does (portable mode: reset).
  k.push_back({"SendfileNothingMoved", true,
               [](Cell& c) {
                 with_dir(c);
                 connect_small_pair(c);
                 c.queued = test::fill_send_buffer(c.s);
                 auto f = fs::File::open(pc(c).dir + "/data", O_RDONLY);
                 ASSERT_TRUE(f.ok());
                 pc(c).file = std::move(*f);
               },
               [](Cell& c, const CancelToken& t) {
                 return fs::sendfile(c.s, pc(c).file, 0, 10, t).error();
               },
               [](Cell& c) {
                 if (c.source == Source::close) return;
                 if (c.portable) {
                   EXPECT_EQ(send(c.s, "y", 1).error(), wsa::econnaborted);
                   EXPECT_TRUE(close(c.s).ok());
                   return;
                 }
                 // Unchanged: the peer reads what was queued, then what is sent after.
                 EXPECT_EQ(test::posix_read_n(c.conn.peer.get(), c.queued).size(), c.queued);
                 ASSERT_TRUE(fs::sendfile(c.s, pc(c).file, 0, 10).ok());
                 EXPECT_EQ(test::posix_read_n(c.conn.peer.get(), 10), "0123456789");
                 EXPECT_TRUE(close(c.s).ok());
               }});
  k.push_back({"PipeRecv", true, with_pipe,
               [](Cell& c, const CancelToken& t) {
                 return recv(pc(c).read_end, c.buf, sizeof c.buf, 0, t).error();
               },
               [](Cell& c) {
                 if (c.source == Source::close) return;
                 // Nothing consumed, in both modes.
                 ASSERT_TRUE(send(pc(c).write_end, "p", 1).ok());
                 auto n = recv(pc(c).read_end, c.buf, sizeof c.buf);
                 ASSERT_TRUE(n.ok());
                 EXPECT_EQ(std::string(c.buf, *n), "p");
               },
               [](Cell& c) {
                 (void)close(pc(c).read_end);
                 (void)close(pc(c).write_end);
               },
               [](Cell& c) { return close(pc(c).read_end); }});
  k.push_back(
      {"PipeSendNothingMoved", true,
       [](Cell& c) {
         with_pipe(c);
         c.queued = fill_pipe(pc(c).write_end);
       },
       [](Cell& c, const CancelToken& t) { return send(pc(c).write_end, "y", 1, 0, t).error(); },
       [](Cell& c) {
         if (c.source == Source::close) {
           EXPECT_EQ(drain(pc(c).read_end, c.queued + 1), c.queued);  // then EOF
           return;
         }
         // Unchanged, in both modes: what was queued, then what is sent after.
         EXPECT_EQ(drain(pc(c).read_end, c.queued), c.queued);
         ASSERT_TRUE(send(pc(c).write_end, "y", 1).ok());
         auto n = recv(pc(c).read_end, c.buf, sizeof c.buf);
         ASSERT_TRUE(n.ok());
         EXPECT_EQ(std::string(c.buf, *n), "y");
       },
       [](Cell& c) {
         (void)close(pc(c).read_end);
         (void)close(pc(c).write_end);
       },
       [](Cell& c) { return close(pc(c).write_end); }});
  k.push_back({"PipeSendSomeMoved", true,
               [](Cell& c) {
                 with_pipe(c);
                 c.big.assign(1 << 20, 'b');  // more than a pipe holds
               },
               [](Cell& c, const CancelToken& t) {
                 return send(pc(c).write_end, c.big.data(), c.big.size(), 0, t).error();
               },
               [](Cell& c) {
                 // The write end is closed, whoever ended the send: the reader sees the
                 // bytes that arrived, then end of file.
                 if (c.source != Source::close) {
                   EXPECT_EQ(send(pc(c).write_end, "x", 1).error(), wsa::econnaborted);
                 }
                 const std::size_t got = drain(pc(c).read_end, c.big.size());
                 EXPECT_GT(got, 0u);
                 EXPECT_LT(got, c.big.size());
                 auto eof = recv(pc(c).read_end, c.buf, sizeof c.buf);
                 ASSERT_TRUE(eof.ok());
                 EXPECT_EQ(*eof, 0u);
               },
               [](Cell& c) {
                 (void)close(pc(c).read_end);
                 (void)close(pc(c).write_end);
               },
               [](Cell& c) { return close(pc(c).write_end); }});
  k.push_back({"ProcessWait", false,
               [](Cell& c) {
                 c.extra = std::make_shared<PoolCell>();
                 ProcessOptions o;
                 o.argv = {"sleep", "60"};
                 o.in = o.out = Stdio::null;
                 auto p = Process::spawn(o);
                 ASSERT_TRUE(p.ok()) << p.error().message();
                 pc(c).child = std::move(*p);
               },
               [](Cell& c, const CancelToken& t) { return pc(c).child.wait(t).error(); },
               [](Cell& c) {
                 // The child runs on; a wait then sees its end.
                 EXPECT_TRUE(pc(c).child.kill(0).ok());
                 EXPECT_TRUE(pc(c).child.kill(SIGKILL).ok());
                 EXPECT_EQ(*pc(c).child.wait(), 128 + SIGKILL);
               },
               [](Cell& c) {
                 if (pc(c).child.exited()) return;
                 // After a stop no wait may run: the child is ended and reaped here.
                 const pid_t pid = pc(c).child.pid();
                 (void)pc(c).child.kill(SIGKILL);
                 EXPECT_EQ(::waitpid(pid, nullptr, 0), pid);
               }});
  k.push_back({"ProcessRun", false, [](Cell&) {},
               [](Cell& c, const CancelToken& t) {
                 ProcessOptions o;
                 o.argv = {"sleep", "60"};
                 o.in = o.out = Stdio::null;
                 o.err = Stdio::pipe;  // closed by run
                 c.queued = 0;
                 return Process::run(o, std::chrono::seconds(10), t).error();
               },
               [](Cell&) {
                 // The staged end ran: SIGTERM ended the child, and it was reaped before
                 // run returned.
                 EXPECT_EQ(zombie_children(), 0);
               },
               [](Cell& c) {
                 // A stop, too, runs the staged end before run() returns.
                 if (c.source == Source::stop) {
                   EXPECT_EQ(zombie_children(), 0);
                 }
               }});
  return k;
}

}  // namespace

const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> k = kinds();
  return k;
}

INSTANTIATE_TEST_SUITE_P(EveryPoolPipeAndProcessCallEverySource, Matrix,
                         testing::ValuesIn(all_params()), param_name);

}  // namespace weft::matrix
