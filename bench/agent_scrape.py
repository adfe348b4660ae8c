#!/usr/bin/env python3
"""Per-scrape CPU and peak RSS of our agent against process-exporter, with N live sleeping processes.

Spawns N `sleep` processes, then runs each available exporter in turn (Debian's prometheus-process-exporter,
upstream v0.8.7 if built, our agent) with the catch-all config `{name: "{{.Comm}}", cmdline: ['.+']}` on a free
127.0.0.1 port, scrapes it --scrapes times back to back, and measures CPU seconds per scrape from utime+stime of
the exporter (/proc/<pid>/stat) and its peak RSS (VmHWM). Prints a table and the agent/process-exporter ratios
(targets: CPU <= 0.2, RSS <= 1). Every process it starts is killed before it exits.

    python bench/agent_scrape.py --procs 2000 --scrapes 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tools")]

from agent_real import exporters, procs  # noqa: E402
from agent_real import exposition as ex  # noqa: E402

CATCH_ALL = [{"name": "{{.Comm}}", "cmdline": [".+"]}]
PID_MAX = pathlib.Path("/proc/sys/kernel/pid_max")
CPU_TARGET, RSS_TARGET = 0.2, 1.0


@dataclass
class Result:
    impl: str
    startup_cpu_s: float  # CPU spent from exec until the first successful answer (includes priming)
    warmup_cpu_s: float  # CPU of the first, unmeasured scrape
    cpu_per_scrape_s: float
    wall_per_scrape_s: float
    peak_rss_mib: float
    sleep_procs_seen: int  # num_procs of group "sleep" in the last scrape (sanity: >= --procs)
    procs_seen: int  # num_procs summed over all groups: every process on the host, ours and others'
    exposition_bytes: int


@contextlib.contextmanager
def process_room(count: int) -> Iterator[None]:
    """Make sure `count` more processes fit: raise RLIMIT_NPROC's soft limit and, as root, pid_max (restored)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    live = sum(1 for d in os.listdir("/proc") if d.isdigit())
    need = live + count + 2000
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NPROC, (hard if hard == resource.RLIM_INFINITY else min(need, hard), hard))
    old_pid_max = int(PID_MAX.read_text())
    raised = False
    if old_pid_max < need:
        if os.geteuid() != 0:
            raise SystemExit(f"need pid_max >= {need} (is {old_pid_max}); run as root or raise it")
        PID_MAX.write_text(str(min(need, 4_194_304)))
        raised = True
    try:
        yield
    finally:
        if raised:
            PID_MAX.write_text(str(old_pid_max))


def measure(impl: exporters.Implementation, config: pathlib.Path, workdir: pathlib.Path, scrapes: int,
            timeout: float) -> Result:
    with exporters.Exporter(impl, ["-config.path", str(config)], workdir, start_timeout=timeout) as exp:
        startup = exp.cpu_seconds()
        exp.scrape(timeout=timeout)
        warm = exp.cpu_seconds()
        body = ""
        t0 = time.monotonic()
        for _ in range(scrapes):
            body = exp.scrape(timeout=timeout)
        wall = time.monotonic() - t0
        cpu = exp.cpu_seconds() - warm
        num_procs = ex.by_group(ex.parse(body), "num_procs")
        return Result(impl.name, startup, warm - startup, cpu / scrapes, wall / scrapes,
                      exp.peak_rss_bytes() / 2**20, int(num_procs.get("sleep", 0)), int(sum(num_procs.values())),
                      len(body.encode()))


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b > 0 else "n/a"


def report(results: list[Result], procs_count: int, scrapes: int) -> str:
    lines = [f"{procs_count} sleeping processes spawned (+ whatever else runs), {scrapes} scrapes each, "
             "catch-all config; exporters run one at a time",
             f"{'exporter':<26} {'startup CPU s':>13} {'1st scrape CPU s':>16} {'CPU s/scrape':>12} "
             f"{'wall s/scrape':>13} {'peak RSS MiB':>12} {'sleep procs':>11} {'all procs':>9}"]
    for r in results:
        lines.append(f"{r.impl:<26} {r.startup_cpu_s:>13.3f} {r.warmup_cpu_s:>16.3f} {r.cpu_per_scrape_s:>12.4f} "
                     f"{r.wall_per_scrape_s:>13.4f} {r.peak_rss_mib:>12.1f} {r.sleep_procs_seen:>11} {r.procs_seen:>9}")
    by_name = {r.impl: r for r in results}
    agent = by_name.get(exporters.AGENT)
    for peer in (exporters.DEBIAN, exporters.UPSTREAM):
        other = by_name.get(peer)
        if agent and other:
            cpu_r = ratio(agent.cpu_per_scrape_s, other.cpu_per_scrape_s)
            rss_r = ratio(agent.peak_rss_mib, other.peak_rss_mib)
            lines.append(f"agent/{peer}: CPU per scrape {cpu_r} (target <= {CPU_TARGET}), "
                         f"peak RSS {rss_r} (target <= {RSS_TARGET})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=2000, help="sleeping processes to spawn (default 2000)")
    ap.add_argument("--scrapes", type=int, default=20, help="measured scrapes per exporter (default 20)")
    ap.add_argument("--impl", default=",".join(exporters.FACTORIES),
                    help=f"comma list among {', '.join(exporters.FACTORIES)} (default: all available)")
    ap.add_argument("--timeout", type=float, default=300.0, help="bound on any one startup or scrape, seconds")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = ap.parse_args(argv)

    wanted = [n.strip() for n in args.impl.split(",") if n.strip()]
    impls: list[exporters.Implementation] = []
    for name in wanted:
        if name not in exporters.FACTORIES:
            ap.error(f"unknown --impl {name!r}; known: {', '.join(exporters.FACTORIES)}")
        try:
            impls.append(exporters.FACTORIES[name]())
        except exporters.Unavailable as e:
            print(f"skipping {name}: {e}", file=sys.stderr)
    if not impls:
        print("no exporter available", file=sys.stderr)
        return 2

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-agent-scrape-") as tmp:
        workdir = pathlib.Path(tmp)
        config = exporters.write_config(workdir / "all.yaml", CATCH_ALL)
        with process_room(args.procs), procs.SleepFarm(args.procs, ttl=3600):
            print(f"spawned {args.procs} sleep processes", file=sys.stderr)
            for impl in impls:
                print(f"measuring {impl.name} ...", file=sys.stderr)
                results.append(measure(impl, config, workdir, args.scrapes, args.timeout))
    print(report(results, args.procs, args.scrapes))
    if args.json:
        print(json.dumps({"procs": args.procs, "scrapes": args.scrapes, "results": [asdict(r) for r in results]}))
    short = [r.impl for r in results if r.sleep_procs_seen < args.procs]
    if short:
        print(f"WARNING: {short} saw fewer than {args.procs} sleep processes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
