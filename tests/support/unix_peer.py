#!/usr/bin/env python3
"""A Unix-domain peer that is not weft, for weft's Unix socket tests: Python's socket module.

    unix_peer.py server stream|dgram|seqpacket ADDRESS
        binds ADDRESS, prints "ready"; a stream or seqpacket server then listens, accepts one
        connection and prints "accepted"
    unix_peer.py client stream|dgram|seqpacket ADDRESS [BIND]
        (binds BIND first, if given), connects to ADDRESS, prints "connected PID UID GID"

ADDRESS and BIND are filesystem paths, or "@name" for the abstract name "\\0name".

Then it reads commands from stdin, one a line, and answers each with one line on stdout:

    send TEXT            sends TEXT (all of it)                             ok
    recv N               one recv of at most N bytes       ok TEXT | eof | error ERRNAME
    recvfrom             one datagram and its sender        ok TEXT SENDER ("-": unnamed)
    reply TEXT           sends TEXT to the last datagram's sender            ok
    read_to_end          reads until end of file or an error   eof BYTES | error ERRNAME BYTES
    peercred             SO_PEERCRED of the connection                 ok PID UID GID
    send_pipe TEXT DATA  sends TEXT with the read end of a new pipe, then writes DATA into the
                         pipe and closes it                                   ok
    recv_fd_read N       receives at most N bytes and their descriptors, reads the first
                         descriptor to its end, closes them all        ok TEXT COUNT DATA
    recv_fd_write N DATA receives at most N bytes and their descriptors, writes DATA into the
                         first, closes them all                         ok TEXT COUNT
    send_pair TEXT       makes a stream socketpair, sends TEXT with one end (and closes it
                         here), keeps the other                               ok
    pair_send TEXT       sends TEXT on the kept end of the pair              ok
    pair_recv N          one recv on the kept end of the pair                 ok TEXT | eof
    close                closes the connection                               ok
    quit
"""
import errno
import os
import socket
import struct
import sys

TYPES = {"stream": socket.SOCK_STREAM, "dgram": socket.SOCK_DGRAM,
         "seqpacket": socket.SOCK_SEQPACKET}


def native(address):
    return "\0" + address[1:] if address.startswith("@") else address


def shown(address):
    if not address:
        return "-"
    if isinstance(address, bytes):
        address = address.decode("latin-1")
    return "@" + address[1:] if address.startswith("\0") else address


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def error_name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def main():
    role, kind, address = sys.argv[1], TYPES[sys.argv[2]], native(sys.argv[3])
    sock = socket.socket(socket.AF_UNIX, kind)
    conn = sock
    if role == "server":
        sock.bind(address)
        if kind != socket.SOCK_DGRAM:
            sock.listen(1)
        say("ready")
        if kind != socket.SOCK_DGRAM:
            conn, _ = sock.accept()
            say("accepted")
    else:
        if len(sys.argv) > 4:
            sock.bind(native(sys.argv[4]))
        sock.connect(address)
        say("connected %d %d %d" % (os.getpid(), os.getuid(), os.getgid()))
    last_sender = None
    pair = None
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        try:
            if cmd == "quit":
                return
            if cmd == "send":
                conn.sendall(args[0].encode())
                say("ok")
            elif cmd == "recv":
                data = conn.recv(int(args[0]))
                say("ok " + data.decode() if data else "eof")
            elif cmd == "recvfrom":
                data, last_sender = conn.recvfrom(65536)
                say("ok %s %s" % (data.decode(), shown(last_sender)))
            elif cmd == "reply":
                conn.sendto(args[0].encode(), last_sender)
                say("ok")
            elif cmd == "read_to_end":
                got = 0
                try:
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            say("eof %d" % got)
                            break
                        got += len(data)
                except OSError as e:
                    say("error %s %d" % (error_name(e), got))
            elif cmd == "peercred":
                raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
                say("ok %d %d %d" % struct.unpack("3i", raw))
            elif cmd == "send_pipe":
                r, w = os.pipe()
                socket.send_fds(conn, [args[0].encode()], [r])
                os.close(r)
                os.write(w, args[1].encode())
                os.close(w)
                say("ok")
            elif cmd in ("recv_fd_read", "recv_fd_write"):
                data, fds, _, _ = socket.recv_fds(conn, int(args[0]), 8)
                result = ""
                if fds and cmd == "recv_fd_read":
                    chunks = []
                    while True:
                        chunk = os.read(fds[0], 65536)
                        if not chunk:
                            break
                        chunks.append(chunk)
                    result = " " + b"".join(chunks).decode()
                elif fds:
                    os.write(fds[0], args[1].encode())
                for fd in fds:
                    os.close(fd)
                say("ok %s %d%s" % (data.decode(), len(fds), result))
            elif cmd == "send_pair":
                pair, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                socket.send_fds(conn, [args[0].encode()], [other.fileno()])
                other.close()
                say("ok")
            elif cmd == "pair_send":
                pair.sendall(args[0].encode())
                say("ok")
            elif cmd == "pair_recv":
                data = pair.recv(int(args[0]))
                say("ok " + data.decode() if data else "eof")
            elif cmd == "close":
                conn.close()
                say("ok")
            else:
                say("error unknown-command")
        except OSError as e:
            say("error " + error_name(e))


if __name__ == "__main__":
    main()
