#!/usr/bin/env python3
"""User-space instructions per echo round trip of each echo server, and per call of the
recv/send fast path, counted by cachegrind.

Each server runs alone in its process (`weft-bench --serve-echo NAME`) under
`valgrind --tool=cachegrind --cache-sim=no`; a Python client outside valgrind drives 100
connections of 64 B ping-pong (all in flight) for R1 and then, in a second run, R2 rounds.
(Ir(R2) - Ir(R1)) / ((R2 - R1) * 100) is the server's instructions per round trip, with start-up,
connection set-up and shutdown cancelled out. Instruction counts move much less than times
do, but still with how many events one loop iteration batches (the client's timing).

The fast path (figure recv_ready): each contender runs alone in its process
(`weft-bench --fast-path NAME BATCHES`) for B1 and then B2 batches of 1,000 calls, and
(Ir(B2) - Ir(B1)) / ((B2 - B1) * 1000) is its instructions per call. The syscall itself runs
in the kernel, which cachegrind does not count: weft's figure less the raw call's is what
weft adds to each call in user space.

usage: instructions.py WEFT-BENCH [--json FILE] [--rounds R1,R2]
"""
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile

SERVERS = ["weft", "libuv", "asio_callbacks", "asio_spawn"]
CONNECTIONS = 100
SIZE = 64
GOAL = 1.3  # weft at most 1.3x libuv's instructions per round trip (docs/benchmarks.md)
FAST = ["syscall_recv", "weft_recv", "syscall_send", "weft_send"]
FAST_BATCHES = (50, 250)


def drive(port: int, rounds: int) -> None:
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    for c in conns:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"e" * SIZE
    for _ in range(rounds):
        for c in conns:
            c.sendall(msg)
        for c in conns:
            got = 0
            while got < SIZE:
                chunk = c.recv(SIZE - got)
                if not chunk:
                    raise RuntimeError("server closed a connection")
                got += len(chunk)
    for c in conns:
        c.close()


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


def count(bench: str, server: str, rounds: int, work: str) -> int:
    out = f"{work}/cg.{server}.{rounds}"
    p = subprocess.Popen(cachegrind(out, [bench, "--serve-echo", server]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(p.stdout.readline())
        drive(port, rounds)
    finally:
        p.stdin.close()
        p.wait(timeout=300)
    return total(server, p.returncode, p.stderr.read(), out)


def count_fast(bench: str, name: str, batches: int, work: str) -> int:
    out = f"{work}/cg.fast.{name}.{batches}"
    p = subprocess.run(cachegrind(out, [bench, "--fast-path", name, str(batches)]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    return total(name, p.returncode, p.stderr, out)


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    bench, json_path, r1, r2 = args[0], None, 50, 250
    i = 1
    while i < len(args):
        if args[i] == "--json" and i + 1 < len(args):
            json_path = args[i + 1]
            i += 2
        elif args[i] == "--rounds" and i + 1 < len(args):
            r1, r2 = (int(x) for x in args[i + 1].split(","))
            i += 2
        else:
            print(f"instructions.py: unknown argument {args[i]}", file=sys.stderr)
            return 2
    if shutil.which("valgrind") is None:
        print("instructions.py: valgrind is not installed: skipped")
        return 0
    per = {}
    with tempfile.TemporaryDirectory() as work:
        for server in SERVERS:
            lo, hi = count(bench, server, r1, work), count(bench, server, r2, work)
            per[server] = (hi - lo) / ((r2 - r1) * CONNECTIONS)
        fast = {}
        b1, b2 = FAST_BATCHES
        for name in FAST:
            lo, hi = count_fast(bench, name, b1, work), count_fast(bench, name, b2, work)
            fast[name] = (hi - lo) / ((b2 - b1) * 1000)
    print(f"instructions per round trip (cachegrind Ir, server process only; "
          f"{CONNECTIONS} connections x {SIZE} B, rounds {r1} and {r2})")
    for server in SERVERS:
        print(f"  {server:16s} {per[server]:10.0f}   {per[server] / per['libuv']:.2f}x libuv")
    ratio = per["weft"] / per["libuv"]
    print(f"  goal: weft <= {GOAL}x libuv: {'met' if ratio <= GOAL else 'not met'} ({ratio:.2f})")
    print(f"\ninstructions per call of the fast path (cachegrind Ir, user space only: the "
          f"syscall's own work in the kernel is not counted; batches {b1} and {b2} of 1000)")
    for name in FAST:
        print(f"  {name:16s} {fast[name]:10.0f}")
    added = {"recv": fast["weft_recv"] - fast["syscall_recv"],
             "send": fast["weft_send"] - fast["syscall_send"]}
    print(f"  weft adds {added['recv']:.0f} per recv and {added['send']:.0f} per send")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"instructions_per_round_trip": per, "weft_over_libuv": ratio,
                       "goal": GOAL, "met": ratio <= GOAL,
                       "connections": CONNECTIONS, "size": SIZE, "rounds": [r1, r2],
                       "fast_path_instructions_per_call": fast,
                       "fast_path_weft_added_per_call": added,
                       "fast_path_batches": [b1, b2]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
