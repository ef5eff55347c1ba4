#!/usr/bin/env python3
"""Drives the example servers' operator's view (examples/operations.hpp): --debug-port, the
debug listener's /debug/fibers, /debug/fibers.json and /metrics, and the fiber dump on SIGQUIT.

usage: operations_client.py http PATH-TO-weft-http
       operations_client.py smoke PATH-TO-SERVER [ARGUMENT...]

http: weft-http on 2 threads with --port 0 and --debug-port 0. Checks: the debug port is told
on standard error; /debug/fibers lists, for each runtime, a fiber blocked in accept on the
HTTP port; with one idle keep-alive connection open, a fiber blocked in recv on it (its
"waits on" names the client's port); /debug/fibers.json is JSON; /metrics parses with
prometheus_client (Debian's, under /usr/bin/python3) and has weft_fibers_alive and
weft_blocking_calls_total; SIGQUIT prints a dump on standard error and the server goes on
answering, also after a burst of 50 SIGQUITs; SIGTERM drains it (the idle connection ends) and it exits 0.

smoke: any other example server, started with the ARGUMENTs given (which include
--debug-port 0 and a port 0). Checks: the debug port is told; /debug/fibers lists a fiber
blocked in accept on the server's port; SIGQUIT (once, then a burst of 50) prints a dump and
the debug listener still answers after it; SIGTERM ends the server with exit 0.

Exits 77 (meson's "skipped") when curl, or prometheus_client under /usr/bin/python3, is
missing. Nothing is timed: every wait is for a condition, with a generous upper bound.
"""
import json
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, List, Optional

from common import curl, fail, read_until_close, server

WAIT = 30.0  # the longest any condition is waited for, in seconds

SYSTEM_PYTHON = "/usr/bin/python3"
PARSE_METRICS = """
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(sys.stdin.read()))
print(json.dumps({"families": [f.name for f in families],
                  "samples": sorted({s.name for f in families for s in f.samples})}))
"""

_DEBUG_LINE = re.compile(r"debug listener on 127\.0\.0\.1:(\d+)$")
_FIBER = re.compile(r"^fiber (\d+) (.*) \[(\w+)(?:, (.+), (-?\d+) ms)?\]:$")


class Stderr:
    """Reads the server's standard error on a thread of its own (so that it never fills up)
    and keeps every line, echoed to this process's standard error for the test log."""

    def __init__(self, stream) -> None:
        self.lines: List[str] = []
        self.changed = threading.Condition()
        self.ended = False
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            sys.stderr.write("server: " + line)
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, what: str, pred: Callable[[str], bool], start: int = 0) -> str:
        """The first line from index `start` on that satisfies pred; fails after WAIT s."""
        deadline = time.monotonic() + WAIT
        with self.changed:
            while True:
                for line in self.lines[start:]:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if self.ended or left <= 0:
                    fail(f"standard error: no {what} within {WAIT} s")
                self.changed.wait(left)

    def mark(self) -> int:
        with self.changed:
            return len(self.lines)


class Fiber:
    def __init__(self, header: re.Match) -> None:
        self.id = int(header.group(1))
        self.name = header.group(2)
        self.state = header.group(3)
        self.call = header.group(4) or ""
        self.waits_on = ""


def parse_dump(text: str) -> dict:
    """A text fiber dump as {runtime header: [Fiber, ...]}."""
    runtimes: dict = {}
    current: Optional[list] = None
    fiber: Optional[Fiber] = None
    for line in text.splitlines():
        if line.startswith("runtime "):
            current = runtimes.setdefault(line, [])
            fiber = None
        elif (m := _FIBER.match(line)) and current is not None:
            fiber = Fiber(m)
            current.append(fiber)
        elif line.startswith("    waits on: ") and fiber is not None:
            fiber.waits_on = line[len("    waits on: "):]
    return runtimes


def get(url: str) -> str:
    r = curl("-f", url)
    if r.returncode != 0:
        fail(f"GET {url}: curl exited {r.returncode}: {r.stderr!r}")
    return r.stdout


def wait_for_dump(debug_url: str, what: str, pred: Callable[[dict], bool]) -> dict:
    """Fetches /debug/fibers until pred holds for the parsed dump; fails after WAIT s."""
    deadline = time.monotonic() + WAIT
    while True:
        text = get(debug_url + "/debug/fibers")
        dump = parse_dump(text)
        if pred(dump):
            return dump
        if time.monotonic() > deadline:
            fail(f"/debug/fibers: no {what} within {WAIT} s; the last dump:\n{text}")
        time.sleep(0.05)


def blocked_in(dump: dict, call: str, waits_on: str) -> List[Fiber]:
    """The fibers blocked in `call` whose "waits on" matches the regular expression."""
    return [f for fibers in dump.values() for f in fibers
            if f.state == "blocked" and f.call == call and re.search(waits_on, f.waits_on)]


def listening_on(port: int) -> str:
    return rf"\btcp listening 127\.0\.0\.1:{port}$"


def debug_port(err: Stderr) -> int:
    line = err.wait_for("\"debug listener on\" line", lambda l: bool(_DEBUG_LINE.search(l)))
    return int(_DEBUG_LINE.search(line).group(1))


def sigquit_dump(proc: subprocess.Popen, err: Stderr) -> None:
    """SIGQUIT: a dump (a "runtime N: ..." line) on standard error, and the server lives on,
    also through a burst of SIGQUITs sent back to back (a gap in the server's watch of the
    signal would let one take its default action: the end of the process, with a core)."""
    mark = err.mark()
    proc.send_signal(signal.SIGQUIT)
    err.wait_for("fiber dump after SIGQUIT", lambda l: l.startswith("runtime "), mark)
    if proc.poll() is not None:
        fail(f"the server exited {proc.returncode} after SIGQUIT")
    for _ in range(50):
        proc.send_signal(signal.SIGQUIT)
    mark = err.mark()
    proc.send_signal(signal.SIGQUIT)
    err.wait_for("fiber dump after a burst of SIGQUIT", lambda l: l.startswith("runtime "), mark)
    if proc.poll() is not None:
        fail(f"the server exited {proc.returncode} during a burst of SIGQUIT")


def terminate(proc: subprocess.Popen, err: Stderr) -> str:
    """SIGTERM, as the other drivers end their servers: exit 0; returns the rest of stdout."""
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        fail(f"no exit within {WAIT} s of SIGTERM")
    out = proc.stdout.read()
    err.thread.join(WAIT)
    if rc != 0:
        fail(f"the server exited {rc} on SIGTERM")
    return out


def check_metrics(text: str) -> int:
    r = subprocess.run([SYSTEM_PYTHON, "-c", PARSE_METRICS], input=text, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        fail(f"prometheus_client did not parse /metrics: {r.stderr}\n{text}")
    parsed = json.loads(r.stdout)
    names = set(parsed["families"]) | set(parsed["samples"])
    for metric in ("weft_fibers_alive", "weft_blocking_calls_total"):
        if metric not in names:
            fail(f"/metrics has no {metric}: {sorted(names)}")
    return len(parsed["families"])


def read_response(s: socket.socket) -> bytes:
    """One response to GET / (its head, then Content-Length bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            fail(f"the connection ended before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"\r\nContent-Length: (\d+)", head)
    if not head.startswith(b"HTTP/1.1 200 OK") or not m:
        fail(f"GET / on the kept-alive connection: {data!r}")
    while len(body) < int(m.group(1)):
        chunk = s.recv(65536)
        if not chunk:
            fail("the connection ended mid-body")
        body += chunk
    return body


def http(program: str) -> int:
    argv = [program, "--port", "0", "--threads", "2", "--idle-timeout", "600000",
            "--debug-port", "0"]
    with server(argv, stderr=subprocess.PIPE) as (proc, port):
        err = Stderr(proc.stderr)
        debug_url = f"http://127.0.0.1:{debug_port(err)}"

        # Every runtime's listener, each with a fiber blocked in accept on the HTTP port.
        dump = wait_for_dump(debug_url, "fiber blocked in accept on each of 2 runtimes",
                             lambda d: len(d) == 2 and all(
                                 blocked_in({header: fibers}, "accept", listening_on(port))
                                 for header, fibers in d.items()))
        accepting = blocked_in(dump, "accept", listening_on(port))
        if len(accepting) < 2:
            fail(f"expected a fiber blocked in accept on port {port} per runtime (2), "
                 f"got {len(accepting)}")

        # One idle keep-alive connection: its fiber waits in recv for the next request.
        idle = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        if read_response(idle) != b"Hello from weft\n":
            fail("GET / on the kept-alive connection: wrong body")
        client_port = idle.getsockname()[1]
        dump = wait_for_dump(debug_url, f"fiber blocked in recv from 127.0.0.1:{client_port}",
                             lambda d: bool(blocked_in(
                                 d, "recv", rf"<- 127\.0\.0\.1:{client_port}\b")))

        fibers_json = json.loads(get(debug_url + "/debug/fibers.json"))
        if len(fibers_json.get("runtimes", [])) < 2:
            fail(f"/debug/fibers.json: expected 2 runtimes: {fibers_json!r}")

        families = check_metrics(get(debug_url + "/metrics"))

        sigquit_dump(proc, err)
        r = curl("-i", f"http://127.0.0.1:{port}/")
        if r.returncode != 0 or not r.stdout.startswith("HTTP/1.1 200 OK"):
            fail(f"GET / after SIGQUIT: {r.returncode} {r.stdout!r} {r.stderr!r}")

        out = terminate(proc, err)
        if read_until_close(idle):  # the drain closes the idle connection
            fail("the drained keep-alive connection got more bytes")
        idle.close()
        if "stopped" not in out:
            fail(f"no \"stopped\" on standard output: {out!r}")
    print(f"operations (weft-http): debug listener, accept on {len(accepting)} runtimes, "
          f"recv on a kept-alive connection, fibers.json, /metrics ({families} families, "
          f"parsed by prometheus_client), dump on SIGQUIT, exit 0 on SIGTERM: all as expected")
    return 0


def smoke(argv: List[str]) -> int:
    name = argv[0].rsplit("/", 1)[-1]
    with server(argv, stderr=subprocess.PIPE) as (proc, port):
        err = Stderr(proc.stderr)
        debug_url = f"http://127.0.0.1:{debug_port(err)}"
        wait_for_dump(debug_url, f"fiber blocked in accept on port {port}",
                      lambda d: bool(blocked_in(d, "accept", listening_on(port))))
        sigquit_dump(proc, err)
        sigquit_dump(proc, err)  # and again: the wait for SIGQUIT is back after each
        wait_for_dump(debug_url, f"fiber blocked in accept on port {port} after SIGQUIT",
                      lambda d: bool(blocked_in(d, "accept", listening_on(port))))
        terminate(proc, err)
    print(f"operations ({name}): debug listener, accept in /debug/fibers, dump on SIGQUIT, "
          f"exit 0 on SIGTERM: all as expected")
    return 0


def main() -> int:
    if len(sys.argv) < 3 or sys.argv[1] not in ("http", "smoke"):
        fail(f"usage: {sys.argv[0]} http|smoke PROGRAM [ARGUMENT...]")
    if shutil.which("curl") is None:
        print("curl is not installed: skipped")
        return 77
    if sys.argv[1] == "http":
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import prometheus_client.parser"],
                               capture_output=True, timeout=60)
        if probe.returncode != 0:
            print(f"prometheus_client is not installed for {SYSTEM_PYTHON} "
                  "(Debian: python3-prometheus-client): skipped")
            return 77
        return http(sys.argv[2])
    return smoke(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
