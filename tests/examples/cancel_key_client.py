#!/usr/bin/env python3
"""Drives weft-cancel-key: a silent server, then the key `c` on its standard input. The client
must report WSAEINTR and exit 0, and the server must see the reset (ECONNRESET).

usage: cancel_key_client.py PATH-TO-weft-cancel-key
"""
import socket
import subprocess
import sys


def main() -> int:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    client = subprocess.Popen([sys.argv[1], "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        server.settimeout(10)
        conn, _ = server.accept()
        conn.settimeout(10)
        conn.sendall(b"greeting\n")
        line = client.stdout.readline()
        if "connected" not in line:
            print(f"unexpected first line {line!r}", file=sys.stderr)
            return 1
        line = client.stdout.readline()
        if line != "greeting\n":
            print(f"expected the greeting, got {line!r}", file=sys.stderr)
            return 1
        client.stdin.write("xc")  # an ignored key, then the cancel key
        client.stdin.flush()
        out, err = client.communicate(timeout=10)
        if client.returncode != 0 or "WSAEINTR" not in out:
            print(f"client exited {client.returncode}: {out!r} {err!r}", file=sys.stderr)
            return 1
        try:
            data = conn.recv(16)
            print(f"expected a reset, the server read {data!r}", file=sys.stderr)
            return 1
        except ConnectionResetError:
            pass
        print("cancel key: recv cancelled with WSAEINTR, server saw the reset")
        return 0
    finally:
        if client.poll() is None:
            client.kill()


if __name__ == "__main__":
    sys.exit(main())
