// A peer that is a program of its own (weft-bench-go, weft-bench-tokio, weft-bench-tokio-tls),
// built beside weft-bench: where it is, its version, a round's samples, and a server run as a
// child.
#include "peers.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace weft::bench {
namespace {

// NAME MODE ARGS... (serve-echo THREADS, serve-tls-echo CERT KEY), alive while this object
// is: it prints its port, then serves until its standard input closes.
class ChildEchoServer final : public EchoServer {
 public:
  ChildEchoServer(const std::string& path, const char* name, const std::vector<std::string>& args) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) std::abort();
    std::vector<char*> argv{const_cast<char*>(name)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
      ::execv(path.c_str(), argv.data());
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
      std::fprintf(stderr, "weft-bench: %s %s did not start\n", name, args.front().c_str());
      std::abort();
    }
  }
  ~ChildEchoServer() override {
    ::close(stdin_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  std::uint16_t port() const override { return port_; }
  // The time on CPU of every thread the child has now (/proc/PID/task/TID/schedstat, in ns:
  // the tick-counted utime and stime would be too coarse for a round of a fraction of a
  // second). A peer's runtime keeps its threads, so none that ran is missed.
  std::int64_t cpu_ns() const override {
    std::string dir = "/proc/" + std::to_string(pid_) + "/task";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return -1;
    std::int64_t sum = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream stat(dir + "/" + e->d_name + "/schedstat");
      long long on_cpu = 0;
      if (stat >> on_cpu) sum += on_cpu;
    }
    ::closedir(d);
    return sum;
  }
  // VmRSS of /proc/PID/status: what the child's pages take now, in KiB.
  double rss_kib() const override {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6);
    }
    return -1;
  }

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
  return std::make_unique<ChildEchoServer>(
      path, name, std::vector<std::string>{"serve-echo", std::to_string(threads)});
}

std::unique_ptr<EchoServer> peer_program_server(const std::string& path, const char* name,
                                                const std::vector<std::string>& args) {
  return std::make_unique<ChildEchoServer>(path, name, args);
}

}  // namespace weft::bench
