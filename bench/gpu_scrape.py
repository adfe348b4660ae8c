#!/usr/bin/env python3
"""The agent's CPU per scrape with GPU metrics on and off, against the fake NVML (no GPU needed).

Spawns --procs `sleep` processes and scripts the fake NVML (tools/fakenvml, a test double for absent hardware,
loaded through the real nvidia-ml-py binding) with --devices GPUs and --gpu-procs of those sleepers spread over
them, each with used memory and a utilisation sample stamped "now" (so every read goes through NVML's
utilisation path, never the idle NOT_FOUND shortcut). Then runs this checkout's agent three times on 127.0.0.1:

- off:     the catch-all config, no -gpu.enabled (the drop-in default);
- on:      the same config with -gpu.enabled (NVML read, per-group GPU families);
- matcher: -gpu.enabled and a `gpu: true` rule ahead of the catch-all (names GPU processes by GPU).

Then, in this process, the same three as Collectors over the same /proc, their collections interleaved
(off, on, matcher, off, ...) so that the machine's other load hits all three alike: process CPU time per
collection (the NVML worker thread included), median of --scrapes each.

Per run: CPU seconds per scrape (utime+stime of the agent over --scrapes scrapes, a pause of --interval before
each so that every scrape is a fresh collection), the agent's own NVML read time, and the exposition size. The three
runs are repeated --rounds times in turn and each keeps its lowest CPU figure (on a shared machine the other load
only ever adds). Prints a table and the on/off ratios. Every process it starts is killed before it exits.

    python bench/gpu_scrape.py                      # 8 GPUs, 500 GPU processes, 2,000 processes in all
    python bench/gpu_scrape.py --devices 8 --gpu-procs 500 --procs 2000 --scrapes 20
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time
from dataclasses import dataclass

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import fakenvml  # noqa: E402
from harness import exporters, realprocs  # noqa: E402
from harness import exposition as ex  # noqa: E402

CATCH_ALL = [{"name": "{{.Comm}}", "cmdline": [".+"]}]
MATCHER = [{"name": "gpu:{{.Comm}}@{{.GPUs}}", "gpu": True}, *CATCH_ALL]


@dataclass
class Run:
    name: str
    cpu_per_scrape_s: float
    nvml_read_s: float  # process_monitor_agent_gpu_read_duration_seconds of the last scrape (0 when off)
    gpu_series: int  # namedprocess_namegroup_gpu_* samples in the last scrape
    gpu_procs_tracked: int
    exposition_bytes: int
    collections: int


def scenario(pids: list[int], devices: int) -> fakenvml.Scenario:
    s = fakenvml.Scenario()
    for d in range(devices):
        s.device(f"GPU-{d:08x}-0000-4000-8000-{d:012x}", "NVIDIA H100 80GB HBM3")
    for i, pid in enumerate(pids):
        dev = i % devices
        s.proc(dev, pid, (i + 1) * 16 * 2**20)
        s.util(dev, pid, sm=(i * 7) % 100, mem=(i * 3) % 100, ts="now")
    return s


def measure(name: str, impl: exporters.Implementation, config: pathlib.Path, flags: list[str],
            workdir: pathlib.Path, scrapes: int, interval: float) -> Run:
    with exporters.Exporter(impl, ["-config.path", str(config), *flags], workdir, start_timeout=120) as exp:
        first = ex.parse(exp.scrape(timeout=60))
        warm = exp.cpu_seconds()
        body = ""
        for _ in range(scrapes):
            time.sleep(interval)  # past the 100 ms reuse window: every measured scrape collects
            body = exp.scrape(timeout=60)
        cpu = exp.cpu_seconds() - warm
    last = ex.parse(body)

    def one(metric: str, **labels: str) -> float:
        got = [s.value for s in ex.select(last, metric) if all(s.labels.get(k) == v for k, v in labels.items())]
        return got[0] if got else 0.0

    a = ex.select(first, "process_monitor_agent_collections_total")
    b = ex.select(last, "process_monitor_agent_collections_total")
    gpu_series = sum(1 for s in last if s.name.startswith("namedprocess_namegroup_gpu_"))
    return Run(name, cpu / scrapes, one("process_monitor_agent_gpu_read_duration_seconds"), gpu_series,
               int(one("process_monitor_agent_gpu_processes", state="tracked")), len(body.encode()),
               int(b[0].value - a[0].value) if a and b else -1)


def interleaved(lib: pathlib.Path, n: int) -> dict[str, float]:
    """Median process CPU seconds per collection of three in-process Collectors, collections interleaved."""
    sys.path.insert(0, str(ROOT / "agent"))
    from process_monitor_agent.collector import Collector
    from process_monitor_agent.config import config_from_document
    from process_monitor_agent.gpu.monitor import GpuMonitor
    from process_monitor_agent.track import Settings

    def make(rules: list[dict[str, object]], gpu: bool) -> Collector:
        monitor = GpuMonitor(timeout=5.0, library=str(lib)) if gpu else None
        return Collector(Settings(), config_from_document({"process_names": rules}), max_age=0.0, gpu=monitor)

    collectors = {"off": make(CATCH_ALL, False), "on": make(CATCH_ALL, True), "matcher": make(MATCHER, True)}
    cpu: dict[str, list[float]] = {k: [] for k in collectors}
    for c in collectors.values():
        c.collect()  # priming: first sight of every process
    for _ in range(n):
        for name, c in collectors.items():
            t = time.process_time()
            c.collect()
            cpu[name].append(time.process_time() - t)
    return {k: sorted(v)[len(v) // 2] for k, v in cpu.items()}


def report(runs: list[Run], args: argparse.Namespace) -> str:
    lines = [f"agent CPU per scrape, fake NVML: {args.devices} GPUs, {args.gpu_procs} GPU processes, "
             f"{args.procs} sleepers (+ the machine's own processes), {args.scrapes} scrapes per run, "
             f"best of {args.rounds} rounds",
             f"{'run':<8} {'cpu/scrape ms':>13} {'nvml read ms':>12} {'gpu series':>10} {'gpu tracked':>11} "
             f"{'bytes':>9} {'collections':>11}"]
    for r in runs:
        lines.append(f"{r.name:<8} {r.cpu_per_scrape_s * 1e3:>13.2f} {r.nvml_read_s * 1e3:>12.2f} "
                     f"{r.gpu_series:>10} {r.gpu_procs_tracked:>11} {r.exposition_bytes:>9} {r.collections:>11}")
    off = runs[0].cpu_per_scrape_s
    for r in runs[1:]:
        extra = (r.cpu_per_scrape_s - off) * 1e3
        lines.append(f"{r.name}/off CPU: {r.cpu_per_scrape_s / off:.2f}x ({extra:+.2f} ms per scrape, "
                     f"{extra * 1e3 / max(args.gpu_procs, 1):+.1f} us per GPU process)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=8)
    p.add_argument("--gpu-procs", type=int, default=500)
    p.add_argument("--procs", type=int, default=2000, help="sleep processes in all (the GPU ones among them)")
    p.add_argument("--scrapes", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    if not 1 <= args.devices <= 64 or not 0 <= args.gpu_procs <= min(args.procs, 16000) or args.procs > 20000:
        p.error("want 1-64 devices, gpu-procs <= procs <= 20000")
    impl = exporters.agent()
    with tempfile.TemporaryDirectory(prefix="pm-gpu-bench-") as tmp:
        work = pathlib.Path(tmp)
        lib = fakenvml.build(work / "lib")
        cfg_plain = work / "catch-all.yaml"
        cfg_plain.write_text(yaml.safe_dump({"process_names": CATCH_ALL}))
        cfg_matcher = work / "matcher.yaml"
        cfg_matcher.write_text(yaml.safe_dump({"process_names": MATCHER}))
        with realprocs.SleepFarm(args.procs, ttl=900) as farm:
            os.environ[fakenvml.ENV] = str(scenario(farm.pids[: args.gpu_procs], args.devices).write(work / "s.txt"))
            on = ["-gpu.enabled", f"-gpu.library={lib}", "-gpu.timeout=5s"]
            plans = [("off", cfg_plain, []), ("on", cfg_plain, on), ("matcher", cfg_matcher, on)]
            best: dict[str, Run] = {}
            for _ in range(max(args.rounds, 1)):
                for name, cfg, flags in plans:
                    r = measure(name, impl, cfg, flags, work, args.scrapes, args.interval)
                    if name not in best or r.cpu_per_scrape_s < best[name].cpu_per_scrape_s:
                        best[name] = r
            runs = [best[name] for name, _, _ in plans]
            inproc = interleaved(lib, args.scrapes)
    print(report(runs, args))
    print(f"in process, interleaved, median CPU per collection over {args.scrapes}: "
          + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in inproc.items())
          + f"; on-off {(inproc['on'] - inproc['off']) * 1e3:+.2f} ms, matcher-off "
          f"{(inproc['matcher'] - inproc['off']) * 1e3:+.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
