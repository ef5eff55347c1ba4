#!/usr/bin/env python3
"""Builds weft-bench-tokio (benchmarks/tokio) and weft-bench-tokio-tls (benchmarks/tokio_tls)
offline against Debian's crate registry.

    build.py check CARGO RUSTC REGISTRY [CRATE...]
        exit 0 when the toolchain and the crates the peer needs are there (meson setup asks);
        CRATE names a crate by the prefix of its directory in the registry ("tokio-1."), and
        without any the tokio peer's are meant
    build.py build CARGO RUSTC REGISTRY WORKDIR OUTPUT SOURCES...
        copies SOURCES (Cargo.toml, build.rs, src/main.rs) into WORKDIR/src-copy, so that
        cargo writes its Cargo.lock there and not into the source tree, builds there with a
        CARGO_HOME of its own whose config replaces crates.io by REGISTRY (nothing is
        downloaded: --offline), and copies the program to OUTPUT (the crate's binary of
        OUTPUT's name).

Debian's cargo (/usr/bin/cargo) and rustc are named explicitly: a toolchain installed by hand
elsewhere on PATH is neither needed nor used."""
import os
import shutil
import subprocess
import sys

# The crates the tokio peer names, by the prefix of their directory in the registry.
NEEDED = ("tokio-1.", "tokio-util-0.7.", "tokio-macros-", "libc-0.2.")


def crate_name(prefix):
    """A registry prefix's crate: "tokio-util-0.7." -> "tokio-util", "tokio-openssl-" ->
    "tokio-openssl"."""
    name = prefix.rstrip(".-")
    head, _, last = name.rpartition("-")
    return head if head and last[:1].isdigit() else name


def check(cargo, rustc, registry, needed=NEEDED):
    if not (os.access(cargo, os.X_OK) and os.access(rustc, os.X_OK)):
        print(f"no {cargo} or {rustc} (Debian: cargo)")
        return 1
    try:
        present = os.listdir(registry)
    except OSError:
        print(f"no crate registry at {registry} (Debian: librust-tokio-dev)")
        return 1
    missing = [p for p in needed if not any(d.startswith(p) for d in present)]
    if missing:
        names = [crate_name(p) for p in missing]
        print(f"{registry} lacks {', '.join(names)} "
              f"(Debian: {', '.join(f'librust-{n}-dev' for n in names)})")
        return 1
    print("ok")
    return 0


def build(cargo, rustc, registry, workdir, output, sources):
    src = os.path.join(workdir, "src-copy")
    os.makedirs(os.path.join(src, "src"), exist_ok=True)
    for path in sources:
        # Cargo.toml and build.rs at the top, the program's sources under src/.
        name = os.path.basename(path)
        top = name in ("Cargo.toml", "build.rs")
        dest = os.path.join(src, name) if top else os.path.join(src, "src", name)
        # Copied only when changed, so that cargo's own freshness check holds.
        with open(path, "rb") as f:
            data = f.read()
        if not os.path.exists(dest) or open(dest, "rb").read() != data:
            with open(dest, "wb") as f:
                f.write(data)
    home = os.path.join(workdir, "cargo-home")
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write('[source.crates-io]\nreplace-with = "debian"\n\n'
                f'[source.debian]\ndirectory = "{registry}"\n\n'
                '[net]\noffline = true\n')
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("CARGO_", "RUSTUP_")) or key in ("RUSTC", "RUSTFLAGS", "RUSTC_WRAPPER"):
            del env[key]
    env.update({"CARGO_HOME": home, "RUSTC": rustc,
                "CARGO_TARGET_DIR": os.path.join(workdir, "target")})
    cmd = [cargo, "build", "--offline", "--release", "--quiet",
           "--manifest-path", os.path.join(src, "Cargo.toml")]
    done = subprocess.run(cmd, cwd=src, env=env)
    if done.returncode != 0:
        return done.returncode
    built = os.path.join(workdir, "target", "release", os.path.basename(output))
    tmp = output + ".tmp"
    shutil.copy2(built, tmp)
    os.replace(tmp, output)
    return 0


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "check":
        return check(*sys.argv[2:5], tuple(sys.argv[5:]) or NEEDED)
    if len(sys.argv) >= 8 and sys.argv[1] == "build":
        return build(*sys.argv[2:7], sys.argv[7:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
