#!/usr/bin/env bash
# Consumer tests: weft used from outside its tree.
#   consume.sh pkgconfig BUILD_DIR SOURCE_DIR  — meson install into a staging prefix, then build
#                                                a program with `pkg-config --cflags --libs weft`
#   consume.sh static BUILD_DIR SOURCE_DIR     — the same program linked with the installed
#                                                libweft.a (`pkg-config --static`)
#   consume.sh subproject BUILD_DIR SOURCE_DIR — a meson project with weft as a subproject
#   consume.sh cmake BUILD_DIR SOURCE_DIR      — the same staging, then a CMake project
#                                                (cmake/) with find_package(weft CONFIG)
#   consume.sh cmake_static BUILD_DIR SOURCE_DIR — that project linking weft::weft_static
#                                                (COMPONENTS static), then a request for a
#                                                component weft lacks, which must fail
set -euo pipefail
mode=$1 build=$(cd "$2" && pwd) src=$(cd "$3" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage() {
  meson install -C "$build" --no-rebuild --destdir "$work/stage" >/dev/null
  prefix=$(meson introspect "$build" --buildoptions | python3 -c \
    'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
  root="$work/stage$prefix"
  pc=$(dirname "$(find "$root" -name weft.pc | head -1)")
}
case "$mode" in
  pkgconfig)
    stage
    flags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$root" --cflags --libs weft)
    # shellcheck disable=SC2086
    c++ -std=c++20 "$src/tests/consumer/app/main.cpp" -o "$work/consumer" $flags
    libdir=$(dirname "$(find "$root" -name 'libweft.so' | head -1)")
    LD_LIBRARY_PATH="$libdir" "$work/consumer"
    # Only the public API is exported: no weft::detail symbol but those the headers use.
    if nm -D --defined-only "$libdir/libweft.so" | c++filt | grep -E ' weft::detail::(RuntimeImpl|SocketTable|StackPool)' >/dev/null; then
      echo "consumer: runtime internals are exported"; exit 1
    fi
    ;;
  static)
    stage
    archive=$(find "$root" -name 'libweft.a' | head -1)
    [ -n "$archive" ] || { echo "consumer: no libweft.a installed"; exit 1; }
    cflags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$root" --cflags weft)
    # Every library weft needs, from the static listing, with libweft itself taken from the
    # archive rather than the shared object beside it.
    libs=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$root" --static --libs weft |
      sed -e 's/\(^\| \)-lweft\b//')
    # shellcheck disable=SC2086
    c++ -std=c++20 $cflags "$src/tests/consumer/app/main.cpp" -o "$work/consumer" "$archive" $libs
    if ldd "$work/consumer" | grep libweft >/dev/null; then
      echo "consumer: linked against libweft.so, not the archive"; exit 1
    fi
    "$work/consumer"
    ;;
  subproject)
    cp -r "$src/tests/consumer/app" "$work/app"
    mkdir -p "$work/app/subprojects"
    # The source tree as the subproject, new files too (its build directories are not copied).
    rsync -a --exclude '/build*' --exclude '/.git' "$src/" "$work/app/subprojects/weft/" 2>/dev/null ||
      { mkdir -p "$work/app/subprojects/weft" && (cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/app/subprojects/weft"); }
    # Quiet when it works; the whole output when it does not.
    { meson setup "$work/app/build" "$work/app" -Dweft:tests=disabled -Dweft:benchmarks=disabled \
        -Dweft:examples=disabled && ninja -C "$work/app/build"; } >"$work/build.log" 2>&1 ||
      { cat "$work/build.log"; echo "consumer: the subproject build failed"; exit 1; }
    "$work/app/build/consumer"
    ;;
  cmake | cmake_static)
    command -v cmake >/dev/null || { echo "consumer: cmake is not installed (Debian package cmake)"; exit 1; }
    stage
    config=$(find "$root" -name weftConfig.cmake | head -1)
    [ -n "$config" ] || { echo "consumer: no weftConfig.cmake installed"; exit 1; }
    version=$(meson introspect "$build" --projectinfo | python3 -c \
      'import json,sys; print(json.load(sys.stdin)["version"])')
    static=OFF
    [ "$mode" = cmake_static ] && static=ON
    # Quiet when it works; the whole output when it does not.
    { cmake -S "$src/tests/consumer/cmake" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$root" \
        -DWEFT_VERSION="$version" -DWEFT_STATIC="$static" && cmake --build "$work/cmake"; } \
      >"$work/build.log" 2>&1 ||
      { cat "$work/build.log"; echo "consumer: the CMake build failed"; exit 1; }
    # The package found and the library linked are the staged ones, not another weft.
    grep -qxF "weft_DIR:PATH=$(dirname "$config")" "$work/cmake/CMakeCache.txt" ||
      { grep '^weft_DIR' "$work/cmake/CMakeCache.txt"; echo "consumer: find_package found another weft"; exit 1; }
    ldd "$work/cmake/consumer" >"$work/ldd.txt"
    if [ "$static" = ON ]; then
      if grep -q libweft "$work/ldd.txt"; then
        cat "$work/ldd.txt"; echo "consumer: linked against libweft.so, not the archive"; exit 1
      fi
      archive=$(find "$root" -name 'libweft.a' | head -1)
      grep -qF "$archive" "$work/cmake/build.ninja" ||
        { echo "consumer: the staged libweft.a is not on the link line"; exit 1; }
      # A component weft does not have is an error that names it.
      mkdir -p "$work/bad"
      printf '%s\n' 'cmake_minimum_required(VERSION 3.12)' 'project(weft_bad CXX)' \
        'find_package(weft CONFIG REQUIRED COMPONENTS nosuch)' >"$work/bad/CMakeLists.txt"
      if cmake -S "$work/bad" -B "$work/bad/build" -DCMAKE_PREFIX_PATH="$root" >"$work/bad.log" 2>&1; then
        cat "$work/bad.log"; echo "consumer: an unknown component was accepted"; exit 1
      fi
      grep -q "weft has no component nosuch" "$work/bad.log" ||
        { cat "$work/bad.log"; echo "consumer: the unknown component's error does not name it"; exit 1; }
    else
      grep -q "libweft\.so[.0-9]* => $root/" "$work/ldd.txt" ||
        { cat "$work/ldd.txt"; echo "consumer: not linked against the staged libweft.so"; exit 1; }
    fi
    "$work/cmake/consumer"
    ;;
  *) echo "consume.sh: unknown mode $mode" >&2; exit 2 ;;
esac
