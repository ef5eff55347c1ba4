// Test helpers for TLS: certificates made at run time with `openssl`, and peers that are not
// weft — Python's ssl module (tls_peer.py, driven line by line) and `openssl s_client`.
// Every wait is bounded, so a broken runtime fails a test instead of hanging it.
#pragma once

#include <weft/fiber.hpp>
#include <weft/net.hpp>
#include <weft/tls.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace weft::test {

// Byte i of a direction's stream in the TLS tests (tls_peer.py uses the same).
inline std::string tls_pattern(std::size_t start, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((start + i) % 251);
  return s;
}

// Fills a TLS connection whose peer does not read, until its socket has no room: sends 1 KiB
// records of the pattern from `start` on while poll says the socket is writable, and again
// whenever room comes back within 250 ms — the peer's acknowledgements (which it may delay up
// to 200 ms) free room after the buffers first look full. The send buffer is made small and
// fixed (the kernel would otherwise grow it as the connection runs). Returns the plaintext
// sent.
inline std::size_t fill_tls(tls::Stream& st, std::size_t start = 0) {
  int bytes = 4096;
  EXPECT_TRUE(set_option(st.socket(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes).ok());
  std::size_t sent = 0;
  for (;;) {
    PollEntry e{st.socket(), kPollOut, 0};
    auto n = poll({&e, 1}, std::chrono::milliseconds(250));
    if (!n.ok() || *n == 0) return sent;
    while (poll({&e, 1}, std::chrono::milliseconds(0)).value_or(0) > 0) {
      std::string chunk = tls_pattern(start + sent, 1024);
      if (!st.send(chunk.data(), chunk.size()).ok()) return sent;
      sent += chunk.size();
    }
  }
}

// A certificate authority and a server certificate it signed (for "localhost" and
// 127.0.0.1), plus a second, unrelated authority; made once per test program, in a
// temporary directory, by the `openssl` command. No private key is kept anywhere else.
struct TestCerts {
  std::string dir, ca, cert, key, other_ca;

  static const TestCerts& get() {
    static TestCerts certs = make();
    return certs;
  }

 private:
  static TestCerts make() {
    TestCerts c;
    char tmpl[] = "/tmp/weft-tls-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    if (!d) return c;
    c.dir = d;
    c.ca = c.dir + "/ca.pem";
    c.cert = c.dir + "/server.pem";
    c.key = c.dir + "/server.key";
    c.other_ca = c.dir + "/other-ca.pem";
    const std::string q = "cd " + c.dir + " && ";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        q + "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && " +
        "openssl req -x509" + ec + " -keyout ca.key -out ca.pem -days 2 -subj /CN=weft-test-ca" +
        " && openssl req" + ec + " -keyout server.key -out server.csr -subj /CN=localhost" +
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial" +
        " -out server.pem -days 2 -extfile san.ext" + " && openssl req -x509" + ec +
        " -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=weft-other-ca" +
        " > openssl.log 2>&1";
    // Removed at exit, by a path kept where no destructor reaches it: atexit handlers run
    // after the destructors of statics constructed before them, this one's included.
    static std::string* removed_at_exit = new std::string("'" + c.dir + "'");
    std::atexit([] { (void)std::system(("rm -rf " + *removed_at_exit).c_str()); });
    if (std::system(script.c_str()) != 0) c.dir.clear();
    return c;
  }
};

// Waits up to timeout_ms for fd to become readable: from a fiber, in short sleeps that keep
// the runtime's loop running; elsewhere, in poll(2).
inline bool readable_soon(int fd, int timeout_ms) {
  if (this_fiber::id() == FiberId::none) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
  }
  for (int waited = 0; waited <= timeout_ms; ++waited) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) return true;
    (void)this_fiber::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// A child process whose stdin and stdout are pipes, read a line at a time.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~Child() {
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  void write(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::write(to_, s.data() + off, s.size() - off);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  void close_input() {
    if (to_ >= 0) ::close(to_);
    to_ = -1;
  }
  // The next line (without its newline); "timeout" or "eof" if none comes.
  std::string line(int timeout_ms = 30000) {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      if (!readable_soon(from_, timeout_ms)) return "timeout";
      char b[4096];
      ssize_t n = ::read(from_, b, sizeof b);
      if (n <= 0) return "eof";
      buf_.append(b, static_cast<std::size_t>(n));
    }
  }
  // Everything until the end of its output.
  std::string rest(int timeout_ms = 30000) {
    std::string all;
    for (;;) {
      std::string l = line(timeout_ms);
      if (l == "eof" || l == "timeout") return all + buf_;
      all += l + "\n";
    }
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::string buf_;
};

#ifdef WEFT_TLS_PEER
// tls_peer.py (WEFT_TLS_PEER: its path, given by the build to the programs that use it).
class PyTlsPeer {
 public:
  // A server on 127.0.0.1 (its port in port()), accepting one connection.
  static PyTlsPeer server(std::vector<std::string> extra = {}) {
    const TestCerts& c = TestCerts::get();
    std::vector<std::string> argv = {"python3", WEFT_TLS_PEER, "server", c.cert, c.key};
    argv.insert(argv.end(), extra.begin(), extra.end());
    PyTlsPeer p(std::move(argv));
    std::string l = p.child_->line();
    EXPECT_EQ(l.rfind("port ", 0), 0u) << l;
    if (l.rfind("port ", 0) == 0) p.port_ = static_cast<std::uint16_t>(std::stoi(l.substr(5)));
    return p;
  }
  // A client of 127.0.0.1:port that verifies "localhost" against the test authority. It
  // connects before this returns (the listener's backlog takes the connection).
  static PyTlsPeer client(std::uint16_t port, std::vector<std::string> extra = {}) {
    const TestCerts& c = TestCerts::get();
    std::vector<std::string> argv = {"python3", WEFT_TLS_PEER, "client", std::to_string(port),
                                     c.ca,      "localhost"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    PyTlsPeer p(std::move(argv));
    std::string l = p.child_->line();
    EXPECT_EQ(l, "connected");
    return p;
  }

  std::uint16_t port() const { return port_; }
  // Sends a command and waits for its answer.
  std::string cmd(const std::string& c) {
    post(c);
    return reply();
  }
  // Sends a command; its answer is read later, with reply().
  void post(const std::string& c) { child_->write(c + "\n"); }
  std::string reply(int timeout_ms = 30000) { return child_->line(timeout_ms); }

 private:
  explicit PyTlsPeer(std::vector<std::string> argv)
      : child_(std::make_unique<Child>(std::move(argv))) {}
  std::unique_ptr<Child> child_;
  std::uint16_t port_ = 0;
};
#endif

}  // namespace weft::test
