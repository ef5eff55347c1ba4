"""Shared by the example drivers: failing, starting an example server, stopping it, and the
clients of weft-http's drivers."""
import contextlib
import re
import signal
import socket
import subprocess
import sys
from typing import IO, Dict, Iterator, List, Optional, Tuple

# "listening on 127.0.0.1:7777", "listening on [::1]:7777", "listening on http://h:8080/".
_LISTENING = re.compile(r"listening on (?:[a-z]+://)?(?:\[[^\]]*\]|[^\s:/\[]+):(\d+)")


def fail(msg: str) -> None:
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


@contextlib.contextmanager
def server(argv: List[str], env: Optional[Dict[str, str]] = None,
           stderr: Optional[IO] = None) -> Iterator[Tuple[subprocess.Popen, int]]:
    """Starts an example server whose first line of output says "listening on ADDRESS:PORT"
    (started with port 0, it prints the port it picked) and yields it with that port. The
    process is killed on the way out if it is still running. `env` and `stderr` are
    Popen's (by default this process's environment and standard error)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, stderr=stderr)
    try:
        line = proc.stdout.readline()
        m = _LISTENING.search(line)
        if not m:
            fail(f"{argv[0]}: unexpected first line {line!r}")
        yield proc, int(m.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen, signum: int = signal.SIGTERM, timeout: float = 10) -> Tuple[int, str]:
    """Sends `signum` and waits for the process to exit; returns its exit code and the rest of
    its standard output. Fails if it does not exit within `timeout` seconds."""
    proc.send_signal(signum)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        fail(f"no exit within {timeout} s of signal {signum}")
    return proc.returncode, out or ""


def curl(*args: str) -> subprocess.CompletedProcess:
    """Runs curl; its output is decoded as is (CRLF kept)."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10", *args],
                       capture_output=True, timeout=30)
    r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
    return r


def read_until_close(s: socket.socket) -> bytes:
    """Reads until the end of the stream (a TLS socket's: close_notify, or the TCP end)."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
