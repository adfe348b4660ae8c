#!/usr/bin/env python3
"""Reload latency of the agent: from a kubelet-style ConfigMap swap to the first scrape that shows the new group.

Lays out a directory the way the kubelet mounts a ConfigMap (a timestamped directory `..<ts>/config.yaml`, the
symlink `..data -> ..<ts>`, and `config.yaml -> ..data/config.yaml`), starts the agent with
`-config.path <dir>/config.yaml` on a free 127.0.0.1 port, then performs --swaps atomic swaps exactly as the
kubelet's AtomicWriter does (write a new timestamped directory, symlink `..data_tmp` to it, rename it over
`..data`, remove the old directory). Each swap adds a group for one already running process; the script scrapes
every --interval seconds until that group shows `num_procs 1` (bounded by --timeout per swap) and prints p50/p95
of the latencies (target p95 <= 1 s). It also checks that the counters of a group present throughout never go
down, and prints the agent's reload metrics. Every process it starts is killed before it exits.

    python bench/reload_latency.py --swaps 20
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import pathlib
import shutil
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from harness import exporters, realprocs  # noqa: E402
from harness import exposition as ex  # noqa: E402
from harness.wait import WaitTimeout, wait_for  # noqa: E402

P95_TARGET_S = 1.0


class ConfigMapDir:
    """A directory laid out and updated like the kubelet's projection of a ConfigMap with key `config.yaml`."""

    def __init__(self, root: pathlib.Path, content: str) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.serial = 0
        self.current = self._write_version(content)
        (root / "..data").symlink_to(self.current)
        (root / "config.yaml").symlink_to("..data/config.yaml")

    @property
    def path(self) -> pathlib.Path:
        return self.root / "config.yaml"

    def _write_version(self, content: str) -> str:
        self.serial += 1
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y_%m_%d_%H_%M_%S")
        name = f"..{stamp}.{os.getpid()}{self.serial:06d}"
        (self.root / name).mkdir(mode=0o755)
        (self.root / name / "config.yaml").write_text(content)
        return name

    def swap(self, content: str) -> None:
        """Atomically replace the content, as kubelet's AtomicWriter does."""
        new = self._write_version(content)
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(new)
        os.rename(tmp, self.root / "..data")
        shutil.rmtree(self.root / self.current)
        self.current = new


def config_text(prefix: str, groups: list[int]) -> str:
    names: list[dict[str, object]] = [{"name": "base", "comm": [f"{prefix}-base"]}]
    names += [{"name": f"g{i:02d}", "comm": [f"{prefix}-r{i:02d}"]} for i in groups]
    return yaml.safe_dump({"process_names": names}, sort_keys=False)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def wait_for_group(exp: exporters.Exporter, group: str, interval: float, timeout: float) -> list[ex.Sample] | None:
    """The first scrape that serves `group` with one process, polled every `interval` s; None after `timeout`."""
    def served() -> list[ex.Sample] | None:
        samples = ex.parse(exp.scrape(timeout=timeout))
        return samples if ex.by_group(samples, "num_procs").get(group) == 1 else None

    try:
        return wait_for(f"group {group} served", served, timeout, interval)
    except WaitTimeout:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--swaps", type=int, default=20)
    ap.add_argument("--interval", type=float, default=0.02, help="pause between polling scrapes, seconds")
    ap.add_argument("--timeout", type=float, default=10.0, help="give up on one swap after this many seconds")
    ap.add_argument("--gap", type=float, default=0.2, help="pause between swaps, seconds")
    args = ap.parse_args(argv)
    try:
        agent = exporters.agent()
    except exporters.Unavailable as e:
        print(f"cannot run: {e}", file=sys.stderr)
        return 2

    prefix = "pmrl" + os.urandom(2).hex()
    latencies: list[float] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as tmp, \
            realprocs.ProcSet(pathlib.Path(tmp), ttl=900) as ps:
        workdir = pathlib.Path(tmp)
        ps.worker(f"{prefix}-base", burn=0.0)
        for i in range(args.swaps):
            ps.sleeper(f"{prefix}-r{i:02d}")
        cm = ConfigMapDir(workdir / "configmap", config_text(prefix, []))
        with exporters.Exporter(agent, ["-config.path", str(cm.path)], workdir) as exp:
            last_cpu = ex.by_group(ex.parse(exp.scrape()), "cpu_seconds_total").get("base", 0.0)
            cpu_before = exp.cpu_seconds()
            for i in range(args.swaps):
                cm.swap(config_text(prefix, list(range(i + 1))))
                t0 = time.monotonic()
                samples = wait_for_group(exp, f"g{i:02d}", args.interval, args.timeout)
                if samples is None:
                    failures.append(f"swap {i + 1}: group g{i:02d} not served within {args.timeout}s")
                    latencies.append(math.inf)
                    continue
                latencies.append(time.monotonic() - t0)
                cpu = ex.by_group(samples, "cpu_seconds_total").get("base", -1.0)
                if cpu < last_cpu:
                    failures.append(f"swap {i + 1}: group base cpu_seconds_total went down {last_cpu} -> {cpu}")
                last_cpu = cpu
                time.sleep(args.gap)
            final = ex.parse(exp.scrape())
            agent_cpu = exp.cpu_seconds() - cpu_before
            log = exp.log_tail(1500)

    print(f"{args.swaps} kubelet-style ConfigMap swaps, each adding one group; "
          f"polling every {args.interval * 1000:.0f} ms")
    done = [x for x in latencies if math.isfinite(x)]
    if done:
        print(f"latency swap -> new group served: p50 {percentile(done, 50):.3f} s, p95 {percentile(done, 95):.3f} s, "
              f"max {max(done):.3f} s, min {min(done):.3f} s (target p95 <= {P95_TARGET_S} s)")
    print(f"agent CPU during the swaps (incl. polling scrapes): {agent_cpu:.2f} s")
    for name in ("process_monitor_agent_config_last_reload_successful",
                 "process_monitor_agent_config_last_reload_success_timestamp_seconds"):
        values = [s.value for s in ex.select(final, name)]
        print(f"{name}: {values[0] if values else 'MISSING'}")
    for s in final:
        if s.name.startswith("process_monitor_agent_config_reload"):
            print(f"{s.name}{s.labels}: {s.value}")
    if failures:
        print("FAILURES:\n  " + "\n  ".join(failures), file=sys.stderr)
        print(f"agent log tail:\n{log}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
