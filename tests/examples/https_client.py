#!/usr/bin/env python3
"""Drives weft-http over HTTPS with real clients that are not weft: curl, openssl s_client,
wrk and Python's ssl module.

usage: https_client.py PATH-TO-weft-http

A CA, a certificate for localhost and 127.0.0.1 signed by it, and a second CA that signed
nothing are made at run time with `openssl req` and `openssl x509` in a temporary directory
(removed at the end). Checks:
  * bad TLS options exit 2 with one line: a missing certificate or key (the file named, with
    the reason), one option without the other, a key that is not the certificate's;
  * GET / with curl trusting the CA: 200, the body, HTTP/1.1, and ALPN chose http/1.1 (curl
    offers h2 first when it can);
  * keep-alive: curl fetches the URL twice over one TLS connection;
  * a client trusting only the other CA fails verification, the server serves the next
    client, and it logs the failed handshake (WEFT_LOG=info); a client that speaks plain
    HTTP, and one that sends nothing (until the request timeout), lose their connections;
  * openssl s_client verifying the certificate and its name sends a raw GET: 200, ALPN
    http/1.1; a client offering only h2 is refused;
  * over Python's ssl: pipelining, and a request that stalls past its deadline (408); each
    connection ends with the server's close_notify;
  * a short wrk run over HTTPS: requests made, no socket error, no non-2xx answer;
  * SIGTERM: an idle kept-alive connection is closed at once, and the server exits 0.
Exits 77 (meson's "skipped") when curl, wrk or openssl is not installed.
"""
import errno
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
from typing import List

from common import curl, fail, read_until_close, server, stop

REQUEST_TIMEOUT_MS = 2000  # bounds each handshake too: wide, for a loaded machine

CA_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca
[dn]
CN = weft-http test CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""
SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityKeyIdentifier = keyid
"""
NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """Runs openssl; its output is decoded, errors replaced."""
    r = subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=60)
    r.stdout = r.stdout.decode(errors="replace")
    r.stderr = r.stderr.decode(errors="replace")
    return r


def make_certificates(d: str) -> None:
    """ca.pem (key ca.key); server.pem (key server.key) for localhost and 127.0.0.1, signed by
    ca.pem; other-ca.pem, a CA that signed nothing here."""
    def path(name: str) -> str:
        return os.path.join(d, name)

    with open(path("ca.cnf"), "w") as f:
        f.write(CA_CONFIG)
    with open(path("server.ext"), "w") as f:
        f.write(SERVER_EXTENSIONS)
    steps = [
        ["req", "-x509", "-config", path("ca.cnf"), *NEW_KEY, "-keyout", path("ca.key"),
         "-out", path("ca.pem"), "-days", "2"],
        ["req", "-x509", "-config", path("ca.cnf"), *NEW_KEY, "-keyout", path("other-ca.key"),
         "-out", path("other-ca.pem"), "-days", "2", "-subj", "/CN=another CA"],
        ["req", "-new", "-config", path("ca.cnf"), *NEW_KEY, "-keyout", path("server.key"),
         "-out", path("server.csr"), "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey",
         path("ca.key"), "-set_serial", "1", "-days", "2", "-extfile", path("server.ext"),
         "-out", path("server.pem")],
    ]
    for step in steps:
        r = openssl(*step)
        if r.returncode != 0:
            fail(f"openssl {' '.join(step)}: {r.stderr}")


def check_bad_options(program: str, args: List[str], *wanted: str) -> None:
    """weft-http with `args` exits 2 at once with one line on stderr that contains `wanted`."""
    try:
        r = subprocess.run([program, "--port", "0", *args], capture_output=True, text=True,
                           timeout=10)
    except subprocess.TimeoutExpired:
        fail(f"{args}: the server started")
    lines = r.stderr.splitlines()
    if r.returncode != 2 or len(lines) != 1 or not all(w in lines[0] for w in wanted):
        fail(f"{args}: exit {r.returncode}, {r.stderr!r}; wanted exit 2 and one line with "
             f"{wanted}")


def tls_connect(context: ssl.SSLContext, port: int) -> ssl.SSLSocket:
    """A TLS connection to the server, its certificate and name verified. Its end must be the
    server's close_notify: a TCP end without one raises ssl.SSLEOFError (see read_to_end)."""
    return context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                               server_hostname="localhost", suppress_ragged_eofs=False)


def read_to_end(s: ssl.SSLSocket, what: str) -> bytes:
    """Reads until the server's close_notify."""
    try:
        return read_until_close(s)
    except ssl.SSLEOFError:
        fail(f"{what}: the connection ended without close_notify")


def main() -> int:
    for tool in ("curl", "wrk", "openssl"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: skipped")
            return 77
    program = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        make_certificates(d)
        ca, other_ca = os.path.join(d, "ca.pem"), os.path.join(d, "other-ca.pem")
        cert, key = os.path.join(d, "server.pem"), os.path.join(d, "server.key")
        missing = os.path.join(d, "missing.pem")
        no_such_file = os.strerror(errno.ENOENT)

        check_bad_options(program, ["--tls-cert", missing, "--tls-key", key],
                          missing, no_such_file)
        check_bad_options(program, ["--tls-cert", cert, "--tls-key", missing],
                          missing, no_such_file)
        check_bad_options(program, ["--tls-cert", cert], "--tls-key")
        check_bad_options(program, ["--tls-key", key], "--tls-cert")
        check_bad_options(program, ["--tls-cert", cert, "--tls-key", os.path.join(d, "ca.key")],
                          cert, "ca.key", "mismatch")

        log_path = os.path.join(d, "server.log")
        argv = [program, "--port", "0", "--threads", "2", "--request-timeout",
                str(REQUEST_TIMEOUT_MS), "--tls-cert", cert, "--tls-key", key]
        with open(log_path, "w") as log, server(
                argv, env=dict(os.environ, WEFT_LOG="info"), stderr=log) as (proc, port):
            url = f"https://localhost:{port}/"
            trust = ["--cacert", ca, "--resolve", f"localhost:{port}:127.0.0.1"]

            r = curl(*trust, "-i", url)
            if r.returncode != 0 or not r.stdout.startswith("HTTP/1.1 200 OK"):
                fail(f"GET /: {r.returncode} {r.stdout!r} {r.stderr!r}")
            if not r.stdout.endswith("\r\n\r\nHello from weft\n"):
                fail(f"GET / body: {r.stdout!r}")
            r = curl(*trust, "-v", "-o", "/dev/null", "-w", "%{http_version}", url)
            if r.returncode != 0 or r.stdout != "1.1":
                fail(f"HTTP version: {r.returncode} {r.stdout!r} {r.stderr!r}")
            if not re.search(r"ALPN[:,] server accepted (to use )?http/1\.1", r.stderr):
                fail(f"ALPN: {r.stderr!r}")
            # Keep-alive: curl fetches the URL twice over one connection. (Were it closed after
            # the first answer, curl would retry on a new one: the second would connect too.)
            r = curl(*trust, "-v", "-w", "|%{num_connects}\n", url, url)
            if r.returncode != 0 or "Re-using existing connection" not in r.stderr:
                fail(f"keep-alive: {r.stderr!r}")
            if r.stdout != "Hello from weft\n|1\nHello from weft\n|0\n":
                fail(f"keep-alive: bodies and connections made {r.stdout!r}")

            # A client that does not trust the certificate fails (curl's 60: the peer's
            # certificate did not verify); the server goes on serving.
            r = curl("--cacert", other_ca, "--resolve", f"localhost:{port}:127.0.0.1", url)
            if r.returncode != 60:
                fail(f"untrusting client: {r.returncode} {r.stdout!r} {r.stderr!r}")
            r = curl(*trust, url)
            if r.returncode != 0 or r.stdout != "Hello from weft\n" or proc.poll() is not None:
                fail(f"after an untrusting client: {r.returncode} {r.stdout!r} {r.stderr!r}")

            # A client speaking plain HTTP to the HTTPS port, and one that sends nothing (its
            # handshake ends with the request timeout): each loses its connection, no answer.
            for hello in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b""):
                with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                    s.sendall(hello)
                    try:
                        data = read_until_close(s)
                    except ConnectionResetError:
                        data = b""
                    except socket.timeout:
                        fail(f"not TLS {hello!r}: the connection stayed open")
                    if b"HTTP/" in data:
                        fail(f"not TLS {hello!r}: answered {data!r}")

            # openssl s_client: the certificate and its name verified, a raw request.
            r = openssl("s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                        "-verify_hostname", "localhost", "-CAfile", ca, "-verify_return_error",
                        "-alpn", "http/1.1", "-ign_eof",
                        stdin=b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            if (r.returncode != 0 or "Verify return code: 0 (ok)" not in r.stdout
                    or "ALPN protocol: http/1.1" not in r.stdout
                    or "HTTP/1.1 200 OK" not in r.stdout or "Hello from weft" not in r.stdout):
                fail(f"s_client: {r.returncode} {r.stdout!r} {r.stderr!r}")
            # The server accepts HTTP/1.1 alone: a client offering only h2 is refused.
            r = openssl("s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                        "-CAfile", ca, "-alpn", "h2")
            if r.returncode == 0 or "ALPN protocol: h2" in r.stdout:
                fail(f"h2 only: {r.returncode} {r.stdout!r} {r.stderr!r}")

            context = ssl.create_default_context(cafile=ca)
            # Pipelining: two requests in one write, two answers in order.
            with tls_connect(context, port) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = read_to_end(s, "pipelining").decode()
                if not (data.startswith("HTTP/1.1 200 OK") and "HTTP/1.1 404 Not Found" in data):
                    fail(f"pipelining: {data!r}")
            # A request that stalls: answered 408 once its deadline passes, then closed.
            with tls_connect(context, port) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                data = read_to_end(s, "stalled request").decode()
                if not data.startswith("HTTP/1.1 408 Request Timeout"):
                    fail(f"stalled request: {data!r}")

            # wrk: 1 thread, 8 connections, 1 second.
            w = subprocess.run(["wrk", "-t1", "-c8", "-d1s", f"https://127.0.0.1:{port}/"],
                               capture_output=True, text=True, timeout=60)
            if w.returncode != 0:
                fail(f"wrk exited {w.returncode}: {w.stderr}")
            requests = re.search(r"(\d+) requests in", w.stdout)
            if not requests or int(requests.group(1)) == 0:
                fail(f"wrk made no request: {w.stdout}")
            if "Non-2xx" in w.stdout or "Socket errors" in w.stdout:
                fail(f"wrk saw errors: {w.stdout}")
            rate = re.search(r"Requests/sec:\s+([\d.]+)", w.stdout)

            # Drain: an idle kept-alive TLS connection is closed at once (the idle timeout is
            # 30 s, longer than stop() waits), with close_notify, and the server exits 0.
            idle = tls_connect(context, port)
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            first = idle.recv(65536)
            if not first.startswith(b"HTTP/1.1 200 OK"):
                fail(f"before drain: {first!r}")
            rc, out = stop(proc)
            if rc != 0 or "draining" not in out or "stopped" not in out:
                fail(f"SIGTERM: exit {rc}, {out!r}")
            rest = read_to_end(idle, "drain")
            idle.close()
            if rest:
                fail(f"drained connection got more bytes: {rest!r}")
        with open(log_path) as f:
            logged = f.read()
        if not re.search(r"TLS handshake with 127\.0\.0\.1:\d+ failed: .*unknown ca", logged):
            fail(f"the untrusting client's handshake was not logged: {logged!r}")

    print(f"https: bad options, curl (GET, HTTP/1.1, ALPN, keep-alive, untrusting client), "
          f"plain HTTP and silent clients, s_client (raw GET, h2 refused), pipelining, 408, "
          f"wrk {requests.group(1)} requests ({rate.group(1) if rate else '?'}/s), "
          f"drain on SIGTERM: all as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
