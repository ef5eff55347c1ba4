#!/usr/bin/env python3
"""Drives weft-exec with clients that are not weft: Python sockets (TCP and Unix-domain) and nc.

usage: exec_client.py PATH-TO-weft-exec

Checks:
  * bad command lines exit 2 with a message; --help exits 0;
  * `-- tr a-z A-Z` upper-cases what a client sends (the client's FIN ends the child's input),
    for Python, for `nc -N`, and for six clients at once with a megabyte each;
  * `-- sh -c 'echo hi; exit 3'` gives "hi", and the exit status 3 is logged (--verbose);
  * the child's environment describes the connection, and the child holds no socket;
  * 20 MB through `cat` come back whole;
  * a child that closes its input at once still has its output delivered; a slow client gets
    all of a child's output, however long past the grace period; a child that leaves a process
    behind holding its output ends the connection within the grace period;
  * a client that resets while `sleep 60` runs, or resets after its FIN, has the child ended
    by SIGTERM; a child that ignores SIGTERM is killed after the grace period; a client that
    closes while `yes` writes has it ended; a client that closes while `cat` runs lets it end
    by its input's end. After each: no child of the server left (none a zombie, from
    /proc/*/stat), its descriptors back to what they were (/proc/PID/fd), the status logged,
    and the next client served;
  * SIGTERM with a child running ends the child and the server exits 0;
  * with --group, a child's background job ends with its connection, whether the client
    resets or the child ends by itself; without it, the job outlives a client that reset;
  * with --unix, a Unix-domain client is served (PROTO=UNIX, its pid), TCP beside it too, a
    second server on the same path is refused, and the path is removed at exit.
Every wait for the server is bounded (10 s); no check depends on how fast it is.
"""
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import List, Tuple

from common import fail, read_until_close, server, stop

BOUND = 10.0  # seconds: every wait for the server below is bounded by this


def children(pid: int) -> List[Tuple[int, str]]:
    """The server's child processes: (pid, state letter from /proc/PID/stat)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append((int(d), fields[0]))
    return out


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_for(what: str, check, bound: float = BOUND) -> None:
    deadline = time.monotonic() + bound
    while not check():
        if time.monotonic() > deadline:
            fail(f"not within {bound} s: {what}")
        time.sleep(0.02)


def settled_descriptors(pid: int) -> int:
    """The server's descriptor count once it stops changing (connections closing)."""
    last = descriptors(pid)
    for _ in range(50):
        time.sleep(0.05)
        now = descriptors(pid)
        if now == last:
            return now
        last = now
    return last


def reset(s: socket.socket) -> None:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def exchange(port: int, data: bytes) -> bytes:
    """Sends `data`, ends the sending side, and reads the answer to the end."""
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return read_until_close(s)


def log_says(log: str, needle: str) -> bool:
    with open(log) as f:
        return needle in f.read()


def no_children_left(pid: int, what: str) -> None:
    wait_for(f"{what}: the server's children to be gone (now {children(pid)})",
             lambda: not children(pid))


def check_command_line(exe: str) -> None:
    for args, needle in [([], "no command"), (["--port", "abc", "--", "cat"], "--port"),
                         (["--grace"], "needs a value"), (["--nope", "--", "cat"], "unknown option"),
                         (["--", "/no/such/program"], "no such program"),
                         (["--unix", "x" * 200, "--", "cat"], "--unix")]:
        r = subprocess.run([exe, *args], capture_output=True, text=True, timeout=BOUND)
        if r.returncode != 2 or needle not in r.stderr:
            fail(f"weft-exec {args}: exit {r.returncode}, {r.stderr!r}")
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=BOUND)
    if r.returncode != 0 or "usage:" not in r.stdout or "--grace" not in r.stdout:
        fail(f"--help: {r.returncode} {r.stdout!r}")


def check_tr(exe: str) -> None:
    with server([exe, "--port", "0", "--", "tr", "a-z", "A-Z"]) as (proc, port):
        got = exchange(port, b"hello, weft\n")
        if got != b"HELLO, WEFT\n":
            fail(f"tr: {got!r}")
        if shutil.which("nc"):
            r = subprocess.run(["nc", "-N", "127.0.0.1", str(port)], input=b"from nc\n",
                               capture_output=True, timeout=BOUND)
            if r.stdout != b"FROM NC\n":
                fail(f"tr with nc -N: {r.returncode} {r.stdout!r} {r.stderr!r}")
        # Several clients at once, a megabyte each, each its own child.
        results = {}

        def one(i: int) -> None:
            data = (f"client {i} ".encode() + os.urandom(16).hex().encode()) * 30000
            results[i] = (exchange(port, data), data.upper())

        threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        if len(results) != 6 or any(got != want for got, want in results.values()):
            fail("tr: concurrent clients did not all get their own text upper-cased")
        code, _ = stop(proc)
        if code != 0:
            fail(f"tr server exited {code}")


def check_exit_status_and_environment(exe: str, log: str) -> None:
    with open(log, "w") as err, server([exe, "--port", "0", "--verbose", "--", "sh", "-c",
                                        "echo hi; exit 3"], stderr=err) as (proc, port):
        with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
            got = read_until_close(s)  # no input: the child's output alone ends the connection
        if got != b"hi\n":
            fail(f"echo hi; exit 3: {got!r}")
        # The client may see the end of the output before the server has reaped the child.
        wait_for("the exit status logged", lambda: log_says(log, "exited with status 3"))
        code, _ = stop(proc)
        if code != 0:
            fail(f"exited {code}")

    script = 'echo "$PROTO $TCPREMOTEIP $TCPREMOTEPORT"; ls -l /proc/$$/fd'
    with server([exe, "--port", "0", "--", "sh", "-c", script]) as (proc, port):
        with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
            mine = s.getsockname()
            lines = read_until_close(s).decode().splitlines()
        if not lines or lines[0] != f"TCP 127.0.0.1 {mine[1]}":
            fail(f"environment: {lines[:1]!r}, client at {mine}")
        if any("socket:" in line for line in lines[1:]):
            fail(f"the child holds a socket: {lines[1:]!r}")
        stop(proc)


def check_children_that_stop_early(exe: str) -> None:
    # A child that closes its input at once: what the client sends is dropped, and its output
    # still arrives whole.
    with server([exe, "--port", "0", "--", "sh", "-c", "exec 0<&-; sleep 0.3; echo done"]) \
            as (proc, port):
        got = exchange(port, os.urandom(1 << 20))
        if got != b"done\n":
            fail(f"a child that does not read: {got!r}")
        stop(proc)
    # A child that writes much and ends while its client reads slowly, pausing longer than the
    # grace period: all of its output still arrives.
    size = 8 * 1024 * 1024
    with server([exe, "--port", "0", "--grace", "100", "--", "head", "-c", str(size),
                 "/dev/zero"]) as (proc, port):
        with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
            got = 0
            while True:
                time.sleep(0.25)
                chunk, before = b"", got
                while got - before < (1 << 20):
                    chunk = s.recv(1 << 16)
                    if not chunk:
                        break
                    got += len(chunk)
                if not chunk:
                    break
        if got != size:
            fail(f"a slow reader got {got} bytes of {size}")
        stop(proc)
    # A child that leaves a process behind holding its output: the connection ends within the
    # grace period after the child, not when that process ends.
    with server([exe, "--port", "0", "--grace", "300", "--", "sh", "-c",
                 "echo hi; sleep 5 & exit 0"]) as (proc, port):
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
            got = read_until_close(s)
        if got != b"hi\n" or time.monotonic() - started > 4:
            fail(f"a child that left a process behind: {got!r} after "
                 f"{time.monotonic() - started:.1f} s")
        stop(proc)


def check_cat_whole(exe: str) -> None:
    data = os.urandom(20 * 1024 * 1024)
    with server([exe, "--port", "0", "--", "cat"]) as (proc, port):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            def send() -> None:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)

            t = threading.Thread(target=send)
            t.start()
            got = hashlib.sha256()
            n = 0
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                got.update(chunk)
                n += len(chunk)
            t.join()
        if n != len(data) or got.hexdigest() != hashlib.sha256(data).hexdigest():
            fail(f"cat: {n} bytes back of {len(data)}, or not the same")
        stop(proc)


def going_client(exe: str, log: str, command: List[str], leave, expect_status: str) -> None:
    """A server running `command`; a first connection settles the baseline of descriptors;
    then a client connects, waits for its child, and leaves as `leave(socket)` says. The child
    must be gone (not a zombie either) and the descriptors back within the bound, the status
    logged, and the server must serve the next client."""
    with open(log, "w") as err, server([exe, "--port", "0", "--grace", "500", "--verbose", "--",
                                        *command], stderr=err) as (proc, port):
        baseline = settled_descriptors(proc.pid)
        s = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
        wait_for(f"{command}: a child", lambda: children(proc.pid))
        leave(s)
        no_children_left(proc.pid, f"{command}")
        wait_for(f"{command}: {expect_status!r} logged", lambda: log_says(log, expect_status))
        if any(state == "Z" for _, state in children(proc.pid)):
            fail(f"{command}: a zombie")
        wait_for(f"{command}: descriptors back to {baseline} (now {descriptors(proc.pid)})",
                 lambda: descriptors(proc.pid) <= baseline)
        # The server goes on: the next client gets a child of its own.
        s = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
        wait_for(f"{command}: a child for the next client", lambda: children(proc.pid))
        reset(s)
        no_children_left(proc.pid, f"{command}, the next client")
        code, _ = stop(proc)
        if code != 0:
            fail(f"{command}: exited {code}")


def check_going_clients(exe: str, log: str) -> None:
    # A reset while the child neither reads nor writes: SIGTERM ends it (128 + 15).
    going_client(exe, log, ["sleep", "60"], reset, "ended, status 143")
    # The same after the client's FIN: its reset is still noticed (a half-closed client).
    def fin_then_reset(s: socket.socket) -> None:
        s.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
        reset(s)
    going_client(exe, log, ["sh", "-c", "exec 0<&-; sleep 60"], fin_then_reset,
                 "ended, status 143")
    # A child that ignores SIGTERM: SIGKILL after the grace period (128 + 9).
    going_client(exe, log, ["sh", "-c", "trap '' TERM; exec sleep 60"], reset,
                 "ended, status 137")
    # A plain close while the child writes: the server's sends fail, the child is ended.
    def read_then_close(s: socket.socket) -> None:
        s.recv(4096)
        s.close()
    going_client(exe, log, ["yes"], read_then_close, "client gone")
    # A plain close while cat runs: cat's input ends, and it exits by itself.
    def echo_then_close(s: socket.socket) -> None:
        s.sendall(b"ping\n")
        if s.recv(16) != b"ping\n":
            fail("cat did not echo")
        s.close()
    going_client(exe, log, ["cat"], echo_then_close, "exited with status 0")

    # SIGTERM to the server while a child runs: the child is ended, the server exits 0.
    with server([exe, "--port", "0", "--grace", "500", "--", "sleep", "60"]) as (proc, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
        wait_for("a child before SIGTERM", lambda: children(proc.pid))
        child = children(proc.pid)[0][0]
        code, out = stop(proc)
        s.close()
        if code != 0 or "stopped" not in out:
            fail(f"SIGTERM with a child running: exit {code}, {out!r}")
        if os.path.exists(f"/proc/{child}"):
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if f.read().startswith(b"sleep"):
                    fail("the child outlived the server")


def ended(pid: int) -> bool:
    """No such process, or one that has ended and waits to be reaped (an orphan left to init)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2:].split()[0] == "Z"


def background_pid(s: socket.socket) -> int:
    """The first line the child sends: the pid of the job it started in the background."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            fail(f"no pid line from the child (got {line!r})")
        line += chunk
    return int(line)


def check_groups(exe: str) -> None:
    """--group: a child's background job ends with the connection, whether the client goes
    (the group gets SIGTERM) or the child ends by itself (what it left is killed); without
    --group the job outlives a client that went."""
    waits = ["sh", "-c", "sleep 60 & echo $!; wait"]
    with server([exe, "--port", "0", "--grace", "500", "--group", "--", *waits]) as (proc, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
        job = background_pid(s)
        reset(s)
        no_children_left(proc.pid, "--group, a client that reset")
        wait_for(f"--group: the background job {job} to end with its group", lambda: ended(job))
        code, _ = stop(proc)
        if code != 0:
            fail(f"--group: exited {code}")
    # The child ends by itself, leaving its job holding its output: the connection ends
    # within the grace period, and the job with it.
    leaves = ["sh", "-c", "sleep 60 & echo $!; exit 0"]
    with server([exe, "--port", "0", "--grace", "300", "--group", "--", *leaves]) as (proc, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
        job = background_pid(s)
        read_until_close(s)
        s.close()
        wait_for(f"--group: the job {job} the child left to end with the connection",
                 lambda: ended(job))
        stop(proc)
    # Without --group, SIGTERM reaches the shell alone: its job runs on (ended here).
    with server([exe, "--port", "0", "--grace", "500", "--", *waits]) as (proc, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
        job = background_pid(s)
        reset(s)
        no_children_left(proc.pid, "without --group, a client that reset")
        outlived = not ended(job)
        os.kill(job, signal.SIGKILL)
        if not outlived:
            fail("without --group the background job ended with the shell")
        stop(proc)


def check_unix(exe: str, tmp: str) -> None:
    path = os.path.join(tmp, "exec.sock")
    script = 'echo "$PROTO $UNIXREMOTEPID"; tr a-z A-Z'
    with server([exe, "--port", "0", "--unix", path, "--", "sh", "-c", script]) as (proc, port):
        if not os.path.exists(path):
            fail(f"no socket at {path}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(BOUND)
            s.connect(path)
            s.sendall(b"over unix\n")
            s.shutdown(socket.SHUT_WR)
            got = read_until_close(s)
        if got != f"UNIX {os.getpid()}\nOVER UNIX\n".encode():
            fail(f"unix: {got!r}")
        with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
            s.sendall(b"and tcp\n")
            s.shutdown(socket.SHUT_WR)
            got = read_until_close(s)
        if not got.startswith(b"TCP ") or not got.endswith(b"AND TCP\n"):
            fail(f"tcp beside unix: {got!r}")
        # A second server on the same path is refused while the first answers there.
        r = subprocess.run([exe, "--unix", path, "--", "cat"], capture_output=True, text=True,
                           timeout=BOUND)
        if r.returncode != 1 or "cannot listen on " + path not in r.stderr:
            fail(f"a second server on {path}: exit {r.returncode}, {r.stderr!r}")
        code, _ = stop(proc)
        if code != 0:
            fail(f"unix server exited {code}")
    if os.path.exists(path):
        fail(f"{path} left behind")


def main() -> int:
    exe = sys.argv[1]
    check_command_line(exe)
    check_tr(exe)
    tmp = tempfile.mkdtemp(prefix="weft-exec-")
    try:
        log = os.path.join(tmp, "stderr")
        check_exit_status_and_environment(exe, log)
        check_cat_whole(exe)
        check_children_that_stop_early(exe)
        check_going_clients(exe, log)
        check_groups(exe)
        check_unix(exe, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("exec: command line, tr (Python, nc, 6 at once), exit status, environment, 20 MB "
          "through cat, clients that reset or close (sleep, a child ignoring SIGTERM, yes, cat: "
          "no child left, no zombie, descriptors back), SIGTERM, --group (a background job ends "
          "with its connection), Unix socket: all as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
