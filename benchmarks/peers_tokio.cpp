// The tokio peers: weft-bench-tokio (benchmarks/tokio), built beside this program when
// Debian's cargo, librust-tokio-dev and librust-tokio-util-dev are installed. Each round runs
// it once, as a child process, for that round's samples.
#include "peers.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace weft::bench {
namespace {

std::string tokio_peer_path() {
  static const std::string path = [] {
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return std::string();
    std::string dir(self, static_cast<std::size_t>(n));
    dir.resize(dir.rfind('/') + 1);
    std::string p = dir + "weft-bench-tokio";
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXUSR) ? p : std::string();
  }();
  return path;
}

// Whether Debian's crate registry holds a crate whose directory name starts with `prefix`.
bool registry_has(const std::string& prefix) {
  DIR* d = ::opendir("/usr/share/cargo/registry");
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    if (std::string(e->d_name).rfind(prefix, 0) == 0) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// weft-bench-tokio serve-echo THREADS, alive while this object is: it prints its port, then
// serves until its standard input closes.
class TokioEchoServer final : public EchoServer {
 public:
  explicit TokioEchoServer(int threads) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) std::abort();
    std::string path = tokio_peer_path(), n = std::to_string(threads);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
      ::execl(path.c_str(), "weft-bench-tokio", "serve-echo", n.c_str(),
              static_cast<char*>(nullptr));
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
      std::fprintf(stderr, "weft-bench: weft-bench-tokio serve-echo did not start\n");
      std::abort();
    }
  }
  ~TokioEchoServer() override {
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

bool tokio_available() { return !tokio_peer_path().empty(); }

std::string tokio_version() {
  std::string v, command = "'";
  command += tokio_peer_path();
  command += "' version";
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[128];
    if (std::fgets(buf, sizeof buf, p)) v = buf;
    ::pclose(p);
  }
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

std::string tokio_skip_note() {
  const bool toolchain = ::access("/usr/bin/cargo", X_OK) == 0;
  const bool crates = registry_has("tokio-1.") && registry_has("tokio-util-0.7.");
  if (toolchain && crates) {
    return "skipped: weft-bench-tokio was not built (cargo and the crates came after this build "
           "tree was set up: meson setup --reconfigure)";
  }
  return "skipped: Debian's cargo or the tokio crates are not installed (Debian: cargo, "
         "librust-tokio-dev, librust-tokio-util-dev)";
}

std::vector<double> tokio_samples(const std::vector<std::string>& args) {
  std::vector<std::string> argv{tokio_peer_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = run_for_numbers(argv);
  if (out.empty()) {
    std::fprintf(stderr, "weft-bench: weft-bench-tokio %s printed nothing\n", args.front().c_str());
    std::abort();
  }
  return out;
}

std::unique_ptr<EchoServer> tokio_echo_server(int threads) {
  return std::make_unique<TokioEchoServer>(threads);
}

}  // namespace weft::bench
