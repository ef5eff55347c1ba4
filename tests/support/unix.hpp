// Test helpers for Unix-domain sockets: names in both namespaces, peers that are not weft
// (socat; Python's socket module, tests/support/unix_peer.py, driven line by line; plain POSIX
// AF_UNIX sockets), and descriptors passed by hand. Every wait is bounded, so a broken runtime
// fails a test instead of hanging it.
#pragma once

#include "peer.hpp"
#include "tls.hpp"  // Child: a process whose stdin and stdout are pipes

#include <weft/net.hpp>
#include <weft/unix.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace weft::test {

// --- names ---------------------------------------------------------------------------------

// A directory for this program's filesystem names, removed with what is in it at exit.
inline const std::string& temp_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/weft-unix-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    std::string path = d ? d : "/tmp";
    static std::string* removed_at_exit = new std::string("'" + path + "'");
    std::atexit([] { (void)std::system(("rm -rf " + *removed_at_exit).c_str()); });
    return path;
  }();
  return dir;
}

enum class Space { filesystem, abstract };

// A socket name in one of the two namespaces, in each form its users take it.
struct Name {
  Space space;
  std::string path;   // as Address::unix_path takes it (an abstract name with its '\0')
  std::string py;     // as unix_peer.py takes it: the path, or "@name"
  std::string plain;  // as socat takes it: the path, or the name without its '\0'
  Address address() const { return *Address::unix_path(path); }
  std::string socat(const char* stream_or_sendto) const {
    return std::string(space == Space::abstract ? "ABSTRACT-" : "UNIX-") + stream_or_sendto + ":" +
           plain;
  }
};

// A fresh name: no other test, nor another test program running at the same time, uses it.
inline Name fresh_name(Space space, const std::string& what) {
  static int n = 0;
  std::string base = what + std::to_string(++n);
  if (space == Space::filesystem) {
    std::string p = temp_dir() + "/" + base;
    return {space, p, p, p};
  }
  base = "weft-test-" + std::to_string(::getpid()) + "-" + base;
  return {space, std::string(1, '\0') + base, "@" + base, base};
}

// --- peers -----------------------------------------------------------------------------------

inline bool installed(const std::string& check) {
  return std::system((check + " >/dev/null 2>&1").c_str()) == 0;
}
inline bool have_socat() {
  static const bool yes = installed("command -v socat");
  return yes;
}
// Python 3.9 or later: socket.send_fds and recv_fds.
inline bool have_python() {
  static const bool yes =
      installed("python3 -c 'import socket, sys; sys.exit(not hasattr(socket, \"send_fds\"))'");
  return yes;
}

#define SKIP_WITHOUT_SOCAT() \
  if (!have_socat()) GTEST_SKIP() << "socat is not installed"
#define SKIP_WITHOUT_PYTHON() \
  if (!have_python()) GTEST_SKIP() << "python3 (3.9 or later) is not installed"

#ifdef WEFT_UNIX_PEER
// unix_peer.py (WEFT_UNIX_PEER: its path, given by the build to the programs that use it).
inline std::unique_ptr<Child> python_peer(std::vector<std::string> args) {
  std::vector<std::string> argv = {"python3", WEFT_UNIX_PEER};
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<Child>(std::move(argv));
}
#endif

inline std::string cmd(Child& c, const std::string& line) {
  c.write(line + "\n");
  return c.line();
}

// "connected PID UID GID" (or "ok PID UID GID"): the three numbers.
inline PeerCredentials credentials_in(const std::string& line) {
  std::istringstream in(line);
  std::string word;
  long pid = 0, uid = 0, gid = 0;
  in >> word >> pid >> uid >> gid;
  return {static_cast<pid_t>(pid), static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
}

inline void expect_this_process(const PeerCredentials& c) {
  EXPECT_EQ(c.pid, ::getpid());
  EXPECT_EQ(c.uid, ::getuid());
  EXPECT_EQ(c.gid, ::getgid());
}

// A POSIX AF_UNIX listener on a fresh abstract name.
inline Fd posix_unix_listener(Address& bound, int backlog = 16) {
  bound = fresh_name(Space::abstract, "posix").address();
  Fd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::bind(l.get(), bound.data(), bound.size()), 0) << std::strerror(errno);
  EXPECT_EQ(::listen(l.get(), backlog), 0);
  return l;
}

// A weft AF_UNIX stream socket connected to a plain POSIX peer (from a fiber).
inline PeerConnection connect_to_posix_unix_peer() {
  PeerConnection c;
  Address addr;
  c.listener = posix_unix_listener(addr);
  c.s = socket(AF_UNIX, SOCK_STREAM).value_or(Socket::invalid);
  Status connected = connect(c.s, addr);
  EXPECT_TRUE(connected.ok()) << connected.error().message();
  c.peer = posix_accept(c.listener.get());
  EXPECT_GE(c.peer.get(), 0);
  return c;
}

struct Pipe {
  Fd r, w;
  Pipe() {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    r = Fd(p[0]);
    w = Fd(p[1]);
  }
};

// What a POSIX end received with one recvmsg: bytes and descriptors (owned).
struct Received {
  std::string data;
  std::vector<Fd> fds;
  bool would_block = false;
};

inline Received posix_recv_with_fds(int sock, std::size_t n, int flags = 0) {
  Received out;
  std::string buf(n, '\0');
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int) * 8)];
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (!(flags & MSG_DONTWAIT) && !posix_readable(sock)) return out;
  ssize_t got = ::recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
  if (got < 0) {
    out.would_block = errno == EAGAIN;
    return out;
  }
  out.data.assign(buf.data(), static_cast<std::size_t>(got));
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    for (std::size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.fds.emplace_back(fd);
    }
  }
  return out;
}

inline void posix_send_with_fd(int sock, const std::string& data, int fd) {
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))];
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ASSERT_EQ(::sendmsg(sock, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(data.size()))
      << std::strerror(errno);
}

// Everything a descriptor gives until its end (a pipe whose write ends are all closed).
inline std::string read_to_end(int fd) {
  std::string out;
  char b[4096];
  for (;;) {
    ssize_t n = ::read(fd, b, sizeof b);
    if (n <= 0) return out;
    out.append(b, static_cast<std::size_t>(n));
  }
}

inline bool close_on_exec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }
inline bool non_blocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }
inline bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

inline std::string recv_string(Socket s, std::size_t n = 64) {
  std::string b(n, '\0');
  auto got = recv(s, b.data(), b.size());
  if (!got.ok()) return "error: " + got.error().message();
  b.resize(*got);
  return b;
}

// Receives on s until a newline (socat sends lines).
inline std::string recv_line(Socket s) {
  std::string line;
  while (line.empty() || line.back() != '\n') {
    std::string part = recv_string(s);
    if (part.empty() || part.rfind("error:", 0) == 0) return line + part;
    line += part;
  }
  return line;
}

}  // namespace weft::test
