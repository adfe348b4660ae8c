#!/usr/bin/env python3
"""Per-collection CPU of the agent's collector with Kubernetes attribution off, on (labels), and by template, on a
fake node where the processes really are in pods (which this machine cannot offer with real processes).

Builds a fake procfs (tools/harness/fakeproc.py) of --procs processes spread over --pods pods (one container
each, systemd/containerd cgroup paths, plus one pause process per pod) and a kubelet log tree naming them, then runs
the real Collector in this process for each mode: first collection (cgroup reads, one log-directory listing) and
--collections steady ones. Prints CPU per collection and the ratios against "off" (one group per name) and
"cgroups" (`{{.Cgroups}}/{{.Comm}}`: the same split, process-exporter's way, no attribution): the brief says
attribution must not double the per-scrape cost; more series cost what more series cost either way. Fake files
are read from tmpfs (/dev/shm when present), so absolute figures are lower than on /proc; the ratios are the
point. Leaves nothing behind.

    python bench/attribution_micro.py --procs 2000 --pods 200 --collections 20
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "agent"), str(ROOT / "tools")]

from harness.fakeproc import FakeProc  # noqa: E402
from process_monitor_agent.collector import Collector  # noqa: E402
from process_monitor_agent.config import parse_config  # noqa: E402
from process_monitor_agent.track import Settings  # noqa: E402

CATCH_ALL = 'process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n'
TEMPLATE = 'process_names:\n  - name: "{{.Namespace}}/{{.Pod}}/{{.Container}}/{{.Comm}}"\n    cmdline: [".+"]\n'
# What process-exporter users do today to split by container (upstream issue #90): the same number of groups
# without attribution, so labels/cgroups is the cost of attribution itself, not of having more series.
CGROUPS = 'process_names:\n  - name: "{{.Cgroups}}/{{.Comm}}"\n    cmdline: [".+"]\n'
MODES = {"off": (CATCH_ALL, False), "cgroups": (CGROUPS, False), "labels": (CATCH_ALL, True),
         "template": (TEMPLATE, False)}


def build(root: pathlib.Path, procs: int, pods: int) -> None:
    fp = FakeProc(root / "proc")
    logs, links = root / "pods", root / "containers"
    links.mkdir()
    pid = 100
    for p in range(pods):
        uid = f"00000000-0000-4000-8000-{p:012d}"
        cid, sid = f"{p:060x}c0de", f"{p:060x}5a4d"
        (logs / f"bench_pod-{p}_{uid}" / "main").mkdir(parents=True)
        (links / f"pod-{p}_bench_main-{cid}.log").symlink_to(logs / f"bench_pod-{p}_{uid}" / "main" / "0.log")
        slice_ = f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid.replace('-', '_')}.slice"
        fp.add(pid, comm="pause", cgroup=f"{slice_}/cri-containerd-{sid}.scope", fds=0)
        pid += 1
        for _ in range(max(procs // pods - 1, 0)):
            fp.add(pid, comm=f"worker{pid % 7}", cgroup=f"{slice_}/cri-containerd-{cid}.scope", fds=0)
            pid += 1


def run(root: pathlib.Path, mode: str, collections: int) -> tuple[float, float, int, int]:
    config, labels = MODES[mode]
    settings = Settings(procfs=str(root / "proc"), kube_labels=labels, pod_logs_dir=str(root / "pods"),
                        container_logs_dir=str(root / "containers"))
    col = Collector(settings, parse_config(config), self_metrics=False, max_age=0)
    c0 = time.thread_time()
    body = col.collect()
    first = time.thread_time() - c0
    c0 = time.thread_time()
    for _ in range(collections):
        body = col.collect()
    steady = (time.thread_time() - c0) / collections
    series = sum(1 for line in body.splitlines() if line.startswith(b"namedprocess_namegroup_num_procs{"))
    return first, steady, series, len(body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=2000)
    ap.add_argument("--pods", type=int, default=200)
    ap.add_argument("--collections", type=int, default=20)
    args = ap.parse_args(argv)
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="bench-attribution-", dir=base) as tmp:
        root = pathlib.Path(tmp)
        build(root, args.procs, args.pods)
        results = {m: run(root, m, args.collections) for m in MODES}
    print(f"{args.procs} fake processes in {args.pods} pods (one container + pause each), "
          f"{args.collections} steady collections per mode")
    print(f"{'mode':<10} {'1st collection CPU s':>20} {'steady CPU s/collection':>24} {'groups':>7} {'bytes':>8}")
    for m, (first, steady, series, size) in results.items():
        print(f"{m:<10} {first:>20.4f} {steady:>24.5f} {series:>7} {size:>8}")
    for base in ("off", "cgroups"):
        b = results[base]
        for m in ("labels", "template"):
            r = results[m]
            print(f"{m}/{base}: first collection {r[0] / b[0]:.2f}x, steady {r[1] / b[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
