#!/usr/bin/env python3
"""Per-scrape CPU and peak RSS of our agent against process-exporter, with N live sleeping processes.

Spawns N `sleep` processes, then runs each available exporter in turn (Debian's prometheus-process-exporter,
upstream v0.8.7 if built, our agent) with the catch-all config `{name: "{{.Comm}}", cmdline: ['.+']}` on a free
127.0.0.1 port, scrapes it --scrapes times back to back, and measures CPU seconds per scrape from utime+stime of
the exporter (/proc/<pid>/stat) and its peak RSS (VmHWM). Prints a table and the agent/process-exporter ratios
(targets: CPU <= 0.2, RSS <= 1). Every process it starts is killed before it exits.

    python bench/agent_scrape.py --procs 2000 --scrapes 20
    python bench/agent_scrape.py --procs 2000 --config narrow --basic-auth-cost 10   # the walk alone, with auth
    python bench/agent_scrape.py --procs 2000 --kubernetes   # also the agent with -kubernetes.labels (row agent+kube)

With --baseline-src DIR the agent of another source tree runs too, in the same run and against the same processes,
as the row `agent@baseline` (DIR is a checkout, e.g. `git worktree add /tmp/pm-before <commit>`, or a directory
holding its process_monitor_agent/); the report adds the before/after ratios agent/agent@baseline of CPU per
scrape, CPU per process seen and peak RSS, and agent@baseline/process-exporter beside agent/process-exporter:

    git worktree add --detach /tmp/pm-before <commit>   # the tree before the change
    flock /tmp/pm-bench.lock python bench/agent_scrape.py --procs 2000 --baseline-src /tmp/pm-before
    flock /tmp/pm-bench.lock python bench/agent_scrape.py --procs 10000 --scrapes 10 --baseline-src /tmp/pm-before

With --kubernetes the agent (and the baseline, if given) runs a second time with -kubernetes.labels and its
log-directory flags pointed at an empty tree: every cgroup is read and parsed, groups are keyed by label set, every
series carries the three labels. The host's processes are not in pods, so names are not looked up;
bench/attribution_micro.py measures that part.
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

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from harness import exporters, realprocs  # noqa: E402
from harness import exposition as ex  # noqa: E402

CATCH_ALL = [{"name": "{{.Comm}}", "cmdline": [".+"]}]
# Matches nothing: every process is read once and then ignored, so a scrape is a walk over /proc/*/stat.
NARROW = [{"name": "none", "comm": ["no-such-process-xyzzy"]}]
CONFIGS = {"catch-all": CATCH_ALL, "narrow": NARROW}
PID_MAX = pathlib.Path("/proc/sys/kernel/pid_max")
CPU_TARGET, RSS_TARGET = 0.2, 1.0
BASELINE = exporters.AGENT + "@baseline"  # the row of --baseline-src's agent
BASIC_AUTH = ("bench", "bench-password")


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
    collections: int  # agent only: collections done during the measured scrapes (-1 if not reported)


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


def web_config_with_basic_auth(workdir: pathlib.Path, rounds: int) -> pathlib.Path:
    """An exporter-toolkit web config with one user (BASIC_AUTH) and a bcrypt hash of the given cost."""
    import bcrypt  # the agent's own dependency (stdlib crypt is gone in Python 3.13)

    hashed = bcrypt.hashpw(BASIC_AUTH[1].encode(), bcrypt.gensalt(rounds)).decode()
    path = workdir / "web.yaml"
    path.write_text(yaml.safe_dump({"basic_auth_users": {BASIC_AUTH[0]: hashed}}))
    return path


def measure(impl: exporters.Implementation, config: pathlib.Path, workdir: pathlib.Path, scrapes: int,
            timeout: float, interval: float, web_config: pathlib.Path | None = None,
            extra: tuple[str, ...] = ()) -> Result:
    args = ["-config.path", str(config), *extra]
    if web_config is not None:
        args += ["-web.config.file", str(web_config)]
    auth = BASIC_AUTH if web_config is not None else None
    with exporters.Exporter(impl, args, workdir, start_timeout=timeout, auth=auth) as exp:
        startup = exp.cpu_seconds()
        first = ex.parse(exp.scrape(timeout=timeout))
        warm = exp.cpu_seconds()
        body, wall = "", 0.0
        for _ in range(scrapes):
            # Pause first: the agent reuses a collection younger than 100 ms, and Prometheus never scrapes that
            # often; the pause makes every measured scrape a real collection (idle CPU is counted, and tiny).
            time.sleep(interval)
            t0 = time.monotonic()
            body = exp.scrape(timeout=timeout)
            wall += time.monotonic() - t0
        cpu = exp.cpu_seconds() - warm
        last = ex.parse(body)
        num_procs = ex.by_group(last, "num_procs")
        name = impl.name + ("+kube" if extra else "")
        return Result(name, startup, warm - startup, cpu / scrapes, wall / scrapes,
                      exp.peak_rss_bytes() / 2**20, int(num_procs.get("sleep", 0)), int(sum(num_procs.values())),
                      len(body.encode()), collections_between(first, last))


def collections_between(first: list[ex.Sample], last: list[ex.Sample]) -> int:
    """Collections the agent reports having done between two scrapes; -1 for exporters that do not say."""
    a = ex.select(first, "process_monitor_agent_collections_total")
    b = ex.select(last, "process_monitor_agent_collections_total")
    return int(b[0].value - a[0].value) if a and b else -1


def per_proc_ms(r: Result) -> float:
    """CPU per scrape per process the exporter reported: comparable when other processes came and went between
    the exporters' turns."""
    return 1000 * r.cpu_per_scrape_s / r.procs_seen if r.procs_seen else 0.0


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b > 0 else "n/a"


def report(results: list[Result], procs_count: int, scrapes: int, interval: float, config: str) -> str:
    lines = [f"{procs_count} sleeping processes spawned (+ whatever else runs), {scrapes} scrapes each "
             f"{interval}s apart, {config} config; exporters run one at a time",
             f"{'exporter':<26} {'startup CPU s':>13} {'1st scrape CPU s':>16} {'CPU s/scrape':>12} "
             f"{'wall s/scrape':>13} {'CPU ms/proc':>11} {'peak RSS MiB':>12} {'sleep procs':>11} {'all procs':>9} "
             f"{'collections':>11}"]
    for r in results:
        lines.append(f"{r.impl:<26} {r.startup_cpu_s:>13.3f} {r.warmup_cpu_s:>16.3f} {r.cpu_per_scrape_s:>12.4f} "
                     f"{r.wall_per_scrape_s:>13.4f} {per_proc_ms(r):>11.4f} {r.peak_rss_mib:>12.1f} "
                     f"{r.sleep_procs_seen:>11} {r.procs_seen:>9} "
                     f"{r.collections if r.collections >= 0 else '-':>11}")
    by_name = {r.impl: r for r in results}
    agent = by_name.get(exporters.AGENT)
    kube = by_name.get(exporters.AGENT + "+kube")
    base, base_kube = by_name.get(BASELINE), by_name.get(BASELINE + "+kube")
    if agent and kube:
        lines.append(f"agent+kube/agent: CPU per scrape {ratio(kube.cpu_per_scrape_s, agent.cpu_per_scrape_s)} "
                     f"(attribution must not double it), peak RSS {ratio(kube.peak_rss_mib, agent.peak_rss_mib)}")
    for after, before in ((agent, base), (kube, base_kube)):
        if after and before:
            lines.append(f"{after.impl}/{before.impl} (after/before): CPU per scrape "
                         f"{ratio(after.cpu_per_scrape_s, before.cpu_per_scrape_s)} (per process seen "
                         f"{ratio(per_proc_ms(after), per_proc_ms(before))}), peak RSS "
                         f"{ratio(after.peak_rss_mib, before.peak_rss_mib)}")
    for peer in (exporters.DEBIAN, exporters.UPSTREAM):
        other = by_name.get(peer)
        for a in (agent, kube, base, base_kube):
            if not (a and other):
                continue
            agent_name = a.impl
            cpu_r = ratio(a.cpu_per_scrape_s, other.cpu_per_scrape_s)
            per_proc_r = ratio(per_proc_ms(a), per_proc_ms(other))
            rss_r = ratio(a.peak_rss_mib, other.peak_rss_mib)
            lines.append(f"{agent_name}/{peer}: CPU per scrape {cpu_r} (target <= {CPU_TARGET}; per process seen "
                         f"{per_proc_r}), peak RSS {rss_r} (target <= {RSS_TARGET})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=2000, help="sleeping processes to spawn (default 2000)")
    ap.add_argument("--scrapes", type=int, default=20, help="measured scrapes per exporter (default 20)")
    ap.add_argument("--impl", default=",".join(exporters.FACTORIES),
                    help=f"comma list among {', '.join(exporters.FACTORIES)} (default: all available)")
    ap.add_argument("--interval", type=float, default=0.5,
                    help="pause before each measured scrape, seconds (default 0.5; > the agent's 100 ms reuse window)")
    ap.add_argument("--timeout", type=float, default=300.0, help="bound on any one startup or scrape, seconds")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="catch-all",
                    help="catch-all (default, the design target) or narrow (matches nothing: the walk alone)")
    ap.add_argument("--kubernetes", action="store_true",
                    help="also run the agent with -kubernetes.labels (pod attribution on), reported as agent+kube")
    ap.add_argument("--baseline-src", type=pathlib.Path, default=None,
                    help="also run the agent of this source tree (a checkout, or a directory holding "
                         "process_monitor_agent/) as row agent@baseline, and print after/before ratios")
    ap.add_argument("--basic-auth-cost", type=int, default=0,
                    help="if > 0, serve with -web.config.file basic auth (bcrypt of this cost) and scrape with it")
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
    if args.baseline_src is not None:
        try:
            impls.append(exporters.agent(args.baseline_src, name=BASELINE))
        except exporters.Unavailable as e:
            ap.error(f"--baseline-src: {e}")
    if not impls:
        print("no exporter available", file=sys.stderr)
        return 2

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-agent-scrape-") as tmp:
        workdir = pathlib.Path(tmp)
        config = exporters.write_config(workdir / f"{args.config}.yaml", CONFIGS[args.config])
        web = web_config_with_basic_auth(workdir, args.basic_auth_cost) if args.basic_auth_cost > 0 else None
        with process_room(args.procs), realprocs.SleepFarm(args.procs, ttl=3600):
            print(f"spawned {args.procs} sleep processes", file=sys.stderr)
            for impl in impls:
                print(f"measuring {impl.name} ...", file=sys.stderr)
                results.append(measure(impl, config, workdir, args.scrapes, args.timeout, args.interval, web))
                if args.kubernetes and impl.name in (exporters.AGENT, BASELINE):
                    logs = workdir / "kubelet-logs"
                    (logs / "pods").mkdir(parents=True, exist_ok=True)
                    (logs / "containers").mkdir(exist_ok=True)
                    kube = ("-kubernetes.labels", f"-kubernetes.pod-logs-dir={logs / 'pods'}",
                            f"-kubernetes.container-logs-dir={logs / 'containers'}")
                    print(f"measuring {impl.name} with -kubernetes.labels ...", file=sys.stderr)
                    results.append(measure(impl, config, workdir, args.scrapes, args.timeout, args.interval, web,
                                           kube))
    if web is not None:
        print(f"with -web.config.file basic auth, bcrypt cost {args.basic_auth_cost}; every scrape authenticates")
    print(report(results, args.procs, args.scrapes, args.interval, args.config))
    if args.json:
        print(json.dumps({"procs": args.procs, "scrapes": args.scrapes, "interval": args.interval,
                          "results": [asdict(r) for r in results]}))
    cached = [r.impl for r in results if 0 <= r.collections < args.scrapes]
    if cached:
        print(f"WARNING: {cached} served some scrapes from a reused collection; raise --interval", file=sys.stderr)
    short = [r.impl for r in results if args.config == "catch-all" and r.sleep_procs_seen < args.procs]
    if short:
        print(f"WARNING: {short} saw fewer than {args.procs} sleep processes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
