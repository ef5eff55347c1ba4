# Shared by scripts/test and scripts/bench: the Debian packages weft needs, and installing
# whichever of them are missing (quietly; `apt-get update` only when something is missing).

# Build and test dependencies (architecture.md). One Boost version: 1.81.
WEFT_BUILD_PACKAGES=(
  g++ meson ninja-build pkgconf
  libuv1-dev libboost1.81-dev libboost-context1.81-dev libspdlog-dev libssl-dev
  googletest libgtest-dev
)
# The test suite's extras: real HTTP clients for weft-http, netcat for weft-chat, socat for the
# Unix-domain socket tests, the API reference, cmake for weft's CMake package and its
# consumer test, and prometheus_client (under Debian's /usr/bin/python3) to parse /metrics.
WEFT_TEST_PACKAGES=(curl wrk netcat-openbsd openssl python3 python3-prometheus-client doxygen socat cmake)
# The benchmark suite's extras: plots, instruction counts (cachegrind), Go for the Go peers,
# Boost.Fiber's library for the Boost.Fiber peers, and cargo with the tokio crates for the
# tokio peers and tokio-openssl for the TLS figures' (architecture.md: optional; the suite
# skips each with a note when it is missing).
WEFT_BENCH_PACKAGES=(gnuplot-nox valgrind golang-go libboost-fiber1.81-dev
  cargo librust-tokio-dev librust-tokio-util-dev librust-tokio-openssl-dev)
# The fuzz target: clang with libFuzzer.
WEFT_FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)

weft_missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

weft_ensure_packages() {
  local missing
  missing=$(weft_missing_packages "$@")
  [ -z "$missing" ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "weft: installing missing Debian packages:" $missing
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# weft_configure DIR [meson options...]: sets up DIR once, reconfigures it when options change.
weft_configure() {
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}
