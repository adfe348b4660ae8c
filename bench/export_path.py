#!/usr/bin/env python3
"""Render time of the per-group namedprocess_* families: the agent's hand writer against prometheus_client's
custom-collector path, over the same synthetic group snapshots.

Builds the GroupSnapshots a collection of N processes with the catch-all config `{name: "{{.Comm}}"}` would give
(one group per distinct comm, `--per-group` processes per group on average: a node of 2,000 processes has a few
hundred distinct comms), with `--thread-names` thread names and two wchans per group. Both paths read the same
family declarations (export/families.py): the hand writer is `write_groups` + join + encode, the
prometheus_client path is a registered Collector yielding GaugeMetricFamily / CounterMetricFamily with one
`add_metric` per series, rendered by `generate_latest`. Each render is timed `--repeat` times (best and median
printed, in ms), with and without the thread families (-threads=false). Pure CPU, no processes, no network.

    python bench/export_path.py                      # 2,000 and 10,000 processes
    python bench/export_path.py --procs 2000 --repeat 50
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent"))

from process_monitor_agent.export.families import (  # noqa: E402
    GROUP_LABEL,
    Family,
    Options,
    select,
    write_groups,
)
from process_monitor_agent.model import Counts, GroupSnapshot, ThreadGroup  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

HZ = 100.0
WCHANS = ("do_nanosleep", "ep_poll", "futex_wait_queue", "pipe_read", "do_select")


def counters(seed: int) -> Counts:
    c = Counts()
    c.utime, c.stime = 1_000 + seed * 7, 300 + seed * 3
    c.rb, c.wb = seed * 4096, seed * 8192
    c.maj, c.min = seed % 17, seed * 31
    c.vcs, c.nvcs = seed * 11, seed * 5
    return c


def snapshots(procs: int, per_group: int, thread_names: int) -> list[GroupSnapshot]:
    """The groups of `procs` processes in groups of `per_group` on average (sizes vary 1 .. 2*per_group-1)."""
    groups: list[GroupSnapshot] = []
    left, i = procs, 0
    while left > 0:
        n = min(left, 1 + (i * 7919) % (2 * per_group - 1))
        g = GroupSnapshot(f"comm-{i:05d}", counters(i))
        g.procs, g.nthreads = n, n * (1 + i % 4)
        g.rss, g.vsize, g.swap, g.pss, g.swappss = n * 12 << 20, n * 300 << 20, 0, n * 9 << 20, 0
        g.fds, g.worst_ratio, g.oldest = n * 9, 0.0087890625, 1_764_600_000.0 + i
        g.states = [i % 2, n - i % 2, 0, 0, 0]
        g.wchans = {WCHANS[(i + k) % len(WCHANS)]: n for k in range(2)}
        for k in range(thread_names):
            t = ThreadGroup(f"worker-{k}" if k else g.name, counters(i * 10 + k))
            t.count = 1 + k
            g.threads.append(t)
        groups.append(g)
        left -= n
        i += 1
    return groups


def hand(groups: list[GroupSnapshot], families: tuple[Family, ...], opts: Options) -> bytes:
    out: list[str] = []
    write_groups(out, groups, families, opts)
    return "".join(out).encode("utf-8")


class GroupCollector(Collector):
    """prometheus_client's custom-collector path over the same declarations (the alternative measured)."""

    def __init__(self, groups: list[GroupSnapshot], families: tuple[Family, ...], opts: Options) -> None:
        self.groups, self.families, self.opts = groups, families, opts

    def collect(self) -> Iterator[Metric]:
        for fam in self.families:
            cls = CounterMetricFamily if fam.kind == "counter" else GaugeMetricFamily
            m = cls(fam.name, fam.help, labels=(GROUP_LABEL, *fam.labels))
            fn = fam.samples
            assert fn is not None
            for g in self.groups:
                name = g.name
                for values, v in fn(g, self.opts):
                    m.add_metric((name, *values), v)
            if m.samples:
                yield m


def client(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    """(best ms, median ms, bytes) of `repeat` calls after one warm-up."""
    size = len(fn())
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return min(times), statistics.median(times), size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, action="append", help="processes to model (default 2000 and 10000)")
    ap.add_argument("--per-group", type=int, default=8, help="average processes per group (default 8)")
    ap.add_argument("--thread-names", type=int, default=3, help="thread names per group (default 3)")
    ap.add_argument("--repeat", type=int, default=20, help="timed renders per case (default 20)")
    args = ap.parse_args()
    sizes = args.procs or [2000, 10000]
    repeat = max(1, min(args.repeat, 1000))
    print(f"{'procs':>6} {'groups':>6} {'threads':>7} {'series':>7} {'hand ms (best/med)':>19} "
          f"{'client ms (best/med)':>21} {'client/hand':>11} {'hand KB':>8} {'client KB':>9}")
    for procs in sizes:
        groups = snapshots(max(1, min(procs, 1_000_000)), max(1, args.per_group), max(0, args.thread_names))
        for threads in (False, True):
            families = select(threads)
            opts = Options(HZ, smaps=True)
            series = sum(1 for f in families for g in groups for _ in f.samples(g, opts))  # type: ignore[misc]
            registry = CollectorRegistry(auto_describe=False)
            registry.register(GroupCollector(groups, families, opts))
            h_best, h_med, h_size = timed(functools.partial(hand, groups, families, opts), repeat)
            c_best, c_med, c_size = timed(functools.partial(client, registry), repeat)
            print(f"{procs:>6} {len(groups):>6} {'on' if threads else 'off':>7} {series:>7} "
                  f"{h_best:>9.2f} / {h_med:>7.2f} {c_best:>10.2f} / {c_med:>8.2f} {c_med / h_med:>10.2f}x "
                  f"{h_size / 1024:>8.0f} {c_size / 1024:>9.0f}")


if __name__ == "__main__":
    main()
