#!/usr/bin/env python3
"""Runs `weft-bench --quick --json` and checks that every figure and every JSON entry the
suite promises (docs/benchmarks.md) is produced with a finite number, and that `--only`
refuses a name that is no figure. Speed is not checked:
this is a smoke test of the suite, not a timed assertion."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

# A quick run takes about a minute (docs/benchmarks.md); meson's limit for this test is 900 s.
# A run still going after this long has stalled: its threads' stacks are printed before it is
# killed, so that the failure says where.
WATCHDOG_S = 480

REQUIRED = {
    "fiber_switch": {"ratios": ["weft_yield_over_boost_context"]},
    "wake": {"ratios": ["eventfd_p50_over_raw_p50", "uv_async_p50_over_eventfd_p50"]},
    "cancel_same_thread": {"ratios": ["weft_over_fiber_roundtrip", "weft_over_asio_spawn"]},
    "cancel_cross_thread": {"ratios": ["weft_p50_over_eventfd_p50", "weft_p99_over_eventfd_p99",
                                       "weft_over_asio", "weft_over_pthread_kill",
                                       "weft_same_core_p50_over_eventfd_p50"]},
    "cancel_fanout": {"values": ["ns_per_fiber_100k"],
                      "ratios": ["weft_100k_over_yield_pass_100k",
                                 "yield_pass_over_context_pass_100k"]},
    "cancel_channel_recv": {"ratios": ["weft_over_socket_recv_cancel",
                                       "weft_over_fiber_roundtrip",
                                       "weft_cycle_over_socket_recv_cycle"]},
    "channel_pingpong": {"ratios": ["weft_over_yield_roundtrip",
                                    "weft_cap1_over_yield_roundtrip"]},
    "channel_cross_runtime": {"ratios": ["weft_p50_over_eventfd_p50", "weft_p99_over_eventfd_p99",
                                         "weft_cap1_p50_over_eventfd_p50",
                                         "weft_same_core_p50_over_eventfd_p50"]},
    "channel_stream": {},
    "mutex_contended": {},
    "recv_ready": {"ratios": ["weft_over_syscall"]},
    "echo": {"ratios": ["weft_over_libuv", "weft_over_asio_spawn"]},
    "echo_1conn_64B": {"ratios": ["weft_over_libuv"]},
    "echo_100conn_4KiB": {"ratios": ["weft_over_libuv"]},
    "echo_1conn_4KiB": {"ratios": ["weft_over_libuv"]},
    "echo_threads": {"ratios": ["weft_2threads_over_1thread", "weft_over_asio_2threads"]},
    "c10k": {"ratios": ["weft_over_asio_spawn", "weft_p99_over_asio_spawn_p99",
                        "weft_rss_per_conn_over_asio_spawn", "weft_cpu_over_asio_spawn_cpu"],
             "values": ["weft_rss_kib_per_conn", "weft_cpu_percent",
                        "asio_spawn_rss_kib_per_conn", "asio_spawn_cpu_percent"]},
    "fiber_memory": {"values": ["rss_kib_per_recv_fiber", "rss_kib_per_sleep_fiber"]},
    "scale": {"values": ["max_sleeping_fibers", "rss_gib_at_max"]},
    "tls_echo": {"ratios": ["weft_over_floor", "weft_over_asio", "weft_cpu_over_floor_cpu"],
                 "values": ["weft_cpu_us_per_round_trip", "floor_cpu_us_per_round_trip"]},
    "tls_handshake": {"ratios": ["weft_over_floor", "weft_over_asio", "weft_cpu_over_floor_cpu"],
                      "values": ["weft_cpu_us_per_handshake", "floor_cpu_us_per_handshake"]},
    "file_read": {"ratios": ["weft_over_libuv", "weft_cpu_over_libuv_cpu"],
                  "values": ["weft_p50_ns", "weft_p99_ns", "libuv_p50_ns", "libuv_p99_ns",
                             "weft_cpu_ns_per_read", "libuv_cpu_ns_per_read"]},
    "offload": {"ratios": ["weft_over_libuv", "weft_p99_over_libuv_p99"]},
}

# Produced only on a machine with two cores or more: then required.
REQUIRED_WITH_TWO_CORES = {
    "cancel_cross_thread": {"ratios": ["weft_cross_core_p50_over_eventfd_p50",
                                       "weft_cross_core_p99_over_eventfd_p99"]},
    "channel_cross_runtime": {"ratios": ["weft_cross_core_p50_over_eventfd_p50"]},
}

# Produced only when weft-bench-go was built (Debian's golang-go installed): then required.
REQUIRED_WITH_GO = {
    "cancel_same_thread": {"ratios": ["weft_over_go"]},
    "cancel_cross_thread": {"ratios": ["weft_over_go", "weft_over_go_deadline_spin"]},
    "cancel_fanout": {"ratios": ["weft_over_go_100k"]},
    "echo": {"ratios": ["weft_over_go"]},
    "echo_threads": {"ratios": ["weft_over_go_2threads"]},
    "c10k": {"ratios": ["weft_p99_over_go_p99", "weft_rss_per_conn_over_go"],
             "values": ["go_rss_kib_per_conn", "go_cpu_percent"]},
    "fiber_memory": {"ratios": ["weft_recv_over_go", "weft_sleep_over_go"]},
    "channel_pingpong": {"ratios": ["weft_over_go", "weft_cap1_over_go_cap1"]},
    "channel_cross_runtime": {"ratios": ["weft_over_go", "weft_p99_over_go_p99",
                                         "weft_over_go_locked"]},
    "channel_stream": {"ratios": ["weft_over_go", "weft_4to4_over_go_4to4"]},
    "mutex_contended": {"ratios": ["weft_over_go", "weft_2rt_over_go_2procs"]},
    "tls_echo": {"ratios": ["weft_over_go"]},
    "tls_handshake": {"ratios": ["weft_over_go"]},
}

# Produced only when weft-bench-tokio was built (Debian's cargo, librust-tokio-dev and
# librust-tokio-util-dev installed when the build tree was set up): then required.
REQUIRED_WITH_TOKIO = {
    "cancel_same_thread": {"ratios": ["weft_over_tokio"]},
    "cancel_cross_thread": {"ratios": ["weft_over_tokio"]},
    "cancel_fanout": {"ratios": ["weft_over_tokio_100k"]},
    "echo": {"ratios": ["weft_over_tokio"]},
    "echo_1conn_64B": {"ratios": ["weft_over_tokio"]},
    "echo_100conn_4KiB": {"ratios": ["weft_over_tokio"]},
    "echo_1conn_4KiB": {"ratios": ["weft_over_tokio"]},
    "echo_threads": {"ratios": ["weft_over_tokio_2threads"]},
    "c10k": {"ratios": ["weft_p99_over_tokio_p99", "weft_rss_per_conn_over_tokio"],
             "values": ["tokio_rss_kib_per_conn", "tokio_cpu_percent"]},
    "fiber_memory": {"ratios": ["weft_recv_over_tokio", "weft_sleep_over_tokio"]},
    "channel_pingpong": {"ratios": ["weft_over_tokio", "weft_cap1_over_tokio"]},
    "channel_stream": {"ratios": ["weft_over_tokio"]},
    "channel_cross_runtime": {"ratios": ["weft_over_tokio", "weft_cap1_over_tokio",
                                         "weft_p99_over_tokio_p99"]},
    "mutex_contended": {"ratios": ["weft_over_tokio", "weft_2rt_over_tokio_2threads"]},
}

# Produced only when weft-bench-tokio-tls was built (Debian's librust-tokio-openssl-dev too):
# then required.
REQUIRED_WITH_TOKIO_TLS = {
    "tls_echo": {"ratios": ["weft_over_tokio"]},
    "tls_handshake": {"ratios": ["weft_over_tokio"]},
}

# Produced only when the Boost.Fiber peers were built (Debian's libboost-fiber1.81-dev
# installed when the build tree was set up): then required.
REQUIRED_WITH_BOOST_FIBER = {
    "channel_pingpong": {"ratios": ["weft_over_boost_fiber", "weft_cap1_over_boost_fiber_cap1"]},
    "channel_cross_runtime": {"ratios": ["weft_over_boost_fiber",
                                         "weft_p99_over_boost_fiber_p99"]},
    "channel_stream": {"ratios": ["weft_over_boost_fiber",
                                  "weft_4to4_over_boost_fiber_4to4"]},
    "mutex_contended": {"ratios": ["weft_over_boost_fiber",
                                   "weft_2rt_over_boost_fiber_2threads"]},
    "fiber_switch": {"ratios": ["weft_over_boost_fiber"]},
    "fiber_memory": {"ratios": ["weft_sleep_over_boost_fiber",
                                "weft_sleep_over_boost_fiber_protected",
                                "weft_sleep_over_boost_fiber_protected_cv_wait"]},
}


def descendants(pid):
    """pid and every process below it (weft-bench runs some figures in child processes)."""
    found = [pid]
    for p in found:
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def print_stacks(pids):
    gdb = shutil.which("gdb")
    if gdb is None:
        print("(gdb is not installed: no stacks)")
        return
    for pid in pids:
        print(f"--- process {pid}: every thread's stack")
        try:
            dump = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "set pagination off",
                                   "-ex", "thread apply all bt"],
                                  capture_output=True, text=True, timeout=120)
            print(dump.stdout[-20000:])
        except subprocess.TimeoutExpired:
            print("(gdb took longer than 120 s)")


def run_watched(argv):
    """Runs argv to its end, or, past WATCHDOG_S, prints its stacks and kills it: returns
    (returncode or None, stdout, stderr)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=WATCHDOG_S)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        pids = descendants(proc.pid)
        print(f"{' '.join(argv)} still running after {WATCHDOG_S} s")
        print_stacks(pids)
        for pid in reversed(pids):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        out, err = proc.communicate()
        return None, out, err


def main():
    bench = sys.argv[1]
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        code, stdout, stderr = run_watched([bench, "--quick", "--json", out.name])
        sys.stdout.write(stdout[-4000:])
        if code != 0:
            sys.stdout.write(stderr)
            print(f"weft-bench exited with {code}" if code is not None else "weft-bench stalled")
            return 1
        doc = json.load(open(out.name))
        # The one-picture summary's table reads the same JSON (benchmarks/summary.py).
        summary = subprocess.run(
            [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "summary.py"),
             out.name, "--markdown"], capture_output=True, text=True, timeout=60)
    problems = []
    if summary.returncode != 0 or "\n| echo | " not in summary.stdout:
        problems.append(f"summary.py --markdown: exit {summary.returncode}, {summary.stderr.strip()!r}")
    for key in ("libuv", "kernel", "cores", "vm.max_map_count", "RLIMIT_NOFILE"):
        if key not in doc.get("environment", {}):
            problems.append(f"environment lacks {key}")
    figures = doc.get("figures", {})
    required = {name: dict(wants) for name, wants in REQUIRED.items()}
    env = doc.get("environment", {})
    extras = []
    if int(env.get("cores", "1")) >= 2:
        extras.append(REQUIRED_WITH_TWO_CORES)
    if env.get("go peer", "").startswith("weft-bench-go"):
        extras.append(REQUIRED_WITH_GO)
    if env.get("tokio peer", "").startswith("weft-bench-tokio"):
        extras.append(REQUIRED_WITH_TOKIO)
    if env.get("tokio-openssl peer", "").startswith("weft-bench-tokio-tls"):
        extras.append(REQUIRED_WITH_TOKIO_TLS)
    if env.get("boost_fiber peer", "").startswith("Boost.Fiber"):
        extras.append(REQUIRED_WITH_BOOST_FIBER)
    for extra in extras:
        for name, wants in extra.items():
            for kind, keys in wants.items():
                required[name][kind] = required[name].get(kind, []) + keys
    for name, wants in required.items():
        fig = figures.get(name)
        if fig is None:
            problems.append(f"figure {name} missing")
            continue
        for c, s in fig.get("contenders", {}).items():
            if not s.get("n"):
                problems.append(f"{name}/{c}: no samples")
        for r in wants.get("ratios", []):
            v = fig.get("ratios", {}).get(r, {}).get("median")
            if v is None or not math.isfinite(v) or v <= 0:
                problems.append(f"{name}: ratio {r} missing or not a positive number ({v})")
        for r in wants.get("values", []):
            v = fig.get("values", {}).get(r)
            if v is None or not math.isfinite(v) or v <= 0:
                problems.append(f"{name}: value {r} missing or not a positive number ({v})")
    # --only refuses a name that is no figure, listing the figures: that list must be what a
    # whole run makes.
    bad = subprocess.run([bench, "--only", "no_such_figure"], capture_output=True, text=True,
                         timeout=60)
    listed = bad.stderr.rsplit("the figures: ", 1)[-1].strip().split(", ")
    if bad.returncode != 2 or "no_such_figure" not in bad.stderr:
        problems.append(f"--only no_such_figure: exit {bad.returncode}, {bad.stderr.strip()!r}")
    elif sorted(listed) != sorted(figures):
        problems.append(f"--only lists {sorted(listed)}, a run made {sorted(figures)}")
    for p in problems:
        print("MISSING:", p)
    print(f"{len(required)} figures checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
