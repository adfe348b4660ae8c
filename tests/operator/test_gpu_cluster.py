"""spec.gpu and the gpu matcher against the real API server (local control plane, marker `cluster`): the CRD
accepts the GPU example and an entry whose only matcher is `gpu`, and refuses a non-boolean `gpu`, an entry without
any matcher, and an unknown spec.gpu field; the defaulted object reads `gpu.enabled: false`; and what the GPU case
renders (DaemonSet with runtimeClassName, merged affinity, toolkit env) passes strict server-side validation."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.cluster

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _pm(namespace: str, entries: list[dict[str, Any]], **spec: Any) -> str:
    return yaml.safe_dump({"apiVersion": "monitoring.process-monitor.dev/v1alpha1", "kind": "ProcessMonitor",
                           "metadata": {"name": "g", "namespace": namespace},
                           "spec": {"processNames": entries, **spec}})


def _dry_run(kube_cluster: Any, body: str) -> Any:
    return kube_cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-", input=body, check=False)


def test_crd_accepts_the_gpu_fields_and_refuses_bad_ones(kube_cluster: Any, namespace: str,
                                                         pm_crd: pathlib.Path) -> None:
    example = yaml.safe_load((ROOT / "examples" / "gpu-node-pool.yaml").read_text())
    example["metadata"]["namespace"] = namespace
    out = _dry_run(kube_cluster, yaml.safe_dump(example))
    assert out.returncode == 0, out.stderr
    out = _dry_run(kube_cluster, _pm(namespace, [{"name": "x", "gpu": True}], gpu={"enabled": True}))
    assert out.returncode == 0, out.stderr
    out = _dry_run(kube_cluster, _pm(namespace, [{"name": "x", "gpu": "yes"}]))
    assert out.returncode != 0 and "gpu" in out.stderr
    out = _dry_run(kube_cluster, _pm(namespace, [{"name": "x"}]))
    assert out.returncode != 0 and "no matchers provided" in out.stderr and "gpu" in out.stderr
    out = _dry_run(kube_cluster, _pm(namespace, [{"name": "x", "gpu": True}], gpu={"enabled": True, "nodeLabels": 1}))
    assert out.returncode != 0 and "nodeLabels" in out.stderr


def test_api_server_defaults_gpu_off(kube_cluster: Any, namespace: str, pm_crd: pathlib.Path) -> None:
    kube_cluster.apply_yaml(_pm(namespace, [{"name": "x", "comm": ["x"]}]))
    obj = kube_cluster.get_json("processmonitor", "g", "-n", namespace)
    assert obj["spec"]["gpu"] == {"enabled": False}


def test_rendered_gpu_daemonset_passes_strict_validation(kube_cluster: Any, namespace: str) -> None:
    case = ROOT / "tests" / "operator" / "cases" / "gpu.yaml"
    without = ["--without", "ServiceMonitor", "--without", "PodMonitor", "--without", "PrometheusRule"]
    argv = [sys.executable, "-m", "process_monitor_operator.cli", "render", "-f", str(case), *without]
    rendered = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True, cwd=ROOT).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    for d in docs:
        d["metadata"]["namespace"] = namespace
    assert any(d["kind"] == "DaemonSet" and d["spec"]["template"]["spec"]["runtimeClassName"] == "nvidia" for d in docs)
    out = kube_cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-",
                               input=yaml.safe_dump_all(docs), check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("(server dry run)") == len(docs)

