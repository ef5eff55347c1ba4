#!/usr/bin/env python3
"""Checks that the contract's citations resolve, so that docs/semantics.md stays honest.

(a) Every test docs/semantics.md cites as `Suite.Test` exists. Where a test file is named
    beside the citation — "`A.B`, `A.C` (unit/stop)", "`A.*` in stress/cancel_races", or in
    the heading of the table's column, "proof (net/close_linger)" — the test must be in
    tests/<that file>.cpp (or its .hpp, as conformance/matrix's one test is); a citation with no file named must be in some tests/**/*.cpp. A
    file named applies to the run of citations of one suite right before it, in the same
    table cell or paragraph ("`X.a`, `Y.b`, `Y.c` (f)": Y.b and Y.c are in f); the others
    before it take the file in the column's heading, if any. `Suite.*` asks only that the
    suite exist (parameterised and typed suites included); "`...Test`" continues the suite
    of the citation before it.
(b) Every "semantics.md §N" or "semantics §N" (also "§N, §M", "§N-§M") in the sources, tests,
    docs/*.md and README.md names a heading "## N." of docs/semantics.md (N may carry a
    letter: 7a), and every bare "§N" inside docs/semantics.md names one of its own headings.
    Where the line of a reference names a subject (a word of SUBJECTS below: "codes",
    "join", "linger", ...), at least one of those words must occur in a section it cites: a
    plausibility check, which catches a reference left behind when a section moved.

usage: check_contract.py SOURCE_ROOT [--list]   (--list: print each citation and its file)
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1]).resolve()
semantics_path = root / "docs" / "semantics.md"
problems = []
DEBUG = len(sys.argv) > 2 and sys.argv[2] == "--list"


def rel(p: pathlib.Path) -> str:
    return str(p.relative_to(root))


# --- the tests that exist ----------------------------------------------------------------

TEST_MACRO = re.compile(
    r"\b(?:TEST|TEST_F|TEST_P|TYPED_TEST|TYPED_TEST_P)\s*\(\s*(\w+)\s*,\s*(\w+)\s*\)")
tests_dir = root / "tests"
tests_by_file = {}  # "unit/stop" -> {(suite, name)}; a header's tests count for its .cpp
for path in sorted(list(tests_dir.rglob("*.cpp")) + list(tests_dir.rglob("*.hpp"))):
    key = str(path.relative_to(tests_dir).with_suffix(""))
    found = set(TEST_MACRO.findall(path.read_text(encoding="utf-8")))
    tests_by_file[key] = tests_by_file.get(key, set()) | found
all_tests = set().union(*tests_by_file.values())
test_folders = sorted(p.name for p in tests_dir.iterdir() if p.is_dir())


def has_test(tests, suite, name):
    if name == "*":
        return any(s == suite for s, _ in tests)
    return (suite, name) in tests


# --- the sections of semantics.md ----------------------------------------------------------

HEADING = re.compile(r"^##\s+(\d+[a-z]?)\.\s+(.*)$")
sem_lines = semantics_path.read_text(encoding="utf-8").split("\n")
sections = {}  # "7a" -> [title, text of the section, heading included]
current = None
for line in sem_lines:
    m = HEADING.match(line)
    if m:
        current = m.group(1)
        sections[current] = [m.group(2), line]
    elif line.startswith("## "):
        current = None
    elif current:
        sections[current][1] += "\n" + line

# --- (a) the tests semantics.md cites ----------------------------------------------------------

FOLDERS = "|".join(map(re.escape, test_folders))
TOKEN = re.compile(
    r"`(?:\w+/)?(?P<suite>[A-Z]\w*)\.(?P<name>\*|[A-Z]\w*)(?:/\d+)?`"  # `Suite.Test`
    r"|`\.\.\.(?P<more>[A-Z]\w*)`"                                      # `...Test`
    r"|(?<![\w/.`])(?P<file>(?:" + FOLDERS + r")/\w+)(?![\w/.`])"        # unit/stop
    r"|(?P<stop>;)")
FILE_IN_HEADING = re.compile(r"\((?:" + FOLDERS + r")/\w+\)")
TABLE_RULE = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


def cells(row: str):
    return [c.strip() for c in row.strip().strip("|").split("|")]


def units():
    """Yields (line, text, default file) for each table cell and each paragraph or list item
    of semantics.md: the places within which a file named applies to the citations."""
    para, para_line = [], 0
    defaults = []
    for i, line in enumerate(sem_lines, start=1):
        if line.startswith("|"):
            if para:
                yield para_line, " ".join(para), None
                para = []
            nxt = sem_lines[i] if i < len(sem_lines) else ""
            if TABLE_RULE.match(nxt):  # a table's heading row
                defaults = []
                for c in cells(line):
                    m = FILE_IN_HEADING.search(c)
                    defaults.append(m.group(0)[1:-1] if m else None)
                continue
            if TABLE_RULE.match(line):
                continue
            for col, c in enumerate(cells(line)):
                yield i, c, defaults[col] if col < len(defaults) else None
            continue
        starts_item = re.match(r"^\s*(?:[-*]|\d+\.)\s", line)
        if not line.strip() or line.startswith("#") or starts_item:
            if para:
                yield para_line, " ".join(para), None
                para = []
            if not line.strip() or line.startswith("#"):
                continue
        if not para:
            para_line = i
        para.append(line.strip())
    if para:
        yield para_line, " ".join(para), None


cited = 0
for line_no, text, default in units():
    waiting = []  # citations no file has been named for yet
    last_suite = None

    def settle(file):
        for suite, name in waiting:
            if DEBUG:
                print(f"{line_no}: {suite}.{name} -> {file or 'any'}")
            where = f"docs/semantics.md:{line_no}"
            if file is None:
                if not has_test(all_tests, suite, name):
                    problems.append(f"{where}: cites {suite}.{name}, which no test file defines")
            elif file not in tests_by_file:
                problems.append(f"{where}: names tests/{file}.cpp, which does not exist")
            elif not has_test(tests_by_file[file], suite, name):
                problems.append(f"{where}: cites {suite}.{name} in {file}, which does not "
                                f"define it")
        waiting.clear()

    for m in TOKEN.finditer(text):
        if m.group("suite"):
            if (m.group("suite"), m.group("name")) == ("Suite", "Test"):
                continue  # the form itself, as the document's opening explains it
            waiting.append((m.group("suite"), m.group("name")))
            last_suite = m.group("suite")
            cited += 1
        elif m.group("more"):
            if last_suite is None:
                problems.append(f"docs/semantics.md:{line_no}: `...{m.group('more')}` follows "
                                f"no citation to take its suite from")
            else:
                waiting.append((last_suite, m.group("more")))
                cited += 1
        elif m.group("file"):
            # The run of one suite right before the file takes it; the citations before that
            # run take the column's file, or none.
            run_start = len(waiting)
            while run_start > 0 and waiting[run_start - 1][0] == waiting[-1][0]:
                run_start -= 1
            earlier, waiting[:] = waiting[:run_start], waiting[run_start:]
            settle(m.group("file"))
            waiting[:] = earlier
            settle(default)
        else:
            settle(default)
    settle(default)

# --- (b) the references to its sections ----------------------------------------------------------

SECTION = r"\d+[a-z]?"
REFERENCE = re.compile(
    r"semantics(?:\.md)?(?:'s)?(?:\s|//+|/\*+|\*+|#)*§\s*(?P<first>" + SECTION + r")"
    r"(?P<rest>(?:\s*(?:,|and|or|-|–|to)\s*§\s*" + SECTION + r")*)")
MORE = re.compile(r"§\s*(" + SECTION + r")")
BARE = re.compile(r"§\s*(" + SECTION + r")")
# Words that name what a reference is about, as stems (a word starting with one matches).
SUBJECTS = [
    "accept", "connect", "recv", "send", "join", "sleep", "resolve", "poll", "select",
    "close", "linger", "shutdown", "hook", "message", "pseudo-blocking", "token", "scope",
    "deadline", "stop", "netdown", "error", "code", "errno", "category", "portable",
    "precise", "reset", "abort", "reaper", "race", "check",
    "cancel_blocking_call",
]
# A stem starts a word, or a part of an identifier after "_" (error_category).
START = r"(?<![A-Za-z0-9-])"
SUBJECT = re.compile(START + "(" + "|".join(map(re.escape, SUBJECTS)) + ")", re.I)
COMMENT_MARK = re.compile(r"^\s*(?://+|/?\*+|#+)\s?")

scanned = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
for folder in ["api", "runtime", "adapters", "tests", "benchmarks", "examples"]:
    for path in sorted((root / folder).rglob("*")):
        if path.is_file() and path.suffix in {".hpp", ".cpp", ".h", ".c", ".py", ".sh", ".go"}:
            scanned.append(path)

references = 0
for path in scanned:
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    for m in REFERENCE.finditer(text):
        references += 1
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, m.end()) + 1
        where = f"{rel(path)}:{first}"
        ids = [m.group("first")] + MORE.findall(m.group("rest"))
        missing = [s for s in ids if s not in sections]
        for s in missing:
            problems.append(f"{where}: cites semantics.md §{s}, which has no heading '## {s}.'")
        if missing:
            continue
        context = " ".join(COMMENT_MARK.sub("", l) for l in lines[first - 1:last])
        subjects = {w.lower() for w in SUBJECT.findall(context)}
        if not subjects:
            continue
        cited_text = "\n".join(sections[s][1] for s in ids)
        if not any(re.search(START + re.escape(w), cited_text, re.I) for w in subjects):
            names = ", ".join(f"§{s} ({sections[s][0]})" for s in ids)
            problems.append(f"{where}: cites {names} about {', '.join(sorted(subjects))}, "
                            f"which it does not mention")

for i, line in enumerate(sem_lines, start=1):
    for s in BARE.findall(line):
        references += 1
        if s not in sections:
            problems.append(f"docs/semantics.md:{i}: refers to §{s}, which has no heading")

for p in problems:
    print(f"FAIL: {p}", file=sys.stderr)
if not problems:
    print(f"contract: {cited} test citations and {references} section references resolve "
          f"({len(sections)} sections)")
sys.exit(1 if problems else 0)
