#!/usr/bin/env python3
"""User-space instructions per echo round trip of each echo server, and per call of the
recv/send fast path, counted by cachegrind.

Each server runs alone in its process (`weft-bench --serve-echo NAME`) under
`valgrind --tool=cachegrind --cache-sim=no`; a Python client outside valgrind drives C
connections of S-byte ping-pong (all in flight) for R1 and then, in a second run, R2 rounds.
(Ir(R2) - Ir(R1)) / ((R2 - R1) * C) is the server's instructions per round trip, with start-up,
connection set-up and shutdown cancelled out. That is done for each shape of the echo
figures (1 and 100 connections, 64 B and 4 KiB); `--rounds` sets R1,R2 of the 100-connection
shapes, and the one-connection shapes run 20 times as many rounds. Instruction counts move
much less than times do, but still with how many events one loop iteration batches (the
client's timing). The goal, weft at most GOAL x libuv, is judged in every shape.

The TLS figures: each in-process TLS server (`weft-bench --serve-tls-echo NAME`: weft, the
plain-OpenSSL floor, Asio) alone under cachegrind, with a certificate it makes itself, driven
by Python's ssl module (TLS 1.3): tls_echo's shape (100 connections x 4 KiB, TLS_ROUNDS rounds
R1 and R2) gives instructions per round trip; tls_handshake's, TLS_HANDSHAKES fresh
connections each with a full handshake and close_notify both ways, instructions per
handshake. The goal is judged on tls_echo: weft at most TLS_GOAL x the floor.

The fast path (figure recv_ready): each contender runs alone in its process
(`weft-bench --fast-path NAME BATCHES`) for B1 and then B2 batches of 1,000 calls, and
(Ir(B2) - Ir(B1)) / ((B2 - B1) * 1000) is its instructions per call. The syscall itself runs
in the kernel, which cachegrind does not count: weft's figure less the raw call's is what
weft adds to each call in user space.

The pool figures (offload, file_read): each contender runs alone in its process
(`weft-bench --pool NAME OPS`) for P1 and then P2 operations — round trips of an empty
offload, or 4 KiB preads of a cached file from 100 readers — and (Ir(P2) - Ir(P1)) / (P2 - P1)
is its instructions per operation. Every thread of the process is counted: the loop's and the
pool's. How long libuv's loop spins in its async handler for the pool thread that woke it, and
how often a pool thread finds its queue empty and sleeps, follow the threads' timing, which
valgrind (one thread at a time) sets differently from a real run: the offload counts move by
10-15% between runs, the file_read counts by about 2%.

usage: instructions.py WEFT-BENCH [--json FILE] [--rounds R1,R2] [--only NAME[,NAME...]]
(--only: some of echo, echo_1conn_64B, echo_100conn_4KiB, echo_1conn_4KiB, tls_echo,
tls_handshake, fast_path, offload, file_read; all by default)
"""
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

SERVERS = ["weft", "libuv", "asio_callbacks", "asio_spawn"]
# The echo figures' shapes: (figure, connections, bytes per message).
SHAPES = [("echo", 100, 64), ("echo_1conn_64B", 1, 64), ("echo_100conn_4KiB", 100, 4096),
          ("echo_1conn_4KiB", 1, 4096)]
ONE_CONNECTION_ROUNDS = 20  # times the 100-connection shapes' rounds
GOAL = 0.85  # weft at most 0.85x libuv's instructions per round trip, in every echo shape
# (docs/benchmarks.md: the echo figures are judged by instructions, which do not move with
# the host as their wall-clock ratios do)
FAST = ["syscall_recv", "weft_recv", "syscall_send", "weft_send"]
FAST_BATCHES = (50, 250)
TLS_SERVERS = ["weft", "floor", "asio"]
TLS_CONNECTIONS, TLS_SIZE = 100, 4096  # tls_echo's shape
TLS_ROUNDS = (20, 100)  # fewer than the echo shapes': a TLS round trip costs ~30x as much
TLS_HANDSHAKES = (20, 100)
TLS_GOAL = 1.1  # weft at most 1.1x the floor's instructions per round trip (docs/benchmarks.md)
# The pool figures and their contenders (weft-bench --pool NAME OPS): (figure, weft's, libuv's).
POOL = [("offload", "weft_offload", "libuv_offload"),
        ("file_read", "weft_file_read", "libuv_file_read")]
POOL_OPS = (2000, 10000)


def drive(port: int, connections: int, size: int, rounds: int) -> None:
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    for c in conns:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"e" * size
    for _ in range(rounds):
        for c in conns:
            c.sendall(msg)
        for c in conns:
            got = 0
            while got < size:
                chunk = c.recv(size - got)
                if not chunk:
                    raise RuntimeError("server closed a connection")
                got += len(chunk)
    for c in conns:
        c.close()


def tls_client() -> ssl.SSLContext:
    """TLS 1.3, the certificate (made by the server itself) not verified: as weft-bench's
    client."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def tls_connect(ctx: ssl.SSLContext, port: int) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(raw)  # the full handshake, here


def tls_close(c: ssl.SSLSocket) -> None:
    """close_notify both ways (the server answers the client's), then the close."""
    try:
        c.unwrap().close()
    except (OSError, ssl.SSLError):
        c.close()


def drive_tls(port: int, connections: int, size: int, rounds: int) -> None:
    ctx = tls_client()
    conns = [tls_connect(ctx, port) for _ in range(connections)]
    msg = b"e" * size
    for _ in range(rounds):
        for c in conns:
            c.sendall(msg)
        for c in conns:
            got = 0
            while got < size:
                chunk = c.recv(size - got)
                if not chunk:
                    raise RuntimeError("server closed a connection")
                got += len(chunk)
    for c in conns:
        tls_close(c)


def drive_handshakes(port: int, handshakes: int) -> None:
    ctx = tls_client()
    for _ in range(handshakes):
        tls_close(tls_connect(ctx, port))


def cachegrind(out: str, args: list) -> list:
    return ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}",
            *args]


def total(who: str, returncode: int, stderr: bytes, out: str) -> int:
    """The instructions counted in `out`, from a run that must have exited 0."""
    if returncode != 0:
        raise RuntimeError(f"{who}: exit {returncode}: {stderr.decode()[-2000:]}")
    m = re.search(r"^summary:\s+(\d+)", open(out).read(), re.M)
    if not m:
        raise RuntimeError(f"{who}: no summary in {out}")
    return int(m.group(1))


def count(bench: str, server: str, connections: int, size: int, rounds: int, work: str) -> int:
    out = f"{work}/cg.{server}.{connections}.{size}.{rounds}"
    p = subprocess.Popen(cachegrind(out, [bench, "--serve-echo", server]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(p.stdout.readline())
        drive(port, connections, size, rounds)
    finally:
        p.stdin.close()
        p.wait(timeout=300)
    return total(server, p.returncode, p.stderr.read(), out)


def count_tls(bench: str, server: str, label: str, drive, work: str) -> int:
    """The instructions of TLS server `server` while `drive(port)` runs against it."""
    out = f"{work}/cg.tls.{server}.{label}"
    p = subprocess.Popen(cachegrind(out, [bench, "--serve-tls-echo", server]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(p.stdout.readline())
        drive(port)
    finally:
        p.stdin.close()
        p.wait(timeout=300)
    return total(server, p.returncode, p.stderr.read(), out)


def count_fast(bench: str, name: str, batches: int, work: str) -> int:
    out = f"{work}/cg.fast.{name}.{batches}"
    p = subprocess.run(cachegrind(out, [bench, "--fast-path", name, str(batches)]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    return total(name, p.returncode, p.stderr, out)


def count_pool(bench: str, name: str, ops: int, work: str) -> int:
    out = f"{work}/cg.pool.{name}.{ops}"
    p = subprocess.run(cachegrind(out, [bench, "--pool", name, str(ops)]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    return total(name, p.returncode, p.stderr, out)


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    bench, json_path, r1, r2 = args[0], None, 50, 250
    known = [figure for figure, _, _ in SHAPES] + ["tls_echo", "tls_handshake", "fast_path"] + \
        [figure for figure, _, _ in POOL]
    only = set(known)
    i = 1
    while i < len(args):
        if args[i] == "--json" and i + 1 < len(args):
            json_path = args[i + 1]
            i += 2
        elif args[i] == "--rounds" and i + 1 < len(args):
            r1, r2 = (int(x) for x in args[i + 1].split(","))
            i += 2
        elif args[i] == "--only" and i + 1 < len(args):
            only = set(args[i + 1].split(","))
            if not only <= set(known):
                print(f"instructions.py: --only takes {', '.join(known)}", file=sys.stderr)
                return 2
            i += 2
        else:
            print(f"instructions.py: unknown argument {args[i]}", file=sys.stderr)
            return 2
    if shutil.which("valgrind") is None:
        print("instructions.py: valgrind is not installed: skipped")
        return 0
    shapes = {}
    fast = {}
    pool = {}
    b1, b2 = FAST_BATCHES
    p1, p2 = POOL_OPS
    with tempfile.TemporaryDirectory() as work:
        for figure, connections, size in SHAPES:
            if figure not in only:
                continue
            lo_rounds, hi_rounds = (r1, r2) if connections > 1 else \
                (r1 * ONE_CONNECTION_ROUNDS, r2 * ONE_CONNECTION_ROUNDS)
            per_shape = {}
            for server in SERVERS:
                lo = count(bench, server, connections, size, lo_rounds, work)
                hi = count(bench, server, connections, size, hi_rounds, work)
                per_shape[server] = (hi - lo) / ((hi_rounds - lo_rounds) * connections)
            shapes[figure] = {"connections": connections, "size": size,
                              "rounds": [lo_rounds, hi_rounds],
                              "instructions_per_round_trip": per_shape}
        if "tls_echo" in only:
            t1, t2 = TLS_ROUNDS
            per_shape = {}
            for server in TLS_SERVERS:
                lo, hi = (count_tls(bench, server, f"echo{n}",
                                    lambda port, n=n: drive_tls(port, TLS_CONNECTIONS, TLS_SIZE, n),
                                    work) for n in (t1, t2))
                per_shape[server] = (hi - lo) / ((t2 - t1) * TLS_CONNECTIONS)
            shapes["tls_echo"] = {"connections": TLS_CONNECTIONS, "size": TLS_SIZE,
                                  "rounds": [t1, t2], "instructions_per_round_trip": per_shape}
        if "tls_handshake" in only:
            h1, h2 = TLS_HANDSHAKES
            per_shape = {}
            for server in TLS_SERVERS:
                lo, hi = (count_tls(bench, server, f"handshake{n}",
                                    lambda port, n=n: drive_handshakes(port, n), work)
                          for n in (h1, h2))
                per_shape[server] = (hi - lo) / (h2 - h1)
            shapes["tls_handshake"] = {"handshakes": [h1, h2],
                                       "instructions_per_handshake": per_shape}
        if "fast_path" in only:
            for name in FAST:
                lo, hi = count_fast(bench, name, b1, work), count_fast(bench, name, b2, work)
                fast[name] = (hi - lo) / ((b2 - b1) * 1000)
        for figure, weft, libuv in POOL:
            if figure not in only:
                continue
            per_op = {}
            for name in (weft, libuv):
                lo, hi = count_pool(bench, name, p1, work), count_pool(bench, name, p2, work)
                per_op[name] = (hi - lo) / (p2 - p1)
            pool[figure] = {"instructions_per_op": per_op,
                            "weft_over_libuv": per_op[weft] / per_op[libuv]}
    doc = {"rounds": [r1, r2], "shapes": shapes}
    echo_shapes = {k: v for k, v in shapes.items() if not k.startswith("tls_")}
    if echo_shapes:
        print("instructions per round trip (cachegrind Ir, server process only)")
    for figure, shape in echo_shapes.items():
        got = shape["instructions_per_round_trip"]
        print(f"  {figure} ({shape['connections']} connection(s) x {shape['size']} B, rounds "
              f"{shape['rounds'][0]} and {shape['rounds'][1]})")
        for server in SERVERS:
            print(f"    {server:16s} {got[server]:10.0f}   {got[server] / got['libuv']:.2f}x libuv"
                  f"   {got[server] / got['asio_spawn']:.2f}x asio_spawn")
        ratio = got["weft"] / got["libuv"]
        shape.update({"weft_over_libuv": ratio, "goal": GOAL, "met": ratio <= GOAL})
        print(f"    goal: weft <= {GOAL}x libuv: {'met' if ratio <= GOAL else 'not met'} "
              f"({ratio:.2f})")
    if "echo" in shapes:
        per = shapes["echo"]["instructions_per_round_trip"]
        ratio = per["weft"] / per["libuv"]
        doc.update({"instructions_per_round_trip": per, "weft_over_libuv": ratio,
                    "goal": GOAL, "met": ratio <= GOAL,
                    "connections": shapes["echo"]["connections"],
                    "size": shapes["echo"]["size"]})
    if "tls_echo" in shapes:
        shape = shapes["tls_echo"]
        got = shape["instructions_per_round_trip"]
        print(f"\ninstructions per TLS round trip (cachegrind Ir, server process only; "
              f"{shape['connections']} connections x {shape['size']} B, rounds "
              f"{shape['rounds'][0]} and {shape['rounds'][1]})")
        for server in TLS_SERVERS:
            print(f"  {server:16s} {got[server]:10.0f}   {got[server] / got['floor']:.2f}x floor")
        ratio = got["weft"] / got["floor"]
        print(f"  goal: weft <= {TLS_GOAL}x floor: {'met' if ratio <= TLS_GOAL else 'not met'} "
              f"({ratio:.2f})")
        doc.update({"tls_echo_weft_over_floor": ratio, "tls_echo_goal": TLS_GOAL,
                    "tls_echo_met": ratio <= TLS_GOAL})
    if "tls_handshake" in shapes:
        shape = shapes["tls_handshake"]
        got = shape["instructions_per_handshake"]
        print(f"\ninstructions per full TLS 1.3 handshake, with its connection's set-up and "
              f"close (cachegrind Ir, server process only; {shape['handshakes'][0]} and "
              f"{shape['handshakes'][1]} handshakes)")
        for server in TLS_SERVERS:
            print(f"  {server:16s} {got[server]:10.0f}   {got[server] / got['floor']:.3f}x floor")
        doc["tls_handshake_weft_over_floor"] = got["weft"] / got["floor"]
    if fast:
        print(f"\ninstructions per call of the fast path (cachegrind Ir, user space only: the "
              f"syscall's own work in the kernel is not counted; batches {b1} and {b2} of 1000)")
        for name in FAST:
            print(f"  {name:16s} {fast[name]:10.0f}")
        added = {"recv": fast["weft_recv"] - fast["syscall_recv"],
                 "send": fast["weft_send"] - fast["syscall_send"]}
        print(f"  weft adds {added['recv']:.0f} per recv and {added['send']:.0f} per send")
        doc.update({"fast_path_instructions_per_call": fast,
                    "fast_path_weft_added_per_call": added, "fast_path_batches": [b1, b2]})
    if pool:
        print(f"\ninstructions per operation of the pool figures (cachegrind Ir, every thread: "
              f"the loop's and the pool's; {p1} and {p2} operations)")
        for figure, weft, libuv in POOL:
            if figure not in pool:
                continue
            got = pool[figure]["instructions_per_op"]
            print(f"  {figure}")
            for name in (weft, libuv):
                print(f"    {name:16s} {got[name]:10.0f}   {got[name] / got[libuv]:.2f}x libuv")
        doc.update({"pool_instructions": pool, "pool_ops": [p1, p2]})
    if json_path:
        with open(json_path, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
