"""prometheus-operator (built from the Go module proxy) on the local control plane turns the ServiceMonitor,
PodMonitor and PrometheusRule our renderer produces into Prometheus configuration and rule files.

prometheus-operator runs on the host against the test cluster (KUBECONFIG, metrics on 127.0.0.1, watching only the
test's namespace). A Prometheus CR selects our objects; its nodeSelector matches no kwok node, so no fake
Prometheus pod pretends to run and nothing ever connects to a cluster address. What the operator generates is read
back from the API server: the Secret `prometheus-<name>` (key `prometheus.yaml.gz`) must hold our two jobs with the
relabellings we asked for, and the rules ConfigMap `prometheus-<name>-rulefiles-0` our rule groups.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import os
import pathlib
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from harness.supervise import Supervised
from harness.wait import wait_for
from localcluster.ports import free_port
from process_monitor_operator.k8s.serialize import to_yaml
from process_monitor_operator.monitoring import rules
from process_monitor_operator.render import RenderOptions, render_all

pytestmark = pytest.mark.prometheus

PROMETHEUS = "pm-test"
ALERTS = {
    "alertLabels": {"team": "infra"},
    "rules": [{"cpuPercent": {"above": 90, "for": "10m"}},
              {"groupnames": ["postgres"], "minProcesses": {"count": 2, "for": "1m"}}],
}


def _binary() -> pathlib.Path:
    from localcluster import tools

    try:
        return tools.binary("prometheus-operator")
    except tools.ToolNotBuiltError as exc:
        if os.environ.get("PM_SKIP_CLUSTER") == "1":
            pytest.skip(str(exc))
        pytest.fail(f"{exc} (run `make setup`)", pytrace=False)



def _wait(what: str, fn: Any, timeout: float, log: pathlib.Path | None = None) -> Any:
    """harness.wait.wait_for, with the end of `log` in the timeout message."""
    tail = (lambda: log.read_text(errors="replace")[-4000:] if log.exists() else "") if log else None
    return wait_for(what, fn, timeout, 0.5, details=tail)


@pytest.fixture(scope="module")
def monitoring_crds(kube_cluster: Any) -> None:
    """prometheus-operator's own CRDs, from `prometheus-operator crds` (same version as the binary)."""
    out = subprocess.run([str(_binary()), "crds"], capture_output=True, text=True, timeout=60, check=True)
    kube_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=out.stdout, timeout=120)
    for crd in ("prometheuses", "servicemonitors", "podmonitors", "prometheusrules"):
        kube_cluster.wait_crds_established(f"{crd}.monitoring.coreos.com")


@contextlib.contextmanager
def _prometheus_operator(kube_cluster: Any, namespace: str, workdir: pathlib.Path) -> Iterator[pathlib.Path]:
    log = workdir / "prometheus-operator.log"
    argv = [str(_binary()), f"--web.listen-address=127.0.0.1:{free_port()}", f"--namespaces={namespace}",
            "--log-level=debug"]  # the API server comes from KUBECONFIG in kube_cluster.env()
    with Supervised("prometheus-operator", argv, log, env=kube_cluster.env(), grace=15.0) as proc:
        time.sleep(0.5)
        assert proc.running(), f"prometheus-operator exited at once:\n{log.read_text(errors='replace')}"
        yield log


def _rendered(namespace: str) -> dict[str, dict]:
    pm = {
        "apiVersion": "monitoring.process-monitor.dev/v1alpha1", "kind": "ProcessMonitor",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "processNames": [{"name": "{{.Comm}}", "comm": ["nginx", "postgres"]}],
            "prometheus": {
                "serviceMonitor": {"mode": "on", "interval": "15s", "labels": {"release": "pm-test"},
                                   "metricRelabelings": [{"action": "drop", "sourceLabels": ["__name__"],
                                                          "regex": "namedprocess_namegroup_thread_.*"}]},
                "podMonitor": {"mode": "on", "interval": "20s", "labels": {"release": "pm-test"}},
            },
            "alerts": {**ALERTS, "ruleLabels": {"release": "pm-test"}},
        },
    }
    kinds = {m["kind"]: m for m in render_all(pm, RenderOptions())
             if m["kind"] in ("ServiceMonitor", "PodMonitor", "PrometheusRule")}
    assert set(kinds) == {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    return kinds


def _prometheus_cr(namespace: str) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
        "metadata": {"name": PROMETHEUS, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "serviceAccountName": "default",
            # kube-prometheus-stack style: select by the release label our objects carry.
            "serviceMonitorSelector": {"matchLabels": {"release": "pm-test"}},
            "podMonitorSelector": {"matchLabels": {"release": "pm-test"}},
            "ruleSelector": {"matchLabels": {"release": "pm-test"}},
            # No kwok node has this label: the StatefulSet's pod stays Pending, nothing pretends to run Prometheus.
            "nodeSelector": {"process-monitor.dev/no-such-node": "true"},
        },
    }


def _relabel(job: dict, **match: Any) -> list[dict]:
    return [r for r in job.get("relabel_configs", []) if all(r.get(k) == v for k, v in match.items())]


def test_prometheus_operator_accepts_our_objects(kube_cluster: Any, namespace: str, monitoring_crds: None,
                                                 tmp_path: pathlib.Path) -> None:
    objs = _rendered(namespace)
    kube_cluster.apply_yaml(to_yaml(list(objs.values())), server_side=True)
    kube_cluster.apply_yaml(yaml.safe_dump(_prometheus_cr(namespace)), server_side=True)
    with _prometheus_operator(kube_cluster, namespace, tmp_path) as log:
        def config() -> dict | None:
            out = kube_cluster.kubectl("get", "secret", f"prometheus-{PROMETHEUS}", "-n", namespace, "-o",
                                       "jsonpath={.data.prometheus\\.yaml\\.gz}", check=False)
            if out.returncode != 0 or not out.stdout:
                return None
            doc = yaml.safe_load(gzip.decompress(base64.b64decode(out.stdout)))
            jobs = [j["job_name"] for j in doc.get("scrape_configs") or []]
            # Both monitors must be in: the operator may write a first config before it lists every object.
            return doc if len(jobs) >= 2 else None

        doc = _wait("prometheus-operator's config Secret with our jobs", config, 90, log)

        def rules_cm() -> dict | None:
            cms = kube_cluster.get_json("configmap", "-n", namespace,
                                        "-l", f"prometheus-name={PROMETHEUS}")["items"]
            return cms[0] if cms else None

        cm = _wait("prometheus-operator's rules ConfigMap", rules_cm, 60, log)

    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    sm_job = jobs[f"serviceMonitor/{namespace}/pmon-web/0"]
    pod_job = jobs[f"podMonitor/{namespace}/pmon-web/0"]
    assert sm_job["scrape_interval"] == "15s" and pod_job["scrape_interval"] == "20s"
    for job in (sm_job, pod_job):
        sd = job["kubernetes_sd_configs"][0]
        assert sd["namespaces"]["names"] == [namespace]
        # the relabellings we asked for: node from the pod's node, processmonitor = the ProcessMonitor's name
        assert _relabel(job, source_labels=["__meta_kubernetes_pod_node_name"], target_label="node")
        assert _relabel(job, target_label=rules.SCOPE_LABEL, replacement="web")
        # job = process-monitor through jobLabel
        assert any(r.get("target_label") == "job" and "jobLabel" in "".join(r.get("source_labels", []))
                   for r in job["relabel_configs"]), job["relabel_configs"]
    assert sd_role(sm_job) in ("endpoints", "endpointslice") and sd_role(pod_job) == "pod"
    # the ServiceMonitor keeps only our Service (its selector labels) and the http-metrics port
    assert _relabel(sm_job, action="keep", source_labels=[
        "__meta_kubernetes_service_label_app_kubernetes_io_name",
        "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name"])
    assert any(r.get("action") == "keep" and r.get("regex") == "http-metrics" for r in sm_job["relabel_configs"])
    assert any(r.get("action") == "keep" and r.get("regex") == "http-metrics" for r in pod_job["relabel_configs"])
    assert sm_job["metric_relabel_configs"][0]["regex"] == "namedprocess_namegroup_thread_.*"

    # Our rule groups, exactly, in the rule file prometheus-operator mounts into Prometheus.
    [text] = cm["data"].values()
    assert yaml.safe_load(text)["groups"] == rules.rule_groups(ALERTS, "web", namespace)
    assert any(f.endswith("/*.yaml") for f in doc["rule_files"])


def sd_role(job: dict) -> str:
    return str(job["kubernetes_sd_configs"][0]["role"]).lower()
