// The Go peers: weft-bench-go (benchmarks/go/peer.go), built beside this program when
// Debian's golang-go is installed. Each round runs it once, as a child process, for that
// round's samples.
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

std::string go_peer_path() {
  static const std::string path = [] {
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return std::string();
    std::string dir(self, static_cast<std::size_t>(n));
    dir.resize(dir.rfind('/') + 1);
    std::string p = dir + "weft-bench-go";
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXUSR) ? p : std::string();
  }();
  return path;
}

// weft-bench-go serve-echo THREADS, alive while this object is: it prints its port, then
// serves until its standard input closes.
class GoEchoServer final : public EchoServer {
 public:
  explicit GoEchoServer(int threads) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) std::abort();
    std::string path = go_peer_path(), n = std::to_string(threads);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
      ::execl(path.c_str(), "weft-bench-go", "serve-echo", n.c_str(), static_cast<char*>(nullptr));
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
      std::fprintf(stderr, "weft-bench: weft-bench-go serve-echo did not start\n");
      std::abort();
    }
  }
  ~GoEchoServer() override {
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

bool go_available() { return !go_peer_path().empty(); }

std::string go_version() {
  std::string v;
  if (FILE* p = ::popen(("'" + go_peer_path() + "' version").c_str(), "r")) {
    char buf[128];
    if (std::fgets(buf, sizeof buf, p)) v = buf;
    ::pclose(p);
  }
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

std::vector<double> go_samples(const std::vector<std::string>& args) {
  std::vector<std::string> argv{go_peer_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = run_for_numbers(argv);
  if (out.empty()) {
    std::fprintf(stderr, "weft-bench: weft-bench-go %s printed nothing\n", args.front().c_str());
    std::abort();
  }
  return out;
}

std::unique_ptr<EchoServer> go_echo_server(int threads) {
  return std::make_unique<GoEchoServer>(threads);
}

}  // namespace weft::bench
