#!/usr/bin/env python3
"""Drives weft-echo with plain Python sockets: many clients, many messages, then SIGTERM.

usage: echo_client.py PATH-TO-weft-echo [EXTRA-ARGUMENTS...]
"""
import signal
import socket
import subprocess
import sys


def main() -> int:
    server = subprocess.Popen([sys.argv[1], "--host", "127.0.0.1", "--port", "0", *sys.argv[2:]],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if "listening on" not in line:
            print(f"unexpected first line: {line!r}", file=sys.stderr)
            return 1
        port = int(line.rsplit(":", 1)[1])
        clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
        for round_ in range(20):
            for i, c in enumerate(clients):
                c.sendall(f"client {i} round {round_}\n".encode())
            for i, c in enumerate(clients):
                want = f"client {i} round {round_}\n".encode()
                got = b""
                while len(got) < len(want):
                    chunk = c.recv(len(want) - len(got))
                    if not chunk:
                        print("server closed early", file=sys.stderr)
                        return 1
                    got += chunk
                if got != want:
                    print(f"echo mismatch: {got!r} != {want!r}", file=sys.stderr)
                    return 1
        # A large message in one go.
        big = bytes(range(256)) * 4096
        clients[0].sendall(big)
        got = b""
        while len(got) < len(big):
            got += clients[0].recv(65536)
        if got != big:
            print("large echo mismatch", file=sys.stderr)
            return 1
        for c in clients:
            c.close()
        server.send_signal(signal.SIGTERM)
        rc = server.wait(timeout=10)
        if rc != 0:
            print(f"weft-echo exited {rc}", file=sys.stderr)
            return 1
        print(f"echo {' '.join(sys.argv[2:])}: 50 clients x 20 rounds and 1 MiB verified; clean stop")
        return 0
    finally:
        if server.poll() is None:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
