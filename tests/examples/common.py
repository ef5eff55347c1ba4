"""Shared by the example drivers: failing, starting an example server, stopping it."""
import contextlib
import re
import signal
import subprocess
import sys
from typing import Iterator, List, Tuple

# "listening on 127.0.0.1:7777", "listening on [::1]:7777", "listening on http://h:8080/".
_LISTENING = re.compile(r"listening on (?:[a-z]+://)?(?:\[[^\]]*\]|[^\s:/\[]+):(\d+)")


def fail(msg: str) -> None:
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


@contextlib.contextmanager
def server(argv: List[str]) -> Iterator[Tuple[subprocess.Popen, int]]:
    """Starts an example server whose first line of output says "listening on ADDRESS:PORT"
    (started with port 0, it prints the port it picked) and yields it with that port. The
    process is killed on the way out if it is still running."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
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
