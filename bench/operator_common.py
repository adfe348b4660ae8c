"""Shared pieces of the operator benchmarks: a local cluster, the operator subprocess, ProcessMonitor helpers.

Used by bench/operator_*.py (run from the repository root: `python bench/operator_latency.py`). Starts its own
local control plane (tools/localcluster) in a temporary directory unless KUBECONFIG points at one already
(--reuse), and the operator as `python -m process_monitor_operator` with /metrics on a free 127.0.0.1 port.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
for sub in ("operator", "tools", "agent"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "operator"), str(ROOT / "tools"), str(ROOT / "agent"),
                                            os.environ.get("PYTHONPATH", "")])

from localcluster import cluster as cluster_mod  # noqa: E402
from localcluster.ports import free_port  # noqa: E402

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


class Operator:
    def __init__(self, c: Any, args: list[str], log: pathlib.Path) -> None:
        self.metrics_port = free_port()
        live = free_port()
        argv = [sys.executable, "-m", "process_monitor_operator", "--liveness-address", f"127.0.0.1:{live}",
                "--metrics-address", f"127.0.0.1:{self.metrics_port}", *args]
        self.log = open(log, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=c.env())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{live}/healthz", timeout=2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"operator exited, see {log}") from None
                time.sleep(0.2)
        raise RuntimeError(f"operator did not become live, see {log}")

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def calls(self, verbs: tuple[str, ...]) -> float:
        return sum(v for k, v in self.metrics().items() if k.startswith("process_monitor_operator_api_calls_total")
                   and any(f'verb="{verb}"' in k for verb in verbs))

    def rss_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the operator process in KiB."""
        fields = {}
        for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


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
