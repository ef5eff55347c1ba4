#!/usr/bin/env python3
"""Runs a program and checks that it exits 0 and prints the expected text.

usage: expect_output.py PROGRAM EXPECTED [ARGS...]
"""
import subprocess
import sys


def main() -> int:
    program, expected, *args = sys.argv[1:]
    done = subprocess.run([program, *args], capture_output=True, text=True, timeout=60)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        print(f"{program} exited {done.returncode}", file=sys.stderr)
        return 1
    if expected not in done.stdout:
        print(f"{program}: expected {expected!r} in its output", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
