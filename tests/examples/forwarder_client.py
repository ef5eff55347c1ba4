#!/usr/bin/env python3
"""Drives weft-forward with plain Python sockets, in front of a plain Python echo server.

usage: forwarder_client.py PATH-TO-weft-forward

Checks: 16 connections at once each send 512 KiB and half-close, and get every byte back
intact, then the end of the stream (the half-close is passed on both ways); when the target
closes its side the client sees the end of the stream; a connection kept busy for longer
than the idle timeout stays open (every transfer moves the deadline on); an idle connection
is closed, both to the client and to the target; a target that refuses leaves the client
with the end of the stream; SIGINT or SIGTERM with a connection open closes it (long before
its idle timeout) and exits 0. Timing is only ever asserted with wide margins.
"""
import os
import signal
import socket
import sys
import threading
import time

from common import fail, server, stop

CLOSE = b"!close"  # the target closes a connection that sends this


class EchoTarget:
    """A TCP echo server on 127.0.0.1, one thread per connection: each echoes what it reads
    until the end of the stream, then closes; it closes at once on reading CLOSE."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = 0
        self.changed = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self.changed:
                self.open += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        try:
            with conn:
                while True:
                    data = conn.recv(65536)
                    if not data or CLOSE in data:
                        return
                    conn.sendall(data)
        except OSError:
            pass  # reset by the forwarder
        finally:
            with self.changed:
                self.open -= 1
                self.changed.notify_all()

    def wait_all_closed(self, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.open == 0, timeout)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def read_exact(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def closed(s: socket.socket) -> bool:
    """True if the next read sees the end of the stream or a reset (within the socket's
    timeout), False if it sees bytes."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def ping(s: socket.socket, text: bytes) -> None:
    s.sendall(text)
    got = read_exact(s, len(text))
    if got != text:
        fail(f"echo through the forwarder: {got!r} != {text!r}")


def check_concurrent_streams(port: int) -> None:
    errors = []

    def one(i: int) -> None:
        data = os.urandom(512 * 1024)
        try:
            with connect(port) as s:
                def send_then_half_close() -> None:
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                sender = threading.Thread(target=send_then_half_close)
                sender.start()
                got = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                sender.join()
                if got != data:
                    errors.append(f"connection {i}: {len(got)} bytes back of {len(data)}, "
                                  f"{'a prefix' if data.startswith(got) else 'corrupted'}")
        except OSError as e:
            errors.append(f"connection {i}: {e!r}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        fail("; ".join(errors))


def check_target_closes(port: int) -> None:
    with connect(port) as s:
        ping(s, b"hello")
        s.sendall(CLOSE)
        if not closed(s):
            fail("the target closed, the client did not see the end of the stream")


def check_progress_keeps_it_open(port: int, idle_s: float) -> None:
    with connect(port) as s:
        end = time.monotonic() + 1.6 * idle_s
        i = 0
        while time.monotonic() < end:
            ping(s, b"ping %d\n" % i)
            i += 1
            time.sleep(idle_s / 20)


def check_idle_close(port: int, target: EchoTarget) -> None:
    with connect(port) as s:
        ping(s, b"hello")
        if not closed(s):  # a 30 s timeout here means the idle deadline never fired
            fail("an idle connection got bytes")
    if not target.wait_all_closed(30):
        fail("the idle connection's target side was not closed")


def check_refused(forward: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]  # nobody listens there once this closes
    with server([forward, "--listen-port", "0", "--to", f"127.0.0.1:{closed_port}"]) as (fwd, port):
        with connect(port) as s:
            if not closed(s):
                fail("a refused target: the client got bytes")
        rc, _ = stop(fwd, signal.SIGINT)
        if rc != 0:
            fail(f"weft-forward exited {rc} on SIGINT")


def check_stop(fwd, port: int, signum: int) -> None:
    with connect(port) as s:
        ping(s, b"before the signal")
        rc, out = stop(fwd, signum)
        if not closed(s):
            fail("the open connection was not closed by the stop")
    if rc != 0 or "stopped" not in out:
        fail(f"weft-forward exited {rc} on signal {signum}; its output: {out!r}")


def main() -> int:
    forward = sys.argv[1]
    target = EchoTarget()
    # Forwarding to a name: resolve() gives localhost's addresses; the first that answers wins.
    # The idle timeout is the default, 60 s: only the stop can end the last connection.
    with server([forward, "--listen-port", "0", "--to", f"localhost:{target.port}"]) as (fwd, port):
        check_concurrent_streams(port)
        check_target_closes(port)
        check_stop(fwd, port, signal.SIGINT)
    if not target.wait_all_closed(30):
        fail("target connections left open after the stop")
    with server([forward, "--listen-port", "0", "--to", f"127.0.0.1:{target.port}",
                 "--idle-timeout", "2000"]) as (fwd, port):
        check_progress_keeps_it_open(port, 2.0)
        check_stop(fwd, port, signal.SIGTERM)
    with server([forward, "--listen-port", "0", "--listen-host", "127.0.0.1",
                 "--to", f"127.0.0.1:{target.port}", "--idle-timeout", "300"]) as (fwd, port):
        check_idle_close(port, target)
        check_stop(fwd, port, signal.SIGINT)
    check_refused(forward)
    print("forward: 16 x 512 KiB intact with half-close, target close seen, busy connection "
          "kept, idle connection closed both ways, refused target, SIGINT and SIGTERM exit 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
