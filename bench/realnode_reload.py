"""Reload latency on the real node: a rules-only ProcessMonitor change until the agent pod serves it.

    python bench/realnode_reload.py [--changes 10]

Starts its own local cluster with the real node (one kubelet fits per machine: stop `make quickstart`/`make
cluster-up REAL_NODES=1` first), builds and loads the images (cached), installs the chart, creates one
ProcessMonitor and then makes `--changes` rules-only changes. Each change adds a group that matches the agent itself,
so "served" is the first scrape of the agent pod (at 127.0.0.1, hostNetwork) that shows the new group. Per change
it records three instants:

- apply: `kubectl apply` of the ProcessMonitor returned;
- file: the kubelet swapped the ConfigMap volume's `..data` link in the pod's volume directory on this host;
- served: the first scrape showing the new group (polled every 25 ms).

and prints p50/p95 of file->served (the agent's part: inotify, parse, swap) and apply->served (what a user waits:
the operator, the kubelet's ConfigMap sync, and the agent). The kubelet here runs with syncFrequency 10 s
(localcluster.realnode.SYNC_FREQUENCY); a production kubelet's default of 1 m plus its ConfigMap cache TTL makes
apply->served up to ~60-90 s there, while file->served stays what it is here. Every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from harness.wait import wait_for  # noqa: E402
from localcluster import cluster, images, realnode, realpods  # noqa: E402
from localcluster.ports import free_port  # noqa: E402

NS_OPERATOR, NS_AGENTS, PM = "pm-bench-system", "pm-bench", "bench"


def pmon(port: int, rule_name: str) -> dict[str, object]:
    return {"apiVersion": "monitoring.process-monitor.dev/v1alpha1", "kind": "ProcessMonitor",
            "metadata": {"name": PM, "namespace": NS_AGENTS},
            "spec": {"processNames": [{"name": rule_name, "comm": ["process-monitor"]},
                                      {"name": "{{.Comm}}", "cmdline": [".+"]}],
                     "agent": {"hostNetwork": True, "port": port},
                     "prometheus": {"serviceMonitor": {"mode": "off"}}}}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--changes", type=int, default=10, help="rules-only changes to time (default 10)")
    args = ap.parse_args()
    if not 1 <= args.changes <= 100:
        ap.error("--changes must be 1..100")
    state = pathlib.Path(tempfile.mkdtemp(prefix="pm-bench-realnode-"))
    reason = realnode.preflight(state)
    if reason:
        print(f"realnode_reload: no real node here: {reason}", file=sys.stderr)
        return 2
    started = time.monotonic()
    built = images.build(progress=lambda m: print("  " + m, flush=True))
    c = cluster.up(cluster.Settings(state, nodes=1, real_nodes=1), progress=lambda m: print("  " + m, flush=True))
    try:
        ctr = cluster.real_node_ctr(state)
        assert ctr is not None and c.real_node
        for name, archive in built.archives.items():
            images.import_archive(ctr, archive, name)
        for ns in (NS_OPERATOR, NS_AGENTS):
            c.kubectl("create", "namespace", ns)
            c.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=privileged")
        values = realpods.chart_values(c.server, probe_port=free_port(), metrics_port=free_port())
        values["tests"] = {"enabled": False}
        c.helm("install", "pm", str(ROOT / "charts/process-monitor"), "-n", NS_OPERATOR, "-f", "-", "--wait",
               "--timeout", "4m", input=json.dumps(values), timeout=300)
        port = free_port()
        c.apply_yaml(json.dumps(pmon(port, "r0")))
        pod = wait_for("the agent pod Ready", lambda: [p for p in realpods.pods_on_real_node(
            c.kubectl, NS_AGENTS, f"{realpods.PARENT_LABEL}={PM}") if realpods.pod_ready(p)], 180)[0]  # type: ignore[index]
        wait_for("group r0 served", lambda: 'groupname="r0"' in realpods.scrape(port), 120)
        data = (realnode.Paths(state / "realnode").kubelet_root / "pods" / pod["metadata"]["uid"] / "volumes"
                / "kubernetes.io~configmap" / "config" / "..data")
        print(f"setup done in {time.monotonic() - started:.0f}s; timing {args.changes} changes "
              f"(kubelet syncFrequency {realnode.SYNC_FREQUENCY})", flush=True)
        file_to_served, apply_to_served = [], []
        for i in range(1, args.changes + 1):
            group = f"r{i}"
            link = os.readlink(data)
            c.apply_yaml(json.dumps(pmon(port, group)))
            t_apply = time.monotonic()
            t_file = t_served = None
            deadline = t_apply + 180
            while time.monotonic() < deadline and t_served is None:
                now = time.monotonic()
                if t_file is None and os.readlink(data) != link:
                    t_file = now
                if t_file is not None and f'groupname="{group}"' in realpods.scrape(port, timeout=2):
                    t_served = time.monotonic()
                time.sleep(0.025 if t_file is not None else 0.01)
            if t_file is None or t_served is None:
                raise SystemExit(f"change {i}: not served within 180 s (file swapped: {t_file is not None})")
            file_to_served.append(t_served - t_file)
            apply_to_served.append(t_served - t_apply)
            print(f"  change {i:2}: apply->file {t_file - t_apply:6.2f}s  file->served {t_served - t_file:5.3f}s  "
                  f"apply->served {t_served - t_apply:6.2f}s", flush=True)
        pod_after = realpods.pods_on_real_node(c.kubectl, NS_AGENTS, f"{realpods.PARENT_LABEL}={PM}")[0]
        restarts = pod_after["status"]["containerStatuses"][0]["restartCount"]
        same_pod = pod_after["metadata"]["uid"] == pod["metadata"]["uid"]
        print(f"\nfile->served  p50 {statistics.median(file_to_served):.3f}s  p95 {pct(file_to_served, 0.95):.3f}s  "
              f"max {max(file_to_served):.3f}s")
        print(f"apply->served p50 {statistics.median(apply_to_served):.2f}s  p95 {pct(apply_to_served, 0.95):.2f}s  "
              f"max {max(apply_to_served):.2f}s")
        print(f"agent pod unchanged: {same_pod}, restartCount {restarts}")
        return 0 if same_pod and restarts == 0 else 1
    finally:
        for line in cluster.down(state):
            print("  " + line)


if __name__ == "__main__":
    sys.exit(main())
