#!/usr/bin/env python3
"""Scrape size and agent RSS with processes whose argv[0] is 128 KiB, this checkout's agent against another tree's.

A tenant's process names become label values: under process-exporter's default name `{{.ExeBase}}`, 20 processes
with a 128 KiB argv[0] (the kernel's MAX_ARG_STRLEN) are 20 groups with 128 KiB names, repeated on every series.
Spawns `--procs` such sleeps (distinct prefixes), then runs each agent in turn with the catch-all config
`process_names: [{cmdline: ['.+']}]` (default name) on 127.0.0.1, scrapes `--scrapes` times `--interval` apart,
and prints the last scrape's size, VmRSS after the scrapes, peak RSS (VmHWM) and CPU per scrape, and the ratios
after/before. The "before" agent is `--agent-src` (a directory holding process_monitor_agent/, e.g. a
`git worktree add /tmp/pm-base <commit>` checkout's agent/). Every process it starts is killed before it exits.

    git -C /work/main worktree add --detach /tmp/pm-base a440095
    flock /tmp/pm-bench.lock python bench/agent_long_argv.py --agent-src /tmp/pm-base/agent
"""

from __future__ import annotations

import argparse
import json
import pathlib
import secrets
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from harness import exporters, realprocs  # noqa: E402
from harness import exposition as ex  # noqa: E402

ARG_MAX_STRLEN = 128 << 10  # includes the terminating NUL
DEFAULT_NAME = [{"cmdline": [".+"]}]  # no name: {{.ExeBase}}


@dataclass
class Result:
    agent: str
    src: str
    scrape_bytes: int
    groups: int
    longest_group_name: int
    rss_mib: float  # VmRSS after the scrapes
    peak_rss_mib: float  # VmHWM
    cpu_per_scrape_s: float


def status_kib(pid: int, field: str) -> int:
    return int(realprocs.status_field(pid, field).split()[0])


def measure(label: str, src: pathlib.Path | None, config: pathlib.Path, workdir: pathlib.Path, scrapes: int,
            interval: float, timeout: float) -> Result:
    impl = exporters.agent(src or exporters.ROOT)  # None: this checkout, whatever PM_AGENT_SRC says
    with exporters.Exporter(impl, ["-config.path", str(config)], workdir, start_timeout=timeout) as exp:
        exp.scrape(timeout=timeout)
        cpu0 = exp.cpu_seconds()
        body = ""
        for _ in range(scrapes):
            time.sleep(interval)  # past the agent's 100 ms reuse window: every scrape is a collection
            body = exp.scrape(timeout=timeout)
        cpu = (exp.cpu_seconds() - cpu0) / scrapes
        rss, hwm = status_kib(exp.pid, "VmRSS"), status_kib(exp.pid, "VmHWM")
    names = list(ex.by_group(ex.parse(body), "num_procs"))
    return Result(label, str(src or ROOT / "agent"), len(body.encode()), len(names),
                  max((len(n.encode()) for n in names), default=0), rss / 1024, hwm / 1024, cpu)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b > 0 else "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=20, help="processes with a 128 KiB argv[0] (default 20)")
    ap.add_argument("--agent-src", type=pathlib.Path,
                    help="the 'before' agent: a directory holding process_monitor_agent/ (default: none, after only)")
    ap.add_argument("--scrapes", type=int, default=5, help="measured scrapes per agent (default 5)")
    ap.add_argument("--interval", type=float, default=0.5, help="pause before each scrape, seconds (default 0.5)")
    ap.add_argument("--timeout", type=float, default=300.0, help="bound on any start-up or scrape, seconds")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = ap.parse_args(argv)
    if args.agent_src is not None and not (args.agent_src / "process_monitor_agent" / "__main__.py").exists():
        ap.error(f"--agent-src {args.agent_src}: no process_monitor_agent/__main__.py there")

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-long-argv-") as tmp:
        workdir = pathlib.Path(tmp)
        config = exporters.write_config(workdir / "default-name.yaml", DEFAULT_NAME)
        prefix = "pm" + secrets.token_hex(2)
        with realprocs.ProcSet(workdir, ttl=1800) as ps:
            for i in range(args.procs):
                ps.sleeper(f"{prefix}-long", argv0=f"{prefix}{i:03d}" + "x" * (ARG_MAX_STRLEN - 1 - len(prefix) - 3))
            print(f"spawned {args.procs} sleeps with a {ARG_MAX_STRLEN - 1}-byte argv[0]", file=sys.stderr)
            if args.agent_src is not None:
                print(f"measuring before ({args.agent_src}) ...", file=sys.stderr)
                results.append(measure("before", args.agent_src, config, workdir, args.scrapes, args.interval,
                                       args.timeout))
            print("measuring after (this checkout) ...", file=sys.stderr)
            results.append(measure("after", None, config, workdir, args.scrapes, args.interval, args.timeout))

    print(f"{args.procs} processes with a {ARG_MAX_STRLEN - 1}-byte argv[0], default name {{{{.ExeBase}}}}, "
          f"catch-all config, {args.scrapes} scrapes {args.interval}s apart")
    print(f"{'agent':<8} {'scrape bytes':>13} {'groups':>7} {'longest name':>12} {'RSS MiB':>8} {'peak RSS MiB':>12} "
          f"{'CPU s/scrape':>12}  src")
    for r in results:
        print(f"{r.agent:<8} {r.scrape_bytes:>13} {r.groups:>7} {r.longest_group_name:>12} {r.rss_mib:>8.1f} "
              f"{r.peak_rss_mib:>12.1f} {r.cpu_per_scrape_s:>12.4f}  {r.src}")
    if len(results) == 2:
        b, a = results
        print(f"after/before: scrape size {ratio(a.scrape_bytes, b.scrape_bytes)}, RSS {ratio(a.rss_mib, b.rss_mib)}, "
              f"peak RSS {ratio(a.peak_rss_mib, b.peak_rss_mib)}, CPU per scrape "
              f"{ratio(a.cpu_per_scrape_s, b.cpu_per_scrape_s)}")
    if args.json:
        print(json.dumps({"procs": args.procs, "results": [asdict(r) for r in results]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
