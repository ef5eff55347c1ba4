#!/usr/bin/env python3
"""weft's standing against each peer at a glance, from weft-bench's JSON (--json).

    python3 benchmarks/summary.py docs/bench/latest.json --plot docs/bench --markdown

--plot DIR writes, with gnuplot:
  summary.png       one bar per ratio of weft against a peer (Go, tokio, Boost.Fiber, Asio,
                    libuv, a thread interrupted by pthread_kill), figure by figure: how many
                    times better weft stands (the peer's time, memory or CPU over weft's, or
                    weft's throughput over the peer's), on a log scale; right of 1 weft is
                    ahead. The median over rounds, as the report's ratios.
  bars_NAME.png     for each figure whose contenders are single values rather than
                    latency distributions (throughput, memory per fiber): each contender's
                    median as a bar, its min and max as whiskers. weft-bench --plot draws the
                    latency distributions as CDFs.
--markdown prints the same standings as a Markdown table (figure, then a column per peer).
Ratios against floors (a bare context switch, a raw syscall, an eventfd) are not a peer's
and are left to the report's tables.
"""
import argparse
import json
import math
import os
import subprocess
import sys

# The peers, in the order of the table's columns: (label, prefixes of a contender's name).
PEERS = [
    ("libuv", ("libuv",)),
    ("Asio", ("asio",)),
    ("Go", ("go",)),
    ("tokio", ("tokio",)),
    ("Boost.Fiber", ("boost_fiber",)),
    ("threads", ("pthread_kill",)),
]

# Units whose larger values are better; every other unit (ns, KiB, µs of CPU) is a cost.
HIGHER_IS_BETTER = ("/s",)


def peer_of(contender):
    for label, prefixes in PEERS:
        if any(contender == p or contender.startswith(p + "_") for p in prefixes):
            return label
    return None


def standings(doc):
    """[(figure, label, peer, standing, ratio_name)]: standing > 1 when weft is ahead."""
    out = []
    for name, fig in doc["figures"].items():
        higher = fig["unit"].endswith(HIGHER_IS_BETTER)
        for ratio, v in fig.get("ratios", {}).items():
            if not ratio.startswith("weft") or "_over_" not in ratio:
                continue
            mine, theirs = ratio.split("_over_", 1)
            peer = peer_of(theirs)
            if peer is None or v["median"] <= 0:
                continue
            # CPU, RSS and tail ratios are costs whatever the figure's unit.
            cost = not higher or "cpu" in ratio or "rss" in ratio or "_p99" in ratio
            standing = 1 / v["median"] if cost else v["median"]
            what = mine[len("weft"):].strip("_")
            label = f"{name} {what}".strip() + f" vs {theirs}"
            out.append((name, label, peer, standing, ratio))
    return out


def plot_summary(rows, path):
    if not rows:
        return
    data = "\n".join(f'"{label}" {s:.6g} {i}' for i, (_, label, _, s, _) in
                     enumerate(reversed(rows)))
    lo = min(min(s for *_, s, _ in rows), 0.5)
    hi = max(max(s for *_, s, _ in rows), 2)
    height = 120 + 16 * len(rows)
    script = f"""
set terminal pngcairo size 1100,{height} font ",9" noenhanced
set output "{path}"
set title "weft against each peer: how many times better weft stands (median over rounds; > 1: weft ahead)"
set logscale x 2
set xrange [{lo / 1.3:.4g}:{hi * 2.5:.4g}]
set format x "%g"
set yrange [-1:{len(rows)}]
set ytics nomirror font ",8"
set grid xtics
set style fill solid 0.8 border -1
set arrow from 1, graph 0 to 1, graph 1 nohead lw 2 lc rgb "black"
unset key
$d << EOD
{data}
EOD
plot $d using (1):3:($2 < 1 ? $2 : 1):($2 < 1 ? 1 : $2):($3 - 0.35):($3 + 0.35):($2 < 1 ? 0xc04030 : 0x3060a0):ytic(1) \\
     with boxxyerror lc rgb variable, \\
     $d using ($2 < 1 ? 1.04 : $2 * 1.04):3:(sprintf("%.2f", $2)) with labels left font ",8"
"""
    run_gnuplot(script)


def plot_bars(name, fig, path):
    names = sorted(fig["contenders"])
    data = "\n".join(f'"{c}" {fig["contenders"][c]["p50"]:.6g} {fig["contenders"][c]["min"]:.6g} '
                     f'{fig["contenders"][c]["max"]:.6g}' for c in names)
    script = f"""
set terminal pngcairo size {max(500, 90 * len(names))},420 font ",9" noenhanced
set output "{path}"
set title "{name}: {fig['unit']} (median; whiskers: min and max)"
set style data histogram
set style histogram errorbars lw 1
set style fill solid 0.7 border -1
set xtics rotate by -35 font ",8"
set yrange [0:*]
set grid ytics
unset key
$d << EOD
{data}
EOD
plot $d using 2:3:4:xtic(1) lc rgb "#3060a0"
"""
    run_gnuplot(script)


def run_gnuplot(script):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    except FileNotFoundError:
        sys.exit("summary.py: gnuplot is not installed (Debian: gnuplot-nox)")


def markdown(rows):
    """A row per figure, a column per peer; a cell names which of weft's and the peer's rows a
    standing compares where the figure has several (▼: weft behind)."""
    figures = []
    cells = {}
    for name, label, peer, s, _ in rows:
        if name not in figures:
            figures.append(name)
        text = f"{s:.2f}" + ("" if round(s, 2) >= 1 else " ▼")
        compared = label[len(name):].strip()
        if compared.removeprefix("vs ") not in ("go", "tokio", "libuv", "boost_fiber"):
            text += f" ({compared})"
        cells.setdefault((name, peer), []).append(text)
    peers = [p for p, _ in PEERS if any(k[1] == p for k in cells)]
    print("| figure | " + " | ".join(peers) + " |")
    print("| --- |" + " --- |" * len(peers))
    for f in figures:
        print(f"| {f} | " + " | ".join(", ".join(cells.get((f, p), [])) for p in peers) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--plot", metavar="DIR")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    doc = json.load(open(a.json))
    rows = standings(doc)
    if a.plot:
        os.makedirs(a.plot, exist_ok=True)
        plot_summary(rows, os.path.join(a.plot, "summary.png"))
        for name, fig in doc["figures"].items():
            single = fig["unit"].endswith(HIGHER_IS_BETTER) or "KiB" in fig["unit"]
            if single and fig["contenders"]:
                plot_bars(name, fig, os.path.join(a.plot, f"bars_{name}.png"))
    if a.markdown:
        markdown(rows)
    if not a.plot and not a.markdown:
        for _, label, _, s, ratio in rows:
            print(f"{s:7.2f}  {label}  ({ratio})")


if __name__ == "__main__":
    main()
