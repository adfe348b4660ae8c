"""Bench: time from creating a ProcessMonitor to all children present and status Ready=True (local cluster).

    python bench/operator_latency.py [--nodes 3] [--count 10]

Creates --count ProcessMonitors one after another through the API (lightkube, like `kubectl apply`), and for each
measures, on a watch of ProcessMonitors, the time until Ready=True with observedGeneration current (Ready is only
set once every child is applied and every desired agent is ready, which kwok makes immediate). Prints each figure
and min/median/p95/max; the target (design.md) is < 2 s.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile
import time

from operator_common import Operator, is_ready, local_cluster, percentile, processmonitor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--count", type=int, default=10)
    args = ap.parse_args()
    from lightkube import Client
    from lightkube.generic_resource import create_namespaced_resource

    pm_res = create_namespaced_resource("monitoring.process-monitor.dev", "v1alpha1", "ProcessMonitor",
                                        "processmonitors")
    work = pathlib.Path(tempfile.mkdtemp(prefix="pm-bench-"))
    with local_cluster(args.nodes) as c:
        ns = f"bench-latency-{int(time.time())}"
        c.kubectl("create", "namespace", ns)
        op = Operator(c, ["-n", ns], work / "operator.log")
        try:
            client = Client(field_manager="bench")
            latencies = []
            for i in range(args.count):
                name = f"lat-{i}"
                t0 = time.monotonic()
                client.create(pm_res(processmonitor(name, ns)))
                done = None
                # The watch replays the current state first, then every change; stop at the first Ready=True.
                for _, obj in client.watch(pm_res, namespace=ns, fields={"metadata.name": name}):
                    if is_ready(obj):
                        done = time.monotonic() - t0
                        break
                    if time.monotonic() - t0 > 60:
                        break
                latencies.append(done if done is not None else float("nan"))
                print(f"{name}: create -> Ready {latencies[-1]:.3f}s", flush=True)
            ok = [x for x in latencies if x == x]
            print(f"apply->Ready over {len(ok)}/{args.count} ProcessMonitors on {len(c.nodes)} nodes: "
                  f"min {min(ok):.3f}s median {statistics.median(ok):.3f}s p95 {percentile(ok, 0.95):.3f}s "
                  f"max {max(ok):.3f}s (target < 2 s: ratio max/target {max(ok) / 2:.2f})")
            print(f"operator writes: {op.calls(('apply', 'patch', 'delete')):.0f} for {args.count} creations")
        finally:
            op.stop()


if __name__ == "__main__":
    main()
