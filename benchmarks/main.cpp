// weft-bench: every figure of docs/benchmarks.md, contenders interleaved in one run.
//
//   weft-bench [--quick] [--json FILE] [--plot DIR] [--only NAME[,NAME...]]
#include "figures.hpp"
#include "harness.hpp"
#include "peers.hpp"
#include "peers_tls.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using namespace weft::bench;

void usage() {
  std::puts("usage: weft-bench [--quick] [--json FILE] [--plot DIR] [--only NAME[,NAME...]]\n"
            "       weft-bench --serve-echo weft|libuv|asio_callbacks|asio_spawn\n"
            "       weft-bench --serve-tls-echo weft|floor|asio|go|tokio\n"
            "       weft-bench --fast-path syscall_recv|weft_recv|syscall_send|weft_send BATCHES\n"
            "       weft-bench --pool weft_offload|libuv_offload|weft_file_read|libuv_file_read "
            "OPS");
}

// Whether `name` is a command on PATH.
bool have_command(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// A gnuplot single-quoted string: a quote inside is written twice.
std::string gp_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// Latency distributions as CDFs (log x axis), one PNG per latency figure, drawn by gnuplot, into
// `dir` (which exists: checked by can_write_into before the run).
void write_plots(const std::vector<Figure>& figures, const std::string& dir) {
  // Samples and gnuplot scripts go under DIR/data (large); the PNGs into DIR.
  std::string data_dir = dir + "/data";
  ::mkdir(data_dir.c_str(), 0755);
  bool have_gnuplot = have_command("gnuplot");
  for (const Figure& f : figures) {
    if (f.raw.empty()) continue;  // a figure of values only (scale): nothing to draw
    // Throughput and memory per fiber are single values a round, a few samples each: a CDF
    // of them says less than a bar, which benchmarks/summary.py draws (scripts/bench --plot).
    if (f.unit.ends_with("/s") || f.unit.find("KiB") != std::string::npos) continue;
    std::ostringstream script;
    script << "set terminal png size 900,560 noenhanced\nset output '" << dir << "/" << f.name
           << ".png'\n"
           << "set title " << gp_quoted(f.name + " (" + f.placement + ")") << "\nset logscale x\n"
           << "set xlabel '" << f.unit << "'\nset ylabel 'fraction of samples'\n"
           << "set key bottom right\nset grid\nplot ";
    bool first = true;
    for (const auto& [name, samples] : f.raw) {
      std::vector<double> s = samples;
      std::sort(s.begin(), s.end());
      std::string data = data_dir + "/" + f.name + "." + name + ".dat";
      std::ofstream out(data);
      for (std::size_t i = 0; i < s.size(); ++i) {
        out << s[i] << " " << static_cast<double>(i + 1) / static_cast<double>(s.size()) << "\n";
      }
      script << (first ? "" : ", ") << "'" << data << "' using 1:2 with lines lw 2 title '" << name
             << "'";
      first = false;
    }
    script << "\n";
    std::string gp = data_dir + "/" + f.name + ".gp";
    std::ofstream(gp) << script.str();
    if (have_gnuplot) {
      std::string cmd = "gnuplot '" + gp + "'";
      if (std::system(cmd.c_str()) != 0)
        std::fprintf(stderr, "weft-bench: gnuplot failed on %s\n", gp.c_str());
    }
  }
  if (!have_gnuplot)
    std::fprintf(stderr, "weft-bench: gnuplot not found: wrote data and scripts only\n");
}

// --serve-echo NAME: one echo server of the echo figures, alone in this process, until
// standard input closes; its port is the first line of standard output. For counting the
// server's own instructions under cachegrind (benchmarks/instructions.py).
int serve_echo(const std::string& name) {
  std::unique_ptr<EchoServer> server;
  if (name == "weft") server = weft_echo_server();
  else if (name == "libuv") server = libuv_echo_server();
  else if (name == "asio_callbacks") server = asio_echo_server(false);
  else if (name == "asio_spawn") server = asio_echo_server(true);
  if (!server) {
    std::fprintf(stderr,
                 "weft-bench: --serve-echo takes weft, libuv, asio_callbacks or asio_spawn\n");
    return 2;
  }
  std::printf("%u\n", static_cast<unsigned>(server->port()));
  std::fflush(stdout);
  char buf[256];
  while (::read(0, buf, sizeof buf) > 0) {}
  return 0;
}

// Whether `path` can be written, without truncating it (an earlier run's results stay until
// this run has its own) and without leaving a new file behind. errno says why not.
bool can_write_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) ::unlink(path.c_str());
  }
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Whether files can be made in directory `dir`, which is created if missing.
bool can_write_into(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return false;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return false;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return false;
  }
  return ::access(dir.c_str(), W_OK | X_OK) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  // glibc fills every allocation with MALLOC_PERTURB_'s byte (meson test sets it): that
  // touches each coroutine stack a peer mallocs (100,000 of 128 KiB in fiber_memory) and
  // turns the memory figures into the variable's cost. glibc reads it once, at start-up, so
  // the program starts again without it.
  if (const char* perturb = std::getenv("MALLOC_PERTURB_"); perturb && *perturb) {
    ::unsetenv("MALLOC_PERTURB_");
    ::execv("/proc/self/exe", argv);
    std::perror("weft-bench: cannot start again without MALLOC_PERTURB_");
    return 1;
  }
  Config cfg;
  std::string json_path, plot_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      cfg.quick = true;
      cfg.rounds = 5;
      cfg.scale = 0.1;
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--plot" && i + 1 < argc) {
      plot_dir = argv[++i];
    } else if (a == "--only" && i + 1 < argc) {
      std::stringstream ss(argv[++i]);
      std::string name;
      while (std::getline(ss, name, ',')) {
        const auto& table = figure_table();
        if (std::none_of(table.begin(), table.end(),
                         [&](const FigureEntry& e) { return name == e.name; })) {
          std::string known;
          for (const FigureEntry& e : table) {
            known += (known.empty() ? "" : ", ") + std::string(e.name);
          }
          std::fprintf(stderr, "weft-bench: no figure named '%s'; the figures: %s\n", name.c_str(),
                       known.c_str());
          return 2;
        }
        cfg.only.insert(name);
      }
    } else if (a == "--sample" && i + 1 < argc) {
      return run_sample(argv[++i]);
    } else if (a == "--serve-echo" && i + 1 < argc) {
      return serve_echo(argv[++i]);
    } else if (a == "--serve-tls-echo" && i + 1 < argc) {
      return serve_tls_echo(argv[++i]);
    } else if (a == "--fast-path" && i + 2 < argc) {
      return run_fast_path(argv[i + 1], argv[i + 2]);
    } else if (a == "--pool" && i + 2 < argc) {
      return run_pool(argv[i + 1], argv[i + 2]);
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }

  // Where the results go is checked before the run, not after minutes of it.
  if (!json_path.empty() && !can_write_file(json_path)) {
    std::fprintf(stderr, "weft-bench: cannot write %s: %s\n", json_path.c_str(),
                 std::strerror(errno));
    return 2;
  }
  if (!plot_dir.empty() && !can_write_into(plot_dir)) {
    std::fprintf(stderr, "weft-bench: cannot write plots into %s: %s\n", plot_dir.c_str(),
                 std::strerror(errno));
    return 2;
  }

  auto env = environment();
  // The Go peers are optional (docs/benchmarks.md): run when weft-bench-go was built.
  if (go_available()) {
    env["go peer"] = "weft-bench-go, " + go_version();
  } else if (have_command("go")) {
    env["go peer"] = "skipped: weft-bench-go was not built (go came after this build tree was "
                     "set up: meson setup --reconfigure)";
  } else {
    env["go peer"] = "skipped: go is not installed (Debian: golang-go)";
  }
  // The tokio peers likewise: run when weft-bench-tokio was built.
  env["tokio peer"] =
      tokio_available() ? "weft-bench-tokio, " + tokio_version() : tokio_skip_note();
  // The tokio-openssl peer of the TLS figures likewise (a program of its own: without the
  // tokio-openssl crate the other tokio peers are still built).
  env["tokio-openssl peer"] = tokio_tls_available() ? "weft-bench-tokio-tls, " + tokio_tls_version()
                                                    : tokio_tls_skip_note();
  // Boost.Fiber's peers likewise: built when meson found its library.
  env["boost_fiber peer"] = boost_fiber_available()
                                ? "Boost.Fiber " + boost_fiber_version()
                                : "skipped: Boost.Fiber's library was not found when this build "
                                  "tree was set up (Debian: libboost-fiber1.81-dev; then meson "
                                  "setup --reconfigure)";
  std::printf("weft-bench%s: %d rounds, contenders interleaved\n", cfg.quick ? " --quick" : "",
              cfg.rounds);
  for (const auto& [k, v] : env) std::printf("  %-18s %s\n", k.c_str(), v.c_str());

  std::vector<Figure> figures = make_figures(cfg);

  print_table(figures);
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << to_json(figures, env);
    out.close();
    if (!out) {
      std::fprintf(stderr, "weft-bench: cannot write %s\n", json_path.c_str());
      return 1;
    }
  }
  if (!plot_dir.empty()) write_plots(figures, plot_dir);
  return 0;
}
