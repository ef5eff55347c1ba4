// The tokio peers: weft-bench-tokio (benchmarks/tokio), built beside this program when
// Debian's cargo, librust-tokio-dev and librust-tokio-util-dev are installed. Each round runs
// it once, as a child process, for that round's samples.
#include "peers.hpp"

#include <string>

#include <dirent.h>
#include <unistd.h>

namespace weft::bench {
namespace {

const char kName[] = "weft-bench-tokio";

const std::string& tokio_peer_path() {
  static const std::string path = peer_program_path(kName);
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

}  // namespace

bool tokio_available() { return !tokio_peer_path().empty(); }

std::string tokio_version() { return peer_program_version(tokio_peer_path()); }

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
  return peer_program_samples(tokio_peer_path(), kName, args);
}

std::unique_ptr<EchoServer> tokio_echo_server(int threads) {
  return peer_program_echo_server(tokio_peer_path(), kName, threads);
}

}  // namespace weft::bench
