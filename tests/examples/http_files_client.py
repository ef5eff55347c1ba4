#!/usr/bin/env python3
"""Drives `weft-http --root DIR` with real clients that are not weft: curl and Python sockets.

usage: http_files_client.py PATH-TO-weft-http

A root directory is made at run time in a temporary directory: a 100 MB file of random bytes,
a small text file, a subdirectory with an index.html, one without, a symbolic link inside the
root and one to a file outside it. Checks:
  * curl downloads the 100 MB file and its sha256 matches; HEAD gives its length and no body;
  * Content-Type from the extension, Last-Modified, and If-Modified-Since gives 304;
  * a byte range gives 206 with those bytes; a range past the end gives 416;
  * pipelined requests are each answered as themselves (a GET, a HEAD, a 404);
  * a missing file is 404; "..", raw or percent-encoded, and a link to a file outside the
    root are refused (403), and the outside file's bytes never appear; a link inside is served;
  * a directory without its final '/' is redirected (301); with it, its index.html, or a
    listing of its entries;
  * a client that asks for the 100 MB file, reads a little and closes, or resets, ends the
    transfer: the server's open descriptors (from /proc/PID/fd) come back to what they were,
    and the server serves the next request;
  * a client that never reads the file it asked for is reset once a piece has not left for
    the idle timeout, and the file closes;
  * over HTTPS (a self-signed certificate made with openssl), curl downloads the 100 MB file
    whole, and a client that goes away mid-file leaves no descriptor behind;
  * bad --root values exit 2 with a message; --help exits 0; SIGTERM exits 0.
Exits 77 (meson's "skipped") when curl or openssl is not installed.
"""
import hashlib
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

from common import curl, fail, read_until_close, server, stop

BIG = 100 * 1000 * 1000
BOUND = 10.0  # seconds: every wait for the server below is bounded by this


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return h.hexdigest()
            h.update(chunk)


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


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


def wait_for_descriptors(pid: int, baseline: int, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while descriptors(pid) > baseline:
        if time.monotonic() > deadline:
            listing = sorted(os.readlink(f"/proc/{pid}/fd/{fd}")
                             for fd in os.listdir(f"/proc/{pid}/fd"))
            fail(f"{what}: descriptors not back to {baseline} within {BOUND} s: {listing}")
        time.sleep(0.02)


def raw_get(port: int, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(s)


def status_of(url: str, *args: str) -> str:
    r = curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", *args, url)
    return r.stdout


def abandon(port: int, how: str, tls_context=None) -> None:
    """Asks for the big file, reads a little of it, then closes or resets the connection."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
    s = tls_context.wrap_socket(raw, server_hostname="localhost") if tls_context else raw
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = 0
    while got < 200_000:
        chunk = s.recv(65536)
        if not chunk:
            fail(f"{how}: the download ended after {got} bytes")
        got += len(chunk)
    if how == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def make_root(tmp: str) -> str:
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "sub"))
    os.makedirs(os.path.join(root, "plain dir"))
    with open(os.path.join(root, "big.bin"), "wb") as f:
        for _ in range(BIG // (1 << 20)):
            f.write(os.urandom(1 << 20))
        f.write(os.urandom(BIG % (1 << 20)))
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello, files\n")
    with open(os.path.join(root, "sub", "index.html"), "w") as f:
        f.write("<p>sub</p>\n")
    with open(os.path.join(root, "plain dir", "a&b.txt"), "w") as f:
        f.write("a and b\n")
    with open(os.path.join(tmp, "secret.txt"), "w") as f:
        f.write("SECRET-OUTSIDE-THE-ROOT\n")
    os.symlink("../secret.txt", os.path.join(root, "outside"))
    os.symlink("hello.txt", os.path.join(root, "inside.txt"))
    return root


def check_plain(exe: str, root: str, tmp: str) -> None:
    big_sum = sha256_of(os.path.join(root, "big.bin"))
    with server([exe, "--port", "0", "--threads", "2", "--idle-timeout", "1000", "--root", root]) \
            as (proc, port):
        url = f"http://127.0.0.1:{port}"
        # The 100 MB file, whole.
        out = os.path.join(tmp, "download")
        r = curl("-f", "-o", out, f"{url}/big.bin")
        if r.returncode != 0:
            fail(f"GET /big.bin: curl exited {r.returncode}: {r.stderr}")
        if os.path.getsize(out) != BIG or sha256_of(out) != big_sum:
            fail(f"GET /big.bin: {os.path.getsize(out)} bytes, sha256 differs or size wrong")
        os.unlink(out)
        r = curl("-I", f"{url}/big.bin")
        if "HTTP/1.1 200 OK" not in r.stdout or f"Content-Length: {BIG}\r\n" not in r.stdout:
            fail(f"HEAD /big.bin: {r.stdout!r}")
        with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
            s.sendall(b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = read_until_close(s)
            if not head.endswith(b"\r\n\r\n") or head.count(b"\r\n\r\n") != 1:
                fail(f"HEAD sent a body: {head[:300]!r}")

        # A small file: type, date, conditional GET.
        r = curl("-i", f"{url}/hello.txt")
        if not r.stdout.startswith("HTTP/1.1 200 OK") or not r.stdout.endswith("hello, files\n"):
            fail(f"GET /hello.txt: {r.stdout!r}")
        if "Content-Type: text/plain" not in r.stdout or "Last-Modified: " not in r.stdout:
            fail(f"GET /hello.txt head: {r.stdout!r}")
        modified = r.stdout.split("Last-Modified: ")[1].split("\r\n")[0]
        if status_of(f"{url}/hello.txt", "-H", f"If-Modified-Since: {modified}") != "304":
            fail("If-Modified-Since the file's own date: not 304")
        if status_of(f"{url}/hello.txt", "-H", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT") \
                != "200":
            fail("If-Modified-Since an old date: not 200")

        # Pipelined requests, each answered as itself: a GET, a HEAD, then a 404.
        with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
            s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_close(s)
        if data.count(b"HTTP/1.1 200 OK") != 2 or data.count(b"hello, files\n") != 1 or \
                b"HTTP/1.1 404 Not Found" not in data:
            fail(f"pipelined GET, HEAD, GET: {data!r}")

        # Ranges.
        r = subprocess.run(["curl", "-sS", "-r", "1000000-1000999", "-D", "-", f"{url}/big.bin"],
                           capture_output=True, timeout=30)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        with open(os.path.join(root, "big.bin"), "rb") as f:
            f.seek(1000000)
            want = f.read(1000)
        if b" 206 " not in head.split(b"\r\n")[0] or body != want or \
                f"Content-Range: bytes 1000000-1000999/{BIG}".encode() not in head:
            fail(f"range: {head!r}, {len(body)} bytes")
        if status_of(f"{url}/hello.txt", "-r", "500-600") != "416":
            fail("a range past the end: not 416")

        # Missing, escaping, links.
        if status_of(f"{url}/no-such-file") != "404":
            fail("a missing file: not 404")
        for target in ["/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt",
                       "/sub/%2E%2E/%2e%2e/secret.txt", "/outside"]:
            answer = raw_get(port, target)
            first = answer.split(b"\r\n")[0]
            if first not in (b"HTTP/1.1 403 Forbidden", b"HTTP/1.1 404 Not Found") or \
                    b"SECRET" in answer:
                fail(f"GET {target}: {answer[:200]!r}")
        if status_of(f"{url}/outside") != "403":
            fail("a link to a file outside the root: not 403")
        r = curl(f"{url}/inside.txt")
        if r.stdout != "hello, files\n":
            fail(f"a link inside the root: {r.stdout!r}")

        # Directories.
        r = curl("-i", f"{url}/sub")
        if "301 Moved Permanently" not in r.stdout or "Location: /sub/\r\n" not in r.stdout:
            fail(f"/sub: {r.stdout!r}")
        r = curl(f"{url}/sub/")
        if r.stdout != "<p>sub</p>\n":
            fail(f"/sub/: {r.stdout!r}")
        r = curl("-i", f"{url}/plain%20dir/")
        if "200 OK" not in r.stdout or 'href="a%26b.txt"' not in r.stdout or \
                "a&amp;b.txt" not in r.stdout:
            fail(f"listing: {r.stdout!r}")
        r = curl(f"{url}/")
        if 'href="big.bin"' not in r.stdout or 'href="sub/"' not in r.stdout:
            fail(f"listing of /: {r.stdout!r}")

        # Clients that go away mid-file.
        baseline = settled_descriptors(proc.pid)
        for how in ["close", "reset", "close", "reset"]:
            abandon(port, how)
            wait_for_descriptors(proc.pid, baseline, f"a client that did {how} mid-file")
            r = curl(f"{url}/hello.txt")
            if r.stdout != "hello, files\n":
                fail(f"after a client's {how}: {r.stdout!r} {r.stderr!r}")

        # A client that asks for the big file and never reads: once a piece has not left for
        # the idle timeout (1 s here), the connection is reset and the file closed.
        stalled = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
        stalled.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        wait_for_descriptors(proc.pid, baseline, "a client that never reads")
        try:
            while stalled.recv(1 << 20):
                pass
            fail("a client that never read got the whole file and a clean end")
        except ConnectionResetError:
            pass
        stalled.close()

        code, out = stop(proc)
        if code != 0:
            fail(f"weft-http --root exited {code}: {out!r}")


def check_tls(exe: str, root: str, tmp: str) -> None:
    key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"],
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        fail(f"openssl req: {r.stderr!r}")
    big_sum = sha256_of(os.path.join(root, "big.bin"))
    with server([exe, "--port", "0", "--root", root, "--tls-cert", cert, "--tls-key", key]) \
            as (proc, port):
        url = f"https://localhost:{port}"
        out = os.path.join(tmp, "download")
        r = subprocess.run(["curl", "-sS", "-f", "--max-time", "60", "--cacert", cert,
                            "--resolve", f"localhost:{port}:127.0.0.1", "-o", out,
                            f"{url}/big.bin"], capture_output=True, timeout=90)
        if r.returncode != 0:
            fail(f"HTTPS GET /big.bin: curl exited {r.returncode}: {r.stderr!r}")
        if os.path.getsize(out) != BIG or sha256_of(out) != big_sum:
            fail("HTTPS GET /big.bin: not the file")
        os.unlink(out)
        r = subprocess.run(["curl", "-sS", "--cacert", cert, "-r", "7-11", "--resolve",
                            f"localhost:{port}:127.0.0.1", f"{url}/hello.txt"],
                           capture_output=True, timeout=30)
        if r.stdout != b"files":
            fail(f"HTTPS range: {r.stdout!r}")
        ctx = ssl.create_default_context(cafile=cert)
        baseline = settled_descriptors(proc.pid)
        for how in ["close", "reset"]:
            abandon(port, how, ctx)
            wait_for_descriptors(proc.pid, baseline, f"an HTTPS client that did {how} mid-file")
        code, _ = stop(proc)
        if code != 0:
            fail(f"weft-http --root over TLS exited {code}")


def check_command_line(exe: str, root: str) -> None:
    for args, needle in [(["--root", "/no/such/dir"], "/no/such/dir"),
                         (["--root", os.path.join(root, "hello.txt")], "not a directory"),
                         (["--root"], "needs a value"),
                         (["--port", "99999"], "--port")]:
        r = subprocess.run([exe, *args], capture_output=True, text=True, timeout=BOUND)
        if r.returncode != 2 or needle not in r.stderr:
            fail(f"weft-http {args}: exit {r.returncode}, {r.stderr!r}")
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=BOUND)
    if r.returncode != 0 or "--root DIR" not in r.stdout:
        fail(f"--help: {r.returncode} {r.stdout!r}")


def main() -> int:
    for tool in ("curl", "openssl"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: skipped")
            return 77
    exe = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="weft-http-files-")
    try:
        root = make_root(tmp)
        check_command_line(exe, root)
        check_plain(exe, root, tmp)
        check_tls(exe, root, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("http files: 100 MB by curl (sha256), HEAD, types, If-Modified-Since, ranges, 404, "
          "'..' and links outside refused, directories, clients gone mid-file (descriptors "
          "back), HTTPS download and clients gone, command line: all as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
