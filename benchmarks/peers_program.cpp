// A peer that is a program of its own (weft-bench-go, weft-bench-tokio), built beside
// weft-bench: where it is, its version, a round's samples, and an echo server run as a child.
#include "peers.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace weft::bench {
namespace {

// NAME serve-echo THREADS, alive while this object is: it prints its port, then serves until
// its standard input closes.
class ChildEchoServer final : public EchoServer {
 public:
  ChildEchoServer(const std::string& path, const char* name, int threads) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) std::abort();
    std::string n = std::to_string(threads);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
      ::execl(path.c_str(), name, "serve-echo", n.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    port_ = static_cast<std::uint16_t>(std::atoi(line.c_str()));
    if (port_ == 0) {
      std::fprintf(stderr, "weft-bench: %s serve-echo did not start\n", name);
      std::abort();
    }
  }
  ~ChildEchoServer() override {
    ::close(stdin_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  std::uint16_t port() const override { return port_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace

std::string peer_program_path(const char* name) {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return std::string();
  std::string dir(self, static_cast<std::size_t>(n));
  dir.resize(dir.rfind('/') + 1);
  std::string p = dir + name;
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXUSR) ? p : std::string();
}

std::string peer_program_version(const std::string& path) {
  std::string v;
  if (FILE* p = ::popen(("'" + path + "' version").c_str(), "r")) {
    char buf[128];
    if (std::fgets(buf, sizeof buf, p)) v = buf;
    ::pclose(p);
  }
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

std::vector<double> peer_program_samples(const std::string& path, const char* name,
                                         const std::vector<std::string>& args) {
  std::vector<std::string> argv{path};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = run_for_numbers(argv);
  if (out.empty()) {
    std::fprintf(stderr, "weft-bench: %s %s printed nothing\n", name, args.front().c_str());
    std::abort();
  }
  return out;
}

std::unique_ptr<EchoServer> peer_program_echo_server(const std::string& path, const char* name,
                                                     int threads) {
  return std::make_unique<ChildEchoServer>(path, name, threads);
}

}  // namespace weft::bench
