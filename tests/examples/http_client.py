#!/usr/bin/env python3
"""Drives weft-http with real clients that are not weft: curl, wrk and plain Python sockets.

usage: http_client.py PATH-TO-weft-http

Checks: GET and HEAD of / (200), 404, 405, HTTP/1.0, keep-alive (curl reuses one
connection for two URLs), pipelining, an oversized head (431), a request that stalls past
its deadline (408, then the connection closes), an idle connection closed after the idle
timeout, a short wrk run on 2 threads with no error and no non-2xx answer, and a drain on
SIGTERM: an idle keep-alive connection is closed and the server exits 0.
Exits 77 (meson's "skipped") when curl or wrk is not installed; ./scripts/test installs both.
"""
import re
import shutil
import signal
import socket
import subprocess
import sys

from common import curl, fail, read_until_close

REQUEST_TIMEOUT_MS = 300
IDLE_TIMEOUT_MS = 600


def main() -> int:
    for tool in ("curl", "wrk"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: skipped")
            return 77
    server = subprocess.Popen(
        [sys.argv[1], "--port", "0", "--threads", "2",
         "--request-timeout", str(REQUEST_TIMEOUT_MS), "--idle-timeout", str(IDLE_TIMEOUT_MS)],
        stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        m = re.search(r"listening on (http://[^ ]+:(\d+)/)", line)
        if not m:
            fail(f"unexpected first line: {line!r}")
        url, port = m.group(1), int(m.group(2))

        r = curl("-i", url)
        if r.returncode != 0 or not r.stdout.startswith("HTTP/1.1 200 OK"):
            fail(f"GET /: {r.returncode} {r.stdout!r} {r.stderr!r}")
        if not r.stdout.endswith("\r\n\r\nHello from weft\n"):
            fail(f"GET / body: {r.stdout!r}")
        r = curl("-I", url)
        if "HTTP/1.1 200 OK" not in r.stdout or "Content-Length: 16" not in r.stdout:
            fail(f"HEAD /: {r.stdout!r}")
        r = curl("-o", "/dev/null", "-w", "%{http_code}", url + "missing")
        if r.stdout != "404":
            fail(f"GET /missing: {r.stdout!r}")
        r = curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "x=1", url)
        if r.stdout != "405":
            fail(f"POST /: {r.stdout!r}")
        r = curl("--http1.0", "-i", url)
        if "Connection: close" not in r.stdout or not r.stdout.endswith("Hello from weft\n"):
            fail(f"HTTP/1.0: {r.stdout!r}")
        # Keep-alive: curl fetches both URLs over one connection.
        r = curl("-v", "-o", "/dev/null", "-o", "/dev/null", url, url)
        if r.returncode != 0 or "Re-using existing connection" not in r.stderr:
            fail(f"keep-alive: {r.stderr!r}")

        # Pipelining: two requests in one write, two answers in order.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_close(s).decode()
            if not (data.startswith("HTTP/1.1 200 OK") and "HTTP/1.1 404 Not Found" in data):
                fail(f"pipelining: {data!r}")
        # A GET, then a HEAD in the same write: each answered as itself (the first request's
        # method and path are read before the second one's bytes move in the buffer).
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_close(s).decode()
            if data.count("HTTP/1.1 200 OK") != 2 or data.count("Hello from weft") != 1:
                fail(f"pipelined GET and HEAD: {data!r}")
        # A head larger than 16 KiB.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            data = read_until_close(s).decode()
            if not data.startswith("HTTP/1.1 431"):
                fail(f"oversized head: {data[:80]!r}")
        # A request that stalls: answered 408 once its deadline passes, then closed.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            data = read_until_close(s).decode()
            if not data.startswith("HTTP/1.1 408 Request Timeout"):
                fail(f"stalled request: {data!r}")
        # An idle keep-alive connection is closed after the idle timeout, without an answer.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = read_until_close(s).decode()
            if not data.startswith("HTTP/1.1 200 OK") or data.count("HTTP/1.1") != 1:
                fail(f"idle close: {data!r}")

        # wrk: 2 threads, 50 connections, 2 seconds.
        w = subprocess.run(["wrk", "-t", "2", "-c", "50", "-d", "2s", url],
                           capture_output=True, text=True, timeout=60)
        if w.returncode != 0:
            fail(f"wrk exited {w.returncode}: {w.stderr}")
        requests = re.search(r"(\d+) requests in", w.stdout)
        if not requests or int(requests.group(1)) == 0:
            fail(f"wrk made no request: {w.stdout}")
        if "Non-2xx" in w.stdout or "Socket errors" in w.stdout:
            fail(f"wrk saw errors: {w.stdout}")
        rate = re.search(r"Requests/sec:\s+([\d.]+)", w.stdout)

        server.send_signal(signal.SIGTERM)
        if server.wait(timeout=10) != 0:
            fail("weft-http did not exit 0 on SIGTERM")

        # Drain, on a server whose idle timeout is long: an idle keep-alive connection is
        # closed at once by the drain, not by its timeout, and the server exits 0.
        server = subprocess.Popen([sys.argv[1], "--port", "0", "--idle-timeout", "60000"],
                                  stdout=subprocess.PIPE, text=True)
        m = re.search(r"listening on http://[^ ]+:(\d+)/", server.stdout.readline())
        if not m:
            fail("second server did not start")
        idle = socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=10)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = idle.recv(65536)
        if not first.startswith(b"HTTP/1.1 200 OK"):
            fail(f"before drain: {first!r}")
        server.send_signal(signal.SIGTERM)
        rest = read_until_close(idle)  # a timeout here (10 s) means the drain missed it
        idle.close()
        if rest:
            fail(f"drained connection got more bytes: {rest!r}")
        rc = server.wait(timeout=10)
        if rc != 0:
            fail(f"weft-http exited {rc}")
        out = server.stdout.read()
        if "draining" not in out or "stopped" not in out:
            fail(f"no drain reported: {out!r}")
        print(f"http: curl (GET, HEAD, 404, 405, HTTP/1.0, keep-alive), pipelining, 431, 408, "
              f"idle close, wrk {requests.group(1)} requests ({rate.group(1) if rate else '?'}/s), "
              f"drain on SIGTERM: all as expected")
        return 0
    finally:
        if server.poll() is None:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
