"""Pure tests of how Prometheus finds the agents: Service annotations for plain Prometheus, the optional PodMonitor
instead of the ServiceMonitor, and the target labels (node, processmonitor) the shipped rules select on."""

from __future__ import annotations

import copy

from process_monitor_operator.monitoring import rules
from process_monitor_operator.render import (
    DIGEST_ANNOTATION,
    RenderOptions,
    render_all,
    required_missing,
    skipped,
)
from process_monitor_operator.render.options import PODMONITOR_API, SERVICEMONITOR_API

PM = {"kind": "ProcessMonitor", "metadata": {"name": "web", "namespace": "prod"},
      "spec": {"processNames": [{"comm": ["nginx"]}]}}


def _kinds(pm: dict, options: RenderOptions | None = None) -> dict[str, dict]:
    return {m["kind"]: m for m in render_all(pm, options or RenderOptions()) if m["kind"] != "ConfigMap"}


def _with(pod_monitor: dict, service_monitor: dict | None = None) -> dict:
    pm = copy.deepcopy(PM)
    pm["spec"]["prometheus"] = {"podMonitor": pod_monitor, **({"serviceMonitor": service_monitor}
                                                              if service_monitor else {})}
    return pm


def test_service_has_scrape_annotations_by_default() -> None:
    kinds = _kinds(PM)
    svc, ds = kinds["Service"], kinds["DaemonSet"]
    port = ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert {k: v for k, v in svc["metadata"]["annotations"].items() if k != DIGEST_ANNOTATION} == {
        "prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}
    off = copy.deepcopy(PM)
    off["spec"]["prometheus"] = {"scrapeAnnotations": False}
    assert not any(k.startswith("prometheus.io/") for k in _kinds(off)["Service"]["metadata"]["annotations"])


def test_podmonitor_off_by_default() -> None:
    kinds = _kinds(PM)
    assert "PodMonitor" not in kinds and "ServiceMonitor" in kinds


def test_podmonitor_replaces_servicemonitor() -> None:
    kinds = _kinds(_with({"mode": "on", "interval": "15s", "labels": {"release": "kps"},
                          "metricRelabelings": [{"action": "drop", "regex": "x"}]}))
    assert "ServiceMonitor" not in kinds
    pmon, ds = kinds["PodMonitor"], kinds["DaemonSet"]
    pod = ds["spec"]["template"]
    # selects exactly the agent pods, on the agent's named port
    assert all(pod["metadata"]["labels"].get(k) == v for k, v in pmon["spec"]["selector"]["matchLabels"].items())
    assert pmon["spec"]["selector"]["matchLabels"] == ds["spec"]["selector"]["matchLabels"]
    endpoint = pmon["spec"]["podMetricsEndpoints"][0]
    assert endpoint["port"] == pod["spec"]["containers"][0]["ports"][0]["name"]
    assert endpoint["interval"] == "15s"
    assert pmon["spec"]["namespaceSelector"] == {"matchNames": ["prod"]}
    assert pod["metadata"]["labels"][pmon["spec"]["jobLabel"]] == "process-monitor"
    assert pmon["metadata"]["labels"]["release"] == "kps"
    # the target labels the rules are scoped to
    relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
    assert relabel["node"]["sourceLabels"] == ["__meta_kubernetes_pod_node_name"]
    assert relabel[rules.SCOPE_LABEL]["replacement"] == "web"
    assert endpoint["metricRelabelings"] == [{"action": "drop", "regex": "x"}]


def test_both_when_servicemonitor_explicitly_on() -> None:
    kinds = _kinds(_with({"mode": "auto"}, {"mode": "on"}))
    assert "PodMonitor" in kinds and "ServiceMonitor" in kinds


def test_podmonitor_crd_missing() -> None:
    only_sm = RenderOptions(available_apis=frozenset({SERVICEMONITOR_API}))
    auto = _with({"mode": "auto"})
    assert "PodMonitor" not in _kinds(auto, only_sm)
    assert "PodMonitor skipped: CRD podmonitors.monitoring.coreos.com is not installed" in skipped(auto, only_sm)
    assert required_missing(_with({"mode": "on"}), only_sm) == ["PodMonitor"]
    assert required_missing(auto, RenderOptions(available_apis=frozenset({PODMONITOR_API}))) == []


def test_servicemonitor_and_podmonitor_attach_the_same_scope() -> None:
    sm = _kinds(PM)["ServiceMonitor"]["spec"]["endpoints"][0]["relabelings"]
    pmon = _kinds(_with({"mode": "on"}))["PodMonitor"]["spec"]["podMetricsEndpoints"][0]["relabelings"]
    assert sm == pmon
