"""Bench: operator memory (RSS) with many ProcessMonitors on many kwok nodes.

    python bench/operator_rss.py [--pms 100] [--nodes 500] [--schedule all|none]

Starts a local cluster with --nodes fake nodes, the operator watching all namespaces, then creates --pms
ProcessMonitors (in 10 namespaces). --schedule all lets every DaemonSet place an agent on every node
(pms x nodes pods: heavy for the API server on a small machine); --schedule none gives each a nodeSelector that
no node matches, so the operator's own load (children, watches, statuses) is measured without the pods.
Prints the operator's RSS and peak RSS before, after all are Ready, and after a steady minute.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

from operator_common import Operator, is_ready, local_cluster, processmonitor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pms", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--schedule", choices=("all", "none"), default="none")
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--steady", type=float, default=60.0)
    args = ap.parse_args()
    import json

    import yaml

    work = pathlib.Path(tempfile.mkdtemp(prefix="pm-bench-"))
    with local_cluster(args.nodes) as c:
        namespaces = [f"bench-rss-{i}" for i in range(args.namespaces)]
        for ns in namespaces:
            c.kubectl("create", "namespace", ns)
        op = Operator(c, ["--resync-interval", "60"], work / "operator.log")
        try:
            time.sleep(3)
            rss0, _ = op.rss_kib()
            print(f"operator idle: RSS {rss0 / 1024:.1f} MiB", flush=True)
            agent = {} if args.schedule == "all" else {"nodeSelector": {"process-monitor.dev/bench": "nowhere"}}
            docs = [processmonitor(f"rss-{i}", namespaces[i % len(namespaces)], agent=agent)
                    for i in range(args.pms)]
            t0 = time.monotonic()
            for start in range(0, len(docs), 20):
                c.apply_yaml(yaml.safe_dump_all(docs[start:start + 20]), timeout=300)
            deadline = t0 + 1800
            ready = 0
            while time.monotonic() < deadline:
                items = json.loads(c.kubectl("get", "processmonitors", "-A", "-o", "json", timeout=300).stdout)["items"]
                ready = sum(1 for o in items if is_ready(o))
                if ready >= args.pms:
                    break
                time.sleep(5)
            took = time.monotonic() - t0
            rss1, hwm1 = op.rss_kib()
            print(f"{ready}/{args.pms} Ready after {took:.1f}s on {args.nodes} nodes (schedule {args.schedule}): "
                  f"RSS {rss1 / 1024:.1f} MiB, peak {hwm1 / 1024:.1f} MiB", flush=True)
            time.sleep(args.steady)
            rss2, hwm2 = op.rss_kib()
            m = op.metrics()
            print(f"after {args.steady:.0f}s steady: RSS {rss2 / 1024:.1f} MiB, peak {hwm2 / 1024:.1f} MiB; "
                  f"per ProcessMonitor {(rss2 - rss0) / max(args.pms, 1):.0f} KiB above idle; "
                  f"reconciles {sum(v for k, v in m.items() if 'reconciles_total' in k):.0f}")
        finally:
            op.stop()


if __name__ == "__main__":
    main()
