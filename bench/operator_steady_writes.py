"""Bench: API write calls the operator makes during steady state (target: zero).

    python bench/operator_steady_writes.py [--pms 10] [--duration 300] [--resync 10] [--nodes 3]

Creates --pms ProcessMonitors, waits until all are Ready and the follow-up reconciles have settled, then counts
the operator's API calls by verb (its own /metrics) over --duration seconds while it resyncs every --resync
seconds. Prints writes (apply + status patch + delete), reads, and reconciles in the window.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

from operator_common import Operator, is_ready, list_pms, local_cluster, processmonitor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pms", type=int, default=10)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--resync", type=float, default=10.0)
    ap.add_argument("--nodes", type=int, default=3)
    args = ap.parse_args()
    import yaml

    work = pathlib.Path(tempfile.mkdtemp(prefix="pm-bench-"))
    with local_cluster(args.nodes) as c:
        ns = f"bench-steady-{int(time.time())}"
        c.kubectl("create", "namespace", ns)
        op = Operator(c, ["-n", ns, "--resync-interval", str(args.resync)], work / "operator.log")
        try:
            docs = [processmonitor(f"steady-{i}", ns) for i in range(args.pms)]
            c.apply_yaml(yaml.safe_dump_all(docs), timeout=300)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not all(is_ready(o) for o in list_pms(c, ns)):
                time.sleep(1)
            time.sleep(max(5.0, args.resync))  # settle: reconciles caused by our own writes' watch events
            before = op.metrics()
            t0 = time.monotonic()
            time.sleep(args.duration)
            after = op.metrics()
            elapsed = time.monotonic() - t0

            def delta(pred: str) -> float:
                return sum(v - before.get(k, 0.0) for k, v in after.items() if pred in k)

            writes = sum(delta(f'verb="{v}"') for v in ("apply", "patch", "delete"))
            reads = delta('verb="get"')
            reconciles = delta("process_monitor_operator_reconciles_total")
            print(f"steady state: {args.pms} ProcessMonitors, {elapsed:.0f}s, resync every {args.resync:.0f}s: "
                  f"{reconciles:.0f} reconciles, {writes:.0f} write calls, {reads:.0f} read calls "
                  f"(writes per reconcile {writes / max(reconciles, 1):.3f}; target 0 writes)")
        finally:
            op.stop()


if __name__ == "__main__":
    main()
