#!/usr/bin/env python3
"""Checks the generated API reference: it exists, documents the public classes from their
header comments (so the comment filter worked), and Doxygen reported no warning.

usage: check.py BUILD/docs
"""
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
html = out / "html"
expect = {
    "classweft_1_1RuntimeGroup.html": "SO_REUSEPORT",
    "classweft_1_1CancelScope.html": "shield",
    "classweft_1_1Runtime.html": "Thread-safe",
    "wsp_8h.html": "WSPCancelBlockingCall",
}
problems = []
if not (html / "index.html").is_file():
    problems.append("no html/index.html")
for page, text in expect.items():
    p = html / page
    if not p.is_file():
        problems.append(f"no {page}")
    elif text not in p.read_text(encoding="utf-8", errors="replace"):
        problems.append(f"{page} lacks {text!r}: its header comment did not come through")
log = out / "warnings.log"
if log.is_file() and log.read_text().strip():
    problems.append("Doxygen warnings:\n" + log.read_text())
for p in problems:
    print(f"FAIL: {p}", file=sys.stderr)
if not problems:
    print(f"API reference: {len(list(html.glob('*.html')))} pages, no warning")
sys.exit(1 if problems else 0)
