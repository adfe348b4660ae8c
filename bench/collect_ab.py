#!/usr/bin/env python3
"""CPU per collection of this tree's agent against another tree's, interleaved: a finer before/after than
agent_scrape.py's (which counts 10 ms clock ticks of a whole exporter process over a few dozen scrapes).

Spawns N `sleep` processes once, then runs each tree's `Collector` (catch-all `{{.Comm}}` config, the agent's own
metrics on, no result reuse) in a fresh subprocess per round, alternating which tree goes first, and measures the
median process CPU (`time.process_time`, all threads) of --collections collections after 3 warm-up ones. Prints
each round, the medians over rounds and the after/before ratio. Every process it starts is killed before it exits.

    git worktree add --detach /tmp/pm-before <commit>
    flock /tmp/pm-bench.lock python bench/collect_ab.py --baseline-src /tmp/pm-before --procs 2000
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Runs inside the subprocess, with PYTHONPATH set to one tree's agent/ directory. Both import paths of the tracker
# settings are tried: before the restructuring it was process_monitor_agent.tracker.
INNER = """
import statistics, sys, time
from process_monitor_agent.collector import Collector
from process_monitor_agent.config import parse_config
try:
    from process_monitor_agent.track import Settings
except ImportError:
    from process_monitor_agent.tracker import Settings
cfg = parse_config("process_names:\\n  - name: '{{.Comm}}'\\n    cmdline: ['.+']\\n")
c = Collector(Settings(), cfg, self_metrics=True, max_age=0.0)
for _ in range(3):
    c.collect()
xs = []
for _ in range(int(sys.argv[1])):
    t = time.process_time()
    c.collect()
    xs.append(time.process_time() - t)
print(statistics.median(xs) * 1000)
"""


def agent_dir(src: str) -> str:
    p = pathlib.Path(src)
    return str(p / "agent" if (p / "agent" / "process_monitor_agent").is_dir() else p)


def one_round(tree: str, collections: int, timeout: float) -> float:
    out = subprocess.run([sys.executable, "-c", INNER, str(collections)], env={**os.environ, "PYTHONPATH": tree},
                         capture_output=True, text=True, timeout=timeout, cwd="/tmp", check=False)
    if out.returncode != 0:
        raise SystemExit(f"collector of {tree} failed: {out.stderr[-2000:]}")
    return float(out.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline-src", required=True, help="the other tree (a checkout or its agent/ directory)")
    ap.add_argument("--procs", type=int, default=2000, help="sleeping processes to spawn (default 2000)")
    ap.add_argument("--rounds", type=int, default=8, help="subprocess rounds per tree (default 8)")
    ap.add_argument("--collections", type=int, default=40, help="measured collections per round (default 40)")
    ap.add_argument("--timeout", type=float, default=300.0, help="bound on one round, seconds")
    args = ap.parse_args()
    trees = {"after": str(ROOT / "agent"), "before": agent_dir(args.baseline_src)}
    sleeps = [subprocess.Popen(["sleep", "3600"]) for _ in range(args.procs)]
    try:
        res: dict[str, list[float]] = {"before": [], "after": []}
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for name in order:
                res[name].append(one_round(trees[name], args.collections, args.timeout))
                print(f"round {r + 1} {name}: {res[name][-1]:.2f} ms CPU per collection", flush=True)
        b, a = statistics.median(res["before"]), statistics.median(res["after"])
        print(f"{args.procs} sleeping processes; median over {args.rounds} rounds of the median of "
              f"{args.collections} collections: before {b:.2f} ms, after {a:.2f} ms, after/before {a / b:.3f}")
    finally:
        for p in sleeps:
            p.kill()
        for p in sleeps:
            p.wait()


if __name__ == "__main__":
    main()
