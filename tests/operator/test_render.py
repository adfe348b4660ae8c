"""Renderer unit tests: golden files, determinism, the rules-only invariant, names, labels, security.

Golden files live in tests/operator/golden/<case>.yaml; regenerate them with `PM_UPDATE_GOLDEN=1 pytest
tests/operator/test_render.py` and review the diff.
"""

from __future__ import annotations

import copy
import os
import pathlib
import re

import pytest
import yaml
from process_monitor_operator import constants as c
from process_monitor_operator.k8s.serialize import to_yaml
from process_monitor_operator.names import child_name, label_value
from process_monitor_operator.render import CHILDREN, RenderOptions, child_kinds, render_all, required_missing, skipped
from process_monitor_operator.render.options import SERVICEMONITOR_API

HERE = pathlib.Path(__file__).parent
CASES = sorted((HERE / "cases").glob("*.yaml"))
UPDATE = os.environ.get("PM_UPDATE_GOLDEN") == "1"
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _pm(case: pathlib.Path) -> dict:
    return yaml.safe_load(case.read_text())


def _by_kind(manifests: list[dict]) -> dict[str, dict]:
    return {m["kind"]: m for m in manifests}


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_golden(case: pathlib.Path) -> None:
    rendered = to_yaml(render_all(_pm(case), RenderOptions()))
    golden = HERE / "golden" / case.name
    if UPDATE:
        golden.write_text(rendered)
    assert golden.exists(), f"missing {golden}; run with PM_UPDATE_GOLDEN=1"
    assert rendered == golden.read_text()


def test_deterministic_and_pure() -> None:
    pm = _pm(HERE / "cases" / "selective-full.yaml")
    before = copy.deepcopy(pm)
    first = to_yaml(render_all(pm, RenderOptions()))
    assert to_yaml(render_all(pm, RenderOptions())) == first
    assert pm == before, "render_all must not modify its input"


def test_rules_only_change_keeps_pod_template_identical() -> None:
    pm = _pm(HERE / "cases" / "catch-all.yaml")
    changed = copy.deepcopy(pm)
    changed["spec"]["processNames"] = [{"name": "sshd", "comm": ["sshd"]}, {"exe": ["/usr/bin/java"]}]
    a, b = _by_kind(render_all(pm, RenderOptions())), _by_kind(render_all(changed, RenderOptions()))
    assert a["ConfigMap"]["data"] != b["ConfigMap"]["data"]
    assert to_yaml([a["DaemonSet"]]) == to_yaml([b["DaemonSet"]])


def test_agent_setting_change_changes_pod_template() -> None:
    pm = _pm(HERE / "cases" / "catch-all.yaml")
    changed = copy.deepcopy(pm)
    changed["spec"]["collection"] = {"threads": False}
    a, b = _by_kind(render_all(pm, RenderOptions())), _by_kind(render_all(changed, RenderOptions()))
    assert "--threads=true" in a["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--threads=false" in b["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]["args"]


def test_agent_contract() -> None:
    ds = _by_kind(render_all(_pm(HERE / "cases" / "catch-all.yaml"), RenderOptions()))["DaemonSet"]
    pod = ds["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][:3] == ["--procfs=/host/proc", "--config.path=/etc/process-monitor/config.yaml",
                                     "--web.listen-address=:9256"]
    assert container["ports"] == [{"name": "http-metrics", "containerPort": 9256, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["config"] == {"name": "config", "mountPath": "/etc/process-monitor", "readOnly": True}
    assert all("subPath" not in m for m in container["volumeMounts"])
    assert mounts["proc"]["readOnly"] is True and mounts["proc"]["mountPath"] == "/host/proc"
    assert pod["hostPID"] is True and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["SYS_PTRACE", "DAC_READ_SEARCH"]}
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert "annotations" not in ds["metadata"] or not any("hash" in k for k in ds["metadata"]["annotations"])
    assert not any("checksum" in k or "hash" in k for k in ds["spec"]["template"]["metadata"]["annotations"])


def test_restricted_mode_runs_as_nobody_without_capabilities() -> None:
    ds = _by_kind(render_all(_pm(HERE / "cases" / "selective-full.yaml"), RenderOptions()))["DaemonSet"]
    pod = ds["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 65534 and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "--threads=false" in pod["containers"][0]["args"]
    assert "--recheck-with-time-limit=30s" in pod["containers"][0]["args"]
    assert pod["containers"][0]["args"][-1] == "--debug"


def test_children_carry_our_labels_never_the_parents() -> None:
    pm = _pm(HERE / "cases" / "selective-full.yaml")
    for m in render_all(pm, RenderOptions()):
        labels = m["metadata"]["labels"]
        assert labels[c.MANAGED_BY_LABEL] == "process-monitor-operator"
        assert labels[c.PARENT_LABEL] == "java-mysql"
        assert "app.kubernetes.io/instance" not in labels
        assert m["metadata"]["ownerReferences"] == [{
            "apiVersion": c.API_VERSION, "kind": "ProcessMonitor", "name": "java-mysql",
            "uid": pm["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]


def test_no_owner_reference_without_uid() -> None:
    for m in render_all(_pm(HERE / "cases" / "catch-all.yaml"), RenderOptions()):
        assert "ownerReferences" not in m["metadata"]


@pytest.mark.parametrize("name", ["a", "9lives", "a.b", "a-b", "x" * 253, "a." * 120 + "z", "A" * 0 + "z" * 62])
def test_child_names_valid_for_any_legal_name(name: str) -> None:
    for suffix in ("", "dashboard"):
        child = child_name(name, suffix)
        assert DNS1035.match(child) and len(child) <= 63, child
    value = label_value(name)
    assert LABEL_VALUE.match(value) and len(value) <= 63, value


def test_child_names_distinct_and_stable() -> None:
    names = ["a.b", "a-b", "x" * 200, "x" * 201, "x" * 60 + "1", "x" * 60 + "2"]
    children = [child_name(n) for n in names]
    assert len(set(children)) == len(children)
    assert children == [child_name(n) for n in names]
    assert len({label_value(n) for n in names}) == len(names)


def test_servicemonitor_modes() -> None:
    pm = _pm(HERE / "cases" / "catch-all.yaml")
    without = RenderOptions(available_apis=frozenset())
    assert "ServiceMonitor" in _by_kind(render_all(pm, RenderOptions()))
    assert "ServiceMonitor" not in _by_kind(render_all(pm, without))
    assert [m for m in skipped(pm, without) if m.startswith("ServiceMonitor")] == [
        "ServiceMonitor skipped: CRD servicemonitors.monitoring.coreos.com is not installed"]
    assert required_missing(pm, without) == []
    on = copy.deepcopy(pm)
    on["spec"]["prometheus"] = {"serviceMonitor": {"mode": "on"}}
    assert required_missing(on, without) == ["ServiceMonitor"]
    off = copy.deepcopy(pm)
    off["spec"]["prometheus"] = {"serviceMonitor": {"mode": "off"}}
    only_sm = RenderOptions(available_apis=frozenset({SERVICEMONITOR_API}))
    assert "ServiceMonitor" not in _by_kind(render_all(off, only_sm))
    assert [m for m in skipped(off, without) if m.startswith("ServiceMonitor")] == []


def test_servicemonitor_selects_the_service() -> None:
    kinds = _by_kind(render_all(_pm(HERE / "cases" / "selective-full.yaml"), RenderOptions()))
    sm, svc = kinds["ServiceMonitor"], kinds["Service"]
    assert all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"] == "http-metrics"
    assert svc["metadata"]["labels"][sm["spec"]["jobLabel"]] == "process-monitor"


def test_every_child_module_declares_its_kind() -> None:
    for module in CHILDREN:
        assert module.API_VERSION and module.KIND and module.PLURAL and callable(module.render)


def test_rbac_rules_cover_every_child_kind() -> None:
    from process_monitor_operator.rbac_rules import RULES

    for api_version, _kind, plural in child_kinds():
        group = api_version.rpartition("/")[0]
        verbs = {v for r in RULES if group in r["apiGroups"] and plural in r["resources"] for v in r["verbs"]}
        assert {"get", "list", "watch", "patch", "delete"} <= verbs, plural


def test_host_network_agent_listens_on_the_node_and_keeps_named_ports() -> None:
    """spec.agent.hostNetwork: the pod joins the node's network; probes, Service and ServiceMonitor still address
    the named port, whose number is the agent's -web.listen-address (so it is the node's port too)."""
    kinds = _by_kind(render_all(_pm(HERE / "cases" / "host-network.yaml"),
                                RenderOptions(available_apis=frozenset({"monitoring.coreos.com/v1/ServiceMonitor"}))))
    pod = kinds["DaemonSet"]["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    container = pod["containers"][0]
    assert container["ports"] == [{"name": "http-metrics", "containerPort": 9257, "protocol": "TCP"}]
    assert "--web.listen-address=:9257" in container["args"]
    assert container["livenessProbe"]["httpGet"]["port"] == "http-metrics"
    assert kinds["Service"]["spec"]["ports"][0]["targetPort"] == "http-metrics"
    assert kinds["ServiceMonitor"]["spec"]["endpoints"][0]["port"] == "http-metrics"
    default = _by_kind(render_all(_pm(HERE / "cases" / "catch-all.yaml"), RenderOptions()))["DaemonSet"]
    assert "hostNetwork" not in default["spec"]["template"]["spec"]
