#!/usr/bin/env python3
"""Prints weft-bench's JSON (--json) as the Markdown tables of docs/benchmarks.md.

    python3 benchmarks/report.py docs/bench/latest.json
    python3 benchmarks/report.py docs/bench/latest.json --goals [docs/bench/latest.instructions.json]

--goals prints only the goals, one row each with its verdict: every ratio and value of the
figures that has a goal, then (given instructions.py's JSON) the instruction-count goals.
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


def verdict(goal_is, goal, met, unsettled=False):
    return (("≤ " if goal_is == "at_most" else "≥ ") + fmt(goal) + (" ✓" if met else " ✗") +
            (" (unsettled: rounds on both sides)" if unsettled else ""))


def print_goals(doc, instructions):
    print("| figure | goal on | median [min, max over rounds] | goal |")
    print("| --- | --- | --- | --- |")
    met = total = 0
    for name, fig in doc["figures"].items():
        for r, v in sorted(fig["ratios"].items()):
            if "goal" in v:
                total += 1
                met += v["met"]
                print(f"| {name} | `{r}` | {v['median']:.3g} [{v['min']:.3g}, {v['max']:.3g}] | "
                      f"{verdict(v['goal_is'], v['goal'], v['met'], v.get('unsettled'))} |")
        for r, g in sorted(fig.get("value_goals", {}).items()):
            total += 1
            met += g["met"]
            print(f"| {name} | `{r}` (value) | {fmt(fig['values'].get(r))} | "
                  f"{verdict(g['goal_is'], g['goal'], g['met'])} |")
    if instructions:
        for shape, v in instructions.get("shapes", {}).items():
            if "goal" in v:
                total += 1
                met += v["met"]
                per = v["instructions_per_round_trip"]
                print(f"| {shape} | instructions per round trip, weft over libuv "
                      f"({per['weft']:.0f} / {per['libuv']:.0f}) | {v['weft_over_libuv']:.3g} | "
                      f"{verdict('at_most', v['goal'], v['met'])} |")
        if "tls_echo_goal" in instructions:
            total += 1
            ok = instructions["tls_echo_weft_over_floor"] <= instructions["tls_echo_goal"]
            met += ok
            print(f"| tls_echo | instructions per round trip, weft over the floor | "
                  f"{instructions['tls_echo_weft_over_floor']:.3g} | "
                  f"{verdict('at_most', instructions['tls_echo_goal'], ok)} |")
    print(f"\n{met} of {total} goals met.")


def main():
    doc = json.load(open(sys.argv[1]))
    if len(sys.argv) > 2 and sys.argv[2] == "--goals":
        print_goals(doc, json.load(open(sys.argv[3])) if len(sys.argv) > 3 else None)
        return
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
