#!/usr/bin/env python3
"""Doxygen input filter: weft's headers document themselves in plain // comments; this turns
them into Doxygen's comments without changing the headers.

  * the comment block that opens a header becomes the file's description;
  * a comment block above a declaration documents it, a trailing comment a member;
  * inside a comment, an indented run of lines after an empty comment line that is not a
    list (`*`, `1.`) is example code;
  * specializations of std templates (std::is_error_code_enum) are left out of the reference.

usage (from Doxyfile's INPUT_FILTER): filter.py FILE
"""
import re
import sys

TRAILING = re.compile(r"^(?P<code>\s*\S.*?[;,{])(?P<gap>\s+)//\s?(?P<text>.*)$")
LIST_ITEM = re.compile(r"^\s+(\*|\d+\.)\s")


def comment_text(stripped: str) -> str:
    text = stripped[2:]
    return text[1:] if text.startswith(" ") else text


def main() -> None:
    lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
    out = []
    in_code = False    # inside an example in a comment
    prev_blank = False  # the previous line was an empty comment line
    hidden = False     # inside a std specialization
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("//") and not stripped.startswith("///"):
            text = comment_text(stripped)
            if in_code and (not text.startswith("  ") or not text.strip()):
                out.append(indent + "/// @endcode")
                in_code = False
            if (not in_code and prev_blank and text.startswith("  ") and
                    not LIST_ITEM.match(text)):
                out.append(indent + "/// @code")
                in_code = True
            if in_code:
                text = text[2:]
            out.append(("/// @file\n" if i == 0 else "") + indent + "/// " + text)
            prev_blank = not text.strip()
            continue
        if in_code:
            out.append(indent + "/// @endcode")
            in_code = False
        prev_blank = False
        if stripped.startswith("template <>") and i + 1 < len(lines) and "std::" in lines[i + 1]:
            out.append("/// @cond")
            hidden = True
        m = TRAILING.match(line)
        out.append(f"{m['code']}{m['gap']}///< {m['text']}" if m else line)
        if hidden and stripped.startswith("struct") and stripped.endswith(";"):
            out.append("/// @endcond")
            hidden = False
        elif hidden and stripped.startswith("};"):
            out.append("/// @endcond")
            hidden = False
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
