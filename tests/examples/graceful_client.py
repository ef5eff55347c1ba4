#!/usr/bin/env python3
"""Drives weft-graceful: an idle connection and one with a request in flight, then SIGINT.
The in-flight request must still be answered, both connections must end with EOF, and the
server must exit 0.

usage: graceful_client.py PATH-TO-weft-graceful
"""
import signal
import socket
import subprocess
import sys
import time


def read_line(s: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def main() -> int:
    server = subprocess.Popen([sys.argv[1], "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        busy = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle.sendall(b"hello\n")
        if read_line(idle) != b"echo hello\n":
            print("no echo", file=sys.stderr)
            return 1
        busy.sendall(b"sleep 500\n")
        time.sleep(0.1)  # the request is in flight
        server.send_signal(signal.SIGINT)
        if read_line(busy) != b"slept 500\n":
            print("the in-flight request was not answered", file=sys.stderr)
            return 1
        for name, s in (("busy", busy), ("idle", idle)):
            if s.recv(16) != b"":
                print(f"{name} connection did not end with EOF", file=sys.stderr)
                return 1
        rc = server.wait(timeout=10)
        if rc != 0:
            print(f"server exited {rc}", file=sys.stderr)
            return 1
        print("graceful shutdown: in-flight request answered, connections closed, exit 0")
        return 0
    finally:
        if server.poll() is None:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
