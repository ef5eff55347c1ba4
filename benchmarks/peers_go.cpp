// The Go peers: weft-bench-go (benchmarks/go/peer.go), built beside this program when
// Debian's golang-go is installed. Each round runs it once, as a child process, for that
// round's samples.
#include "peers.hpp"

#include <string>

namespace weft::bench {
namespace {

const char kName[] = "weft-bench-go";

const std::string& go_peer_path() {
  static const std::string path = peer_program_path(kName);
  return path;
}

}  // namespace

bool go_available() { return !go_peer_path().empty(); }

std::string go_version() { return peer_program_version(go_peer_path()); }

std::vector<double> go_samples(const std::vector<std::string>& args) {
  return peer_program_samples(go_peer_path(), kName, args);
}

std::unique_ptr<EchoServer> go_echo_server(int threads) {
  return peer_program_echo_server(go_peer_path(), kName, threads);
}

}  // namespace weft::bench
