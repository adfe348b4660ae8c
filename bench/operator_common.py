"""Shared pieces of the operator benchmarks: a local cluster, the operator subprocess, ProcessMonitor helpers.

Used by bench/operator_*.py (run from the repository root: `python bench/operator_latency.py`). Starts its own
local control plane (tools/localcluster) in a temporary directory unless KUBECONFIG points at one already
(--reuse), and the operator on the host (tools/harness/operator_host.py, shared with the tests) with /metrics on
a free 127.0.0.1 port.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
for sub in ("operator", "tools", "agent"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "operator"), str(ROOT / "tools"), str(ROOT / "agent"),
                                            os.environ.get("PYTHONPATH", "")])

from harness.operator_host import OperatorOnHost  # noqa: E402
from localcluster import cluster as cluster_mod  # noqa: E402

GROUP_VERSION = "monitoring.process-monitor.dev/v1alpha1"



class ExistingCluster:
    """A cluster reached through KUBECONFIG (PM_BENCH_KUBECONFIG), with the few methods the benches use."""

    def __init__(self, kubeconfig: str) -> None:
        from localcluster import tools

        self.kubeconfig = kubeconfig
        self._kubectl = str(tools.binary("kubectl"))
        nodes = json.loads(self.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        self.nodes = tuple(n["metadata"]["name"] for n in nodes)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": self.kubeconfig, **(extra or {})}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self._kubectl, f"--kubeconfig={self.kubeconfig}", *args], input=input, text=True,
                              capture_output=True, check=check, timeout=timeout, env=self.env())

    def apply_yaml(self, text: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", input=text, timeout=timeout)


@contextlib.contextmanager
def local_cluster(nodes: int) -> Iterator[Any]:
    """A fresh local control plane with `nodes` kwok nodes, or the cluster of $PM_BENCH_KUBECONFIG if set."""
    existing = os.environ.get("PM_BENCH_KUBECONFIG")
    if existing:
        c: Any = ExistingCluster(existing)
        print(f"# using the cluster of {existing} ({len(c.nodes)} nodes)", flush=True)
        os.environ["KUBECONFIG"] = existing
        c.kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "processmonitor.yaml"))
        yield c
        return
    state = pathlib.Path(tempfile.mkdtemp(prefix="pm-bench-cluster-"))
    print(f"# starting local control plane with {nodes} kwok nodes in {state}", flush=True)
    t0 = time.monotonic()
    c = cluster_mod.up(cluster_mod.Settings(state, nodes=nodes, die_with_parent=True, start_timeout=600))
    print(f"# cluster up in {time.monotonic() - t0:.1f}s", flush=True)
    os.environ["KUBECONFIG"] = str(c.kubeconfig)
    try:
        c.kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "processmonitor.yaml"))
        c.wait_crds_established("processmonitors.monitoring.process-monitor.dev")
        yield c
    finally:
        cluster_mod.down(state)


class Operator(OperatorOnHost):
    """The operator on the host (harness.operator_host), started at once; `args` are its flags."""

    def __init__(self, c: Any, args: list[str], log: pathlib.Path) -> None:
        super().__init__(c, log, args, start_timeout=60.0, grace=30.0)
        self.start()


def processmonitor(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": GROUP_VERSION, "kind": "ProcessMonitor", "metadata": {"name": name, "namespace": namespace},
            "spec": {"processNames": [{"name": "{{.Comm}}", "cmdline": [".+"]}], **spec}}


def is_ready(obj: dict[str, Any]) -> bool:
    st = obj.get("status") or {}
    if st.get("observedGeneration") != obj["metadata"].get("generation"):
        return False
    return any(x.get("type") == "Ready" and x.get("status") == "True" for x in st.get("conditions") or [])


def list_pms(c: Any, namespace: str) -> list[dict[str, Any]]:
    out = c.kubectl("get", "processmonitors", "-n", namespace, "-o", "json", timeout=120)
    return list(json.loads(out.stdout)["items"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
