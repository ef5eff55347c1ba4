#!/usr/bin/env python3
"""A TLS peer that is not weft, for weft's TLS tests: Python's ssl module over a plain socket.

It drives the protocol through memory BIOs (ssl.SSLObject), so it decides exactly which bytes
go on the wire and when: it can stop half-way through a handshake flight or a record, hold
back its reads, end with close_notify, a bare FIN or a reset, and report what it received.

    tls_peer.py server CERT KEY [--alpn P1,P2] [--rcvbuf N]     prints "port N", accepts one
    tls_peer.py client PORT CAFILE SERVERNAME [--alpn P1,P2]     connects to 127.0.0.1:PORT

Then it reads commands from stdin, one a line, and answers each with one line on stdout,
"ok ..." or "error ...":

    handshake          run the handshake to its end         ok VERSION ALPN-or--
    hold_flight        (server) read the ClientHello, send the first half of the answer
    release            send what was held back, then finish what it interrupted
    send N             N bytes of the pattern, as records, all on the wire
    send_cut N         N bytes of the pattern as records; only half of their bytes sent
    recv N             exactly N bytes, checked against the pattern          ok | error ...
    read_to_end        until close_notify, a bare FIN or a reset  ok HOW BYTES PATTERN-OK
    close_notify       send close_notify (not waiting for the peer's)
    fin                shut the TCP stream down for writing, no close_notify
    rst                reset the connection (SO_LINGER {1, 0})
    quit

The pattern: byte i of a direction's stream is i % 251 (both sides count from 0).
"""
import socket
import ssl
import struct
import sys


def pattern(start, n):
    return bytes((i % 251) for i in range(start, start + n))


class Peer:
    def __init__(self, sock, obj, incoming, outgoing):
        self.sock = sock
        self.obj = obj
        self.incoming = incoming
        self.outgoing = outgoing
        self.held = b""
        self.sent = 0  # pattern bytes sent
        self.received = 0  # pattern bytes received
        self.handshaking = False

    def flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def pump(self):
        """Reads what the socket has into the TLS object; False at the end of the stream."""
        data = self.sock.recv(65536)
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self.pump()

    def hold_flight(self):
        # Read until the ClientHello has been answered, then send half the answer.
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                out = self.outgoing.read()
                if out:
                    half = len(out) // 2
                    self.sock.sendall(out[:half])
                    self.held = out[half:]
                    self.handshaking = True
                    return "ok held %d" % len(self.held)
                self.pump()
        return "error the handshake finished"

    def release(self):
        self.sock.sendall(self.held)
        self.held = b""
        if self.handshaking:
            self.handshaking = False
            self.handshake()
        return "ok"

    def send(self, n, cut=False):
        self.obj.write(pattern(self.sent, n))
        self.sent += n
        out = self.outgoing.read()
        if cut:
            half = len(out) // 2
            self.sock.sendall(out[:half])
            self.held = out[half:]
            return "ok held %d" % len(self.held)
        self.sock.sendall(out)
        return "ok"

    def read_some(self, n):
        """Plaintext, b"" at close_notify; raises EOFError at a bare FIN."""
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                self.flush()
                if not self.pump():
                    continue  # the object raises SSLEOFError now
            except ssl.SSLZeroReturnError:
                return b""
            except ssl.SSLEOFError:
                raise EOFError()

    def recv(self, n):
        got = b""
        try:
            while len(got) < n:
                chunk = self.read_some(n - len(got))
                if not chunk:
                    return "error close_notify after %d" % len(got)
                got += chunk
        except EOFError:
            return "error eof after %d" % len(got)
        except ConnectionResetError:
            return "error reset after %d" % len(got)
        ok = got == pattern(self.received, n)
        self.received += n
        return "ok" if ok else "error mismatch"

    def read_to_end(self):
        got = bytearray()
        how = "?"
        try:
            while True:
                chunk = self.read_some(1 << 16)
                if not chunk:
                    how = "close_notify"
                    break
                got += chunk
        except EOFError:
            how = "eof"
        except ConnectionResetError:
            how = "reset"
        except ssl.SSLError as e:
            how = "tls_error:" + (e.reason or "unknown")
        ok = bytes(got) == pattern(self.received, len(got))
        self.received += len(got)
        return "ok %s %d %d" % (how, len(got), 1 if ok else 0)

    def close_notify(self):
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self.flush()
        return "ok"


def main():
    args = sys.argv[1:]
    alpn = None
    rcvbuf = None
    if "--alpn" in args:
        i = args.index("--alpn")
        alpn = args[i + 1].split(",")
        del args[i : i + 2]
    if "--rcvbuf" in args:
        i = args.index("--rcvbuf")
        rcvbuf = int(args[i + 1])
        del args[i : i + 2]
    role = args[0]
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    if role == "server":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[1], args[2])
        if alpn:
            ctx.set_alpn_protocols(alpn)
        listener = socket.socket()
        if rcvbuf:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        print("port %d" % listener.getsockname()[1], flush=True)
        listener.settimeout(30)
        sock, _ = listener.accept()
        obj = ctx.wrap_bio(incoming, outgoing, server_side=True)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(args[2])
        if alpn:
            ctx.set_alpn_protocols(alpn)
        sock = socket.create_connection(("127.0.0.1", int(args[1])), timeout=30)
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname=args[3])
        print("connected", flush=True)
    sock.settimeout(30)
    peer = Peer(sock, obj, incoming, outgoing)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd = words[0]
        try:
            if cmd == "handshake":
                peer.handshake()
                reply = "ok %s %s" % (obj.version(), obj.selected_alpn_protocol() or "-")
            elif cmd == "hold_flight":
                reply = peer.hold_flight()
            elif cmd == "release":
                reply = peer.release()
            elif cmd == "send":
                reply = peer.send(int(words[1]))
            elif cmd == "send_cut":
                reply = peer.send(int(words[1]), cut=True)
            elif cmd == "recv":
                reply = peer.recv(int(words[1]))
            elif cmd == "read_to_end":
                reply = peer.read_to_end()
            elif cmd == "close_notify":
                reply = peer.close_notify()
            elif cmd == "fin":
                sock.shutdown(socket.SHUT_WR)
                reply = "ok"
            elif cmd == "rst":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                reply = "ok"
            elif cmd == "quit":
                print("ok", flush=True)
                return
            else:
                reply = "error unknown command " + cmd
        except ssl.SSLError as e:
            reply = "error tls " + (e.reason or str(e))
        except OSError as e:
            reply = "error os " + str(e)
        print(reply, flush=True)


if __name__ == "__main__":
    main()
