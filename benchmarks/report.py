#!/usr/bin/env python3
"""Prints weft-bench's JSON (--json) as the Markdown tables of docs/benchmarks.md.

    python3 benchmarks/report.py docs/bench/latest.json
"""
import json
import sys


def fmt(v):
    if v is None:
        return ""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g} M" if a < 1e9 else f"{v / 1e9:.3g} G"
    if a >= 1e4:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def main():
    doc = json.load(open(sys.argv[1]))
    env = doc["environment"]
    print("Environment: " + ", ".join(f"{k} {v}" for k, v in sorted(env.items())) + "\n")
    print("| figure | contender | p50 | p90 | p99 | p99.9 | max | n |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, fig in doc["figures"].items():
        first = True
        for c, s in sorted(fig["contenders"].items()):
            label = f"{name} ({fig['unit']})" if first else ""
            first = False
            print(f"| {label} | {c} | {fmt(s['p50'])} | {fmt(s['p90'])} | {fmt(s['p99'])} | "
                  f"{fmt(s['p99.9'])} | {fmt(s['max'])} | {s['n']} |")
    print()
    print("| figure | ratio or value | median | min | max | goal |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, fig in doc["figures"].items():
        for r, v in sorted(fig["ratios"].items()):
            goal = ""
            if "goal" in v:
                goal = ("≤ " if v["goal_is"] == "at_most" else "≥ ") + fmt(v["goal"]) + \
                       (" ✓" if v["met"] else " ✗") + \
                       (" (unsettled: rounds on both sides)" if v.get("unsettled") else "")
            print(f"| {name} | {r} | {v['median']:.3g} | {v['min']:.3g} | {v['max']:.3g} | {goal} |")
        goals = fig.get("value_goals", {})
        for r, v in sorted(fig["values"].items()):
            goal = ""
            if r in goals:
                g = goals[r]
                goal = ("≤ " if g["goal_is"] == "at_most" else "≥ ") + fmt(g["goal"]) + \
                       (" ✓" if g["met"] else " ✗")
            print(f"| {name} | {r} (value) | {fmt(v)} | | | {goal} |")


if __name__ == "__main__":
    main()
