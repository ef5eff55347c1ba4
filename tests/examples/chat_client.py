#!/usr/bin/env python3
"""Drives weft-chat with clients that are not weft: plain Python sockets and one `nc`.

usage: chat_client.py PATH-TO-weft-chat

Clients: A, B and C (Python sockets), N (netcat-openbsd's `nc -C -N`, which sends CRLF line
ends; when nc is not installed a Python socket that sends CRLF stands in for it, and the
output says so), and S, a slow client: a tiny SO_RCVBUF, and it never reads.

Checks:
  * each client is welcomed with its name, and every other client is told it joined, once;
  * format: a line reaches every other client as "NAME: TEXT", never its sender; CR before LF
    is removed; empty lines are ignored; a line longer than --max-line is cut into pieces;
  * bulk: A, B, C and N each send many 2 KiB lines, in all more than the kernel can buffer for
    S; every line reaches every other fast client exactly once and in order per sender;
  * S is dropped: every other client is told so once; what S got before the reset is, per
    sender, a gapless prefix of that sender's lines (dropped, not lines skipped); its
    connection ends with a reset or an end of stream;
  * memory: the server's peak resident size (VmHWM) grows by less than a generous bound over
    the whole bulk, which sends far more than that bound to S;
  * leaving: C half-closes and N's stdin is closed: each gets the end of the stream, and the
    others are told "left" once;
  * SIGTERM: A and B get "* server shutting down" last, then the end of the stream; exit 0.

Nothing here depends on timing: each sender keeps at most WINDOW lines on their way to any
fast receiver (it waits until every fast receiver has read its line seq - WINDOW before it
sends line seq), so no fast client's queue in the server (64 lines) can ever fill, however
the machine schedules the processes; S's queue fills because the test sends S more bytes than
its socket buffers and queue can hold. Timeouts are failure guards only.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from typing import Callable, Dict, List, Optional

from common import fail, server, stop

GUARD = 120.0          # seconds: a wait that lasts this long has failed
QUEUE = 64             # the server's per-client queue (--queue)
MAX_LINE = 4096        # the server's --max-line
LINE_BYTES = 2048      # a bulk line's text
WINDOW = 12            # lines per sender on their way to any fast receiver: 4 x 12 < QUEUE
MEMORY_BOUND = 16 << 20  # bytes the server's peak resident size may grow during the bulk


def tcp_wmem_max() -> int:
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 << 20


def vm_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    fail(f"no {field} in /proc/{pid}/status")
    return 0


class Progress:
    """What each fast receiver has read of each sender's bulk lines, and the errors seen."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.last: Dict[str, Dict[str, int]] = {}  # receiver -> sender -> last seq read
        self.errors: List[str] = []

    def error(self, msg: str) -> None:
        with self.cond:
            self.errors.append(msg)
            self.cond.notify_all()


def bulk_text(seq: int) -> str:
    return f"bulk {seq} " + chr(ord("a") + seq % 26) * LINE_BYTES


class Client:
    """One chat client: a thread reads its lines as they come. Bulk lines ("NAME: bulk SEQ
    ...") are checked on the fly (order, exactly once, content) and counted in Progress; every
    other line is kept in `lines`."""

    def __init__(self, label: str, progress: Progress, read: Callable[[], bytes],
                 write: Callable[[bytes], None], crlf: bool) -> None:
        self.label = label
        self.name = ""  # the server's name for it, from its welcome
        self.progress = progress
        self._read = read
        self._write = write
        self.crlf = crlf
        self.lines: List[str] = []
        self.ended: Optional[str] = None  # "eof" or the error that ended the stream
        self.tail = b""  # bytes after the last complete line when the stream ended
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self._read()
            except OSError as e:
                end = repr(e)
                break
            if not chunk:
                end = "eof"
                break
            buf += chunk
            *complete, buf = buf.split(b"\n")
            self._take([line.decode() for line in complete])
        with self.cond:
            self.tail = buf
            self.ended = end
            self.cond.notify_all()

    def _take(self, lines: List[str]) -> None:
        kept = []
        bulk: Dict[str, int] = {}
        for line in lines:
            sender, sep, text = line.partition(": ")
            if sep and text.startswith("bulk "):
                seq = int(text.split(" ", 2)[1])
                want = self.progress.last.get(self.label, {}).get(sender, -1) + 1
                want = max(want, bulk.get(sender, -1) + 1)
                if seq != want or text != bulk_text(seq):
                    self.progress.error(f"{self.label} got {sender}'s bulk line {seq}, expected "
                                        f"{want}" + ("" if seq != want else " (bad content)"))
                bulk[sender] = seq
            else:
                kept.append(line)
        if kept:
            with self.cond:
                self.lines.extend(kept)
                self.cond.notify_all()
        if bulk:
            with self.progress.cond:
                self.progress.last.setdefault(self.label, {}).update(bulk)
                self.progress.cond.notify_all()

    def send_line(self, text: str) -> None:
        self._write((text + ("\r\n" if self.crlf else "\n")).encode())

    def send_raw(self, data: bytes) -> None:
        self._write(data)

    def wait_line(self, pred: Callable[[str], bool], what: str, start: int = 0) -> int:
        """Waits for a kept line (from index `start`) that satisfies pred; returns its index."""
        with self.cond:
            found: List[int] = []

            def seen() -> bool:
                for i in range(start, len(self.lines)):
                    if pred(self.lines[i]):
                        found.append(i)
                        return True
                return False

            if not self.cond.wait_for(seen, GUARD):
                fail(f"{self.label} ({self.name}) never got {what}; it got {self.lines[-5:]!r}")
            return found[0]

    def wait_end(self, what: str) -> str:
        with self.cond:
            if not self.cond.wait_for(lambda: self.ended is not None, GUARD):
                fail(f"{self.label} ({self.name}): the stream did not end ({what})")
            return self.ended

    def welcome(self) -> None:
        i = self.wait_line(lambda l: l.startswith("* welcome, you are "), "its welcome")
        self.name = self.lines[i][len("* welcome, you are "):].split(" ")[0]


def socket_client(label: str, port: int, progress: Progress, crlf: bool = False) -> Client:
    s = socket.create_connection(("127.0.0.1", port))
    c = Client(label, progress, lambda: s.recv(65536), s.sendall, crlf)
    c.sock = s
    return c


def nc_client(label: str, port: int, progress: Progress) -> Client:
    proc = subprocess.Popen(["nc", "-C", "-N", "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, bufsize=0)
    out = proc.stdout.fileno()

    def write(data: bytes) -> None:
        proc.stdin.write(data)  # nc -C turns each LF into CRLF

    c = Client(label, progress, lambda: os.read(out, 65536), write, crlf=False)
    c.proc = proc
    return c


def check_once(clients: List[Client], line: str) -> None:
    for c in clients:
        n = c.lines.count(line)
        if n != 1:
            fail(f"{c.label} ({c.name}) got {line!r} {n} times")


def main() -> int:
    chat = sys.argv[1]
    have_nc = shutil.which("nc") is not None
    progress = Progress()
    with server([chat, "--port", "0", "--queue", str(QUEUE), "--max-line", str(MAX_LINE)]) \
            as (proc, port):
        # --- joining -------------------------------------------------------------------
        clients: List[Client] = []
        for label in ("A", "B", "C", "N"):
            if label == "N" and have_nc:
                c = nc_client(label, port, progress)
            else:
                c = socket_client(label, port, progress, crlf=(label == "N"))
            c.welcome()
            for other in clients:
                other.wait_line(lambda l: l == f"* {c.name} joined", f"{c.name}'s join")
            clients.append(c)
        a, b, cc, n = clients
        if len({c.name for c in clients}) != 4:
            fail(f"names are not distinct: {[c.name for c in clients]}")
        for k, c in enumerate(clients):
            if c.lines[0] != f"* welcome, you are {c.name} ({k + 1} online)":
                fail(f"{c.label}'s first line: {c.lines[0]!r}")

        # S: a receive buffer as small as the kernel allows, and it never reads.
        # Its name comes from the next join notice A gets (no other join can come meanwhile).
        mark = len(a.lines)
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        slow.connect(("127.0.0.1", port))
        i = a.wait_line(lambda l: l.startswith("* ") and l.endswith(" joined"), "S's join", mark)
        s_name = a.lines[i][2:-len(" joined")]
        for c in clients[1:]:
            c.wait_line(lambda l: l == f"* {s_name} joined", f"{s_name}'s join")
        # Each join is told once to those already there, and to nobody else.
        for k, joiner in enumerate(clients):
            check_once(clients[:k], f"* {joiner.name} joined")
            for c in clients[k:]:
                if f"* {joiner.name} joined" in c.lines:
                    fail(f"{c.label} was told of {joiner.name}'s join, which came before its own")
        check_once(clients, f"* {s_name} joined")

        # --- format --------------------------------------------------------------------
        others = [b, cc, n]
        a.send_raw(b"hello from A\n\n\r\n" + b"x" * (2 * MAX_LINE + 1808) + b"\nformat done\n")
        n.send_line("hello from N")  # with CRLF
        for c in others:
            c.wait_line(lambda l: l == f"{a.name}: format done", "A's last format line")
        for c in [a, b, cc]:
            c.wait_line(lambda l: l == f"{n.name}: hello from N", "N's line")
        want = [f"{a.name}: hello from A", f"{a.name}: " + "x" * MAX_LINE,
                f"{a.name}: " + "x" * MAX_LINE, f"{a.name}: " + "x" * 1808,
                f"{a.name}: format done"]
        for c in others:
            got = [l for l in c.lines if l.startswith(f"{a.name}: ")]
            if got != want:
                fail(f"{c.label} got A's format lines as {[l[:40] for l in got]!r}")
        for c in clients:
            for line in c.lines:
                if line.startswith(f"{c.name}: "):
                    fail(f"{c.label} got its own line back: {line[:60]!r}")
                if "\r" in line:
                    fail(f"{c.label} got a CR: {line[:60]!r}")

        # --- bulk, and S dropped ------------------------------------------------------
        hwm_before = vm_kib(proc.pid, "VmHWM")
        s_rcvbuf = slow.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        # More than S's socket buffers (the server's send buffer grows to tcp_wmem's maximum at
        # most) and its queue can hold, and far more than the memory bound.
        total = max(32 << 20, tcp_wmem_max() + s_rcvbuf + QUEUE * MAX_LINE + MEMORY_BOUND +
                    (8 << 20))
        per_sender = total // len(clients) // (LINE_BYTES + 16) + 1
        names = {c.label: c.name for c in clients}

        def sender(c: Client) -> None:
            receivers = [r.label for r in clients if r is not c]
            try:
                for seq in range(per_sender):
                    with progress.cond:
                        ok = progress.cond.wait_for(
                            lambda: progress.errors or all(
                                progress.last.get(r, {}).get(names[c.label], -1) >= seq - WINDOW
                                for r in receivers), GUARD)
                        if progress.errors:
                            return
                        if not ok:
                            progress.errors.append(f"{c.label}'s line {seq - WINDOW} was not "
                                                   f"read by every fast client")
                            progress.cond.notify_all()
                            return
                    c.send_line(bulk_text(seq))
            except OSError as e:
                progress.error(f"{c.label} could not send: {e!r}")

        senders = [threading.Thread(target=sender, args=(c,)) for c in clients]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        with progress.cond:
            done = progress.cond.wait_for(
                lambda: progress.errors or all(
                    progress.last.get(r.label, {}).get(s.name, -1) == per_sender - 1
                    for r in clients for s in clients if s is not r), GUARD)
            if progress.errors:
                fail("; ".join(progress.errors[:5]))
            if not done:
                fail(f"not every bulk line arrived: {progress.last!r}")
        hwm_after = vm_kib(proc.pid, "VmHWM")
        rss_after = vm_kib(proc.pid, "VmRSS")
        growth = (hwm_after - hwm_before) * 1024
        if growth > MEMORY_BOUND:
            fail(f"the server's peak resident size grew by {growth >> 20} MiB during a "
                 f"{total >> 20} MiB bulk (bound {MEMORY_BOUND >> 20} MiB)")

        dropped = f"* {s_name} dropped (not reading)"
        for c in clients:
            c.wait_line(lambda l: l == dropped, "S's drop")
        check_once(clients, dropped)
        for c in clients:
            if f"* {s_name} left" in c.lines:
                fail(f"{c.label} was told a dropped client left")

        # S reads now: a prefix of what it was sent, then the reset (or the end of stream).
        slow.settimeout(GUARD)
        got = b""
        try:
            while True:
                chunk = slow.recv(65536)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            fail("the dropped client's connection stayed open")
        slow.close()
        seqs: Dict[str, List[int]] = {}
        for line in got.split(b"\n")[:-1]:
            sender_name, sep, text = line.decode().partition(": ")
            if sep and text.startswith("bulk "):
                seq = int(text.split(" ", 2)[1])
                if text != bulk_text(seq):
                    fail(f"S got a damaged line from {sender_name}")
                seqs.setdefault(sender_name, []).append(seq)
        for sender_name, got_seqs in seqs.items():
            if got_seqs != list(range(len(got_seqs))):
                fail(f"S's lines from {sender_name} have gaps: {got_seqs[:10]}...")

        # --- leaving -------------------------------------------------------------------
        cc.sock.shutdown(socket.SHUT_WR)
        if cc.wait_end("after its half-close") != "eof":
            fail(f"C's stream ended with {cc.ended}")
        cc.sock.close()
        for c in (a, b, n):
            c.wait_line(lambda l: l == f"* {cc.name} left", "C's leave")
        if have_nc:
            n.proc.stdin.close()  # nc -N: shuts the connection down for sending
            try:
                rc_nc = n.proc.wait(timeout=GUARD)
            except subprocess.TimeoutExpired:
                fail("nc did not exit after its leave")
            if rc_nc != 0:
                fail(f"nc exited {rc_nc}")
        else:
            n.sock.shutdown(socket.SHUT_WR)
        if n.wait_end("after its leave") != "eof":
            fail(f"N's stream ended with {n.ended}")
        for c in (a, b):
            c.wait_line(lambda l: l == f"* {n.name} left", "N's leave")
        check_once([a, b, n], f"* {cc.name} left")
        check_once([a, b], f"* {n.name} left")

        # --- SIGTERM -------------------------------------------------------------------
        rc, out = stop(proc, signal.SIGTERM, timeout=GUARD)
        if rc != 0 or "stopped" not in out:
            fail(f"weft-chat exited {rc} on SIGTERM; its output: {out!r}")
        for c in (a, b):
            if c.wait_end("after SIGTERM") != "eof":
                fail(f"{c.label}'s stream ended with {c.ended} after SIGTERM")
            if not c.lines or c.lines[-1] != "* server shutting down" or c.tail:
                fail(f"{c.label}'s last lines after SIGTERM: {c.lines[-3:]!r} {c.tail!r}")
            check_once([c], "* server shutting down")
            c.sock.close()
        # A and B have now read everything the server ever sent them: every notice once.
        notices = [f"* {x.name} joined" for x in (b, cc, n)] + [
            f"* {s_name} joined", dropped, f"* {cc.name} left", f"* {n.name} left"]
        check_once([a], f"* {b.name} joined")
        for line in notices[1:]:
            check_once([a, b], line)
        for c in (a, b):
            if f"* {s_name} left" in c.lines:
                fail(f"{c.label} was told a dropped client left")

    print(f"chat: 5 clients ({'nc' if have_nc else 'nc not installed: a Python socket'} for N), "
          f"joins, format (CRLF, empty, long lines), {4 * per_sender} bulk lines "
          f"({total >> 20} MiB) each to every other fast client once and in order, the slow "
          f"client dropped after {len(got)} bytes with no gap, peak RSS +{(hwm_after - hwm_before) >> 10} MiB "
          f"(RSS {rss_after >> 10} MiB), leaves told, SIGTERM exit 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
