"""The operator against the real local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok).

Each test gets a fresh namespace and its own operator process watching only that namespace. Nothing here talks to
pod or Service IPs: the agents never really run (kwok marks their pods Running and Ready).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
import yaml
from operator_harness import OperatorProcess, condition, get, wait_for
from process_monitor_operator.names import child_name

pytestmark = pytest.mark.cluster

SM_CRD = "servicemonitors.monitoring.coreos.com"


def pm(name: str, namespace: str, process_names: list[dict[str, Any]] | None = None, **spec: Any) -> str:
    body = {"apiVersion": "monitoring.process-monitor.dev/v1alpha1", "kind": "ProcessMonitor",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"processNames": process_names or [{"name": "{{.Comm}}", "cmdline": [".+"]}], **spec}}
    return yaml.safe_dump(body)


def ready(cluster: Any, name: str, namespace: str, timeout: float = 30.0) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = get(cluster, "processmonitor", name, namespace)
        ok = (obj and condition(obj, "Ready").get("status") == "True"
              and obj["status"].get("observedGeneration") == obj["metadata"]["generation"])
        return obj if ok else None
    return wait_for(f"ProcessMonitor {namespace}/{name} Ready=True", check, timeout)


def children(cluster: Any, name: str, namespace: str) -> dict[str, dict[str, Any]]:
    kinds = "serviceaccounts,configmaps,daemonsets,services"
    if cluster.kubectl("get", "crd", SM_CRD, check=False).returncode == 0:
        kinds += ",servicemonitors"
    out = cluster.get_json(kinds, "-n", namespace, "-l", f"monitoring.process-monitor.dev/processmonitor={name}")
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in out["items"]}


def test_create_applies_every_child_and_becomes_ready(kube_cluster: Any, namespace: str,
                                                      operator: OperatorProcess) -> None:
    started = time.monotonic()
    kube_cluster.apply_yaml(pm("demo", namespace))
    obj = ready(kube_cluster, "demo", namespace)
    elapsed = time.monotonic() - started
    kids = children(kube_cluster, "demo", namespace)
    for kind in ("ServiceAccount", "ConfigMap", "DaemonSet", "Service"):
        child = kids[f"{kind}/pmon-demo"]
        labels = child["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "process-monitor-operator"
        refs = child["metadata"]["ownerReferences"]
        assert refs[0]["uid"] == obj["metadata"]["uid"] and refs[0]["controller"] is True
    n = len(kube_cluster.nodes)
    assert obj["status"]["agents"] == {"desired": n, "ready": n, "updated": n, "available": n}
    assert obj["status"]["groups"] == 1
    assert condition(obj, "Stalled")["status"] == "False" and condition(obj, "Reconciling")["status"] == "False"
    ds = json.loads(kube_cluster.kubectl("get", "daemonset", "pmon-demo", "-n", namespace, "-o", "json",
                                         "--show-managed-fields").stdout)
    managers = {m["manager"] for m in ds["metadata"]["managedFields"] if m["operation"] == "Apply"}
    assert managers == {"process-monitor-operator"}
    print(f"apply -> Ready: {elapsed:.2f}s")


def test_render_cli_equals_what_the_operator_applied(kube_cluster: Any, namespace: str,
                                                     operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("same", namespace, collection={"threads": False},
                               agent={"port": 9400, "securityMode": "restricted"}))
    ready(kube_cluster, "same", namespace)
    live = kube_cluster.kubectl("get", "processmonitor", "same", "-n", namespace, "-o", "yaml").stdout
    argv = [sys.executable, "-m", "process_monitor_operator.cli", "render", "-f", "-", "-o", "json"]
    for kind, crd in (("ServiceMonitor", SM_CRD), ("PodMonitor", "podmonitors.monitoring.coreos.com"),
                      ("PrometheusRule", "prometheusrules.monitoring.coreos.com")):
        if kube_cluster.kubectl("get", "crd", crd, check=False).returncode != 0:
            argv += ["--without", kind]
    rendered = subprocess.run(argv, input=live.encode(), capture_output=True, check=True, timeout=60,
                              env=kube_cluster.env()).stdout.splitlines()
    applied = operator.applied()
    assert rendered and set(rendered) <= set(applied), "render output differs from the applied bodies"
    # The last body applied for each child is exactly what render prints.
    last = {}
    for body in applied:
        d = json.loads(body)
        last[(d["kind"], d["metadata"]["name"])] = body
    assert sorted(last.values()) == sorted(rendered)


def test_rules_change_updates_configmap_only(kube_cluster: Any, namespace: str, operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("rules", namespace))
    ready(kube_cluster, "rules", namespace)
    ds_before = get(kube_cluster, "daemonset", "pmon-rules", namespace)
    kube_cluster.apply_yaml(pm("rules", namespace, [{"name": "sshd", "comm": ["sshd"]}, {"exe": ["/usr/bin/java"]}]))
    wait_for("ConfigMap with the new rules", lambda: "sshd" in (
        get(kube_cluster, "configmap", "pmon-rules", namespace) or {}).get("data", {}).get("config.yaml", ""))
    obj = ready(kube_cluster, "rules", namespace)
    assert obj["status"]["groups"] == 2
    ds_after = get(kube_cluster, "daemonset", "pmon-rules", namespace)
    assert ds_after["metadata"]["generation"] == ds_before["metadata"]["generation"]
    assert ds_after["spec"]["template"] == ds_before["spec"]["template"]


def test_agent_settings_change_rolls_the_pod_template(kube_cluster: Any, namespace: str,
                                                      operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("roll", namespace))
    ready(kube_cluster, "roll", namespace)
    gen = get(kube_cluster, "daemonset", "pmon-roll", namespace)["metadata"]["generation"]
    kube_cluster.apply_yaml(pm("roll", namespace, collection={"threads": False}, agent={"extraArgs": ["--debug"]}))
    def rolled() -> bool:
        ds = get(kube_cluster, "daemonset", "pmon-roll", namespace)
        args = ds["spec"]["template"]["spec"]["containers"][0]["args"]
        return ds["metadata"]["generation"] > gen and "--threads=false" in args and args[-1] == "--debug"
    wait_for("DaemonSet with the new args", rolled)
    ready(kube_cluster, "roll", namespace)


def test_drift_is_undone(kube_cluster: Any, namespace: str, operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("drift", namespace))
    ready(kube_cluster, "drift", namespace)
    kube_cluster.kubectl("patch", "configmap", "pmon-drift", "-n", namespace, "--type=merge",
                         "-p", '{"data": {"config.yaml": "process_names: []\\n"}}')
    kube_cluster.kubectl("patch", "daemonset", "pmon-drift", "-n", namespace, "--type=json", "-p",
                         '[{"op": "replace", "path": "/spec/template/spec/containers/0/args/3", "value": "--x=1"}]')
    kube_cluster.kubectl("label", "service", "pmon-drift", "-n", namespace, "--overwrite",
                         "app.kubernetes.io/managed-by=someone-else")
    wait_for("ConfigMap restored", lambda: "cmdline" in get(kube_cluster, "configmap", "pmon-drift",
                                                            namespace)["data"]["config.yaml"])
    wait_for("DaemonSet args restored", lambda: get(kube_cluster, "daemonset", "pmon-drift", namespace)[
        "spec"]["template"]["spec"]["containers"][0]["args"][3] == "--children=true")
    # The relabelled Service left our label-filtered watch; the periodic resync (2 s here) restores it.
    wait_for("Service label restored", lambda: get(kube_cluster, "service", "pmon-drift", namespace)[
        "metadata"]["labels"]["app.kubernetes.io/managed-by"] == "process-monitor-operator")


def test_deleted_children_come_back(kube_cluster: Any, namespace: str, operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("del", namespace))
    ready(kube_cluster, "del", namespace)
    old = {k: v["metadata"]["uid"] for k, v in children(kube_cluster, "del", namespace).items()}
    kube_cluster.kubectl("delete", "daemonset,configmap,service,serviceaccount", "pmon-del", "-n", namespace)
    def recreated() -> bool:
        now = children(kube_cluster, "del", namespace)
        return set(now) == set(old) and all(now[k]["metadata"]["uid"] != old[k] for k in old)
    wait_for("children recreated", recreated)
    ready(kube_cluster, "del", namespace)


def test_deleting_the_processmonitor_garbage_collects_children(kube_cluster: Any, namespace: str,
                                                               operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("gc", namespace))
    ready(kube_cluster, "gc", namespace)
    obj = get(kube_cluster, "processmonitor", "gc", namespace)
    assert not obj["metadata"].get("finalizers"), "no finalizer: deletion must not depend on the operator"
    kube_cluster.kubectl("delete", "processmonitor", "gc", "-n", namespace, "--wait=true", timeout=60)
    wait_for("children garbage-collected", lambda: not children(kube_cluster, "gc", namespace), timeout=60)


def test_invalid_spec_stalls_and_keeps_the_last_good_state(kube_cluster: Any, namespace: str,
                                                           operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("bad", namespace))
    ready(kube_cluster, "bad", namespace)
    cm_before = get(kube_cluster, "configmap", "pmon-bad", namespace)["data"]
    kube_cluster.apply_yaml(pm("bad", namespace, [{"name": "ok", "comm": ["a"]},
                                                  {"name": "java", "cmdline": ["(unclosed"]}]))
    def stalled() -> dict[str, Any] | None:
        obj = get(kube_cluster, "processmonitor", "bad", namespace)
        ok = condition(obj, "Stalled").get("status") == "True" and obj["status"].get(
            "observedGeneration") == obj["metadata"]["generation"]
        return obj if ok else None
    obj = wait_for("Stalled=True", stalled)
    msg = condition(obj, "Stalled")["message"]
    assert "processNames[1] (name 'java')" in msg and "(unclosed" in msg
    assert condition(obj, "Ready")["status"] == "False"
    assert get(kube_cluster, "configmap", "pmon-bad", namespace)["data"] == cm_before
    assert get(kube_cluster, "daemonset", "pmon-bad", namespace) is not None
    def event() -> bool:
        events = kube_cluster.get_json("events", "-n", namespace)["items"]
        return any(e["reason"] == "InvalidSpec" and e["type"] == "Warning" and "java" in e["message"]
                   and e["involvedObject"]["name"] == "bad" for e in events)
    wait_for("a Warning Event naming the entry", event)
    # The schema refuses an entry without matchers before the operator ever sees it.
    out = kube_cluster.kubectl("apply", "-f", "-", input=pm("bad2", namespace, [{"name": "x"}]), check=False)
    assert out.returncode != 0 and "no matchers provided" in out.stderr
    # Fixing the spec recovers.
    kube_cluster.apply_yaml(pm("bad", namespace, [{"name": "java", "cmdline": ["-jar"]}]))
    ready(kube_cluster, "bad", namespace)


def _servicemonitor_crd(kube_cluster: Any) -> str:
    """prometheus-operator's own CRD when its binary is built, else a minimal structural one."""
    try:
        from localcluster import tools
        binary = tools.binary("prometheus-operator")
        out = subprocess.run([str(binary), "crds"], capture_output=True, text=True, timeout=60, check=False)
        docs = [d for d in yaml.safe_load_all(out.stdout) if d and d.get("metadata", {}).get("name") == SM_CRD]
        if out.returncode == 0 and docs:
            return yaml.safe_dump(docs[0])
    except Exception:  # fall back to the minimal CRD
        pass
    return yaml.safe_dump({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": SM_CRD},
        "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
                 "names": {"kind": "ServiceMonitor", "plural": "servicemonitors", "listKind": "ServiceMonitorList",
                           "singular": "servicemonitor"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})


def test_servicemonitor_appears_once_its_crd_is_installed(kube_cluster: Any, namespace: str,
                                                          operator: OperatorProcess) -> None:
    had_crd = kube_cluster.kubectl("get", "crd", SM_CRD, check=False).returncode == 0
    kube_cluster.apply_yaml(pm("sm", namespace, prometheus={"serviceMonitor": {"mode": "auto", "interval": "30s"}}))
    obj = ready(kube_cluster, "sm", namespace)
    if not had_crd:
        assert "ServiceMonitor skipped" in condition(obj, "Ready")["message"]
        kube_cluster.apply_yaml(_servicemonitor_crd(kube_cluster), server_side=True)
        kube_cluster.wait_crds_established(SM_CRD)
    sm = wait_for("ServiceMonitor created", lambda: get(kube_cluster, "servicemonitor", "pmon-sm", namespace), 30)
    assert sm["spec"]["endpoints"][0]["port"] == "http-metrics" and sm["spec"]["endpoints"][0]["interval"] == "30s"
    obj = wait_for("Ready without the skip note", lambda: (o := get(kube_cluster, "processmonitor", "sm", namespace))
                   and "ServiceMonitor skipped" not in condition(o, "Ready").get("message", "ServiceMonitor skipped")
                   and o)
    # mode off prunes it again.
    kube_cluster.apply_yaml(pm("sm", namespace, prometheus={"serviceMonitor": {"mode": "off"}}))
    wait_for("ServiceMonitor pruned", lambda: get(kube_cluster, "servicemonitor", "pmon-sm", namespace) is None)


def test_long_names(kube_cluster: Any, namespace: str, operator: OperatorProcess) -> None:
    name = "a-very-long.dotted-name." + "x" * 150 + ".end"
    kube_cluster.apply_yaml(pm(name, namespace))
    ready(kube_cluster, name, namespace)
    child = child_name(name)
    assert len(child) <= 63
    for kind in ("serviceaccount", "configmap", "daemonset", "service"):
        assert get(kube_cluster, kind, child, namespace) is not None


def test_two_processmonitors_side_by_side(kube_cluster: Any, namespace: str, operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("one", namespace) + "---\n" + pm("two", namespace, [{"comm": ["sshd"]}]))
    ready(kube_cluster, "one", namespace)
    ready(kube_cluster, "two", namespace)
    one, two = children(kube_cluster, "one", namespace), children(kube_cluster, "two", namespace)
    assert set(one).isdisjoint(two) and len(one) == len(two) >= 4
    assert one["Service/pmon-one"]["spec"]["selector"] != two["Service/pmon-two"]["spec"]["selector"]
    kube_cluster.kubectl("delete", "processmonitor", "one", "-n", namespace)
    wait_for("one's children gone", lambda: not children(kube_cluster, "one", namespace), timeout=60)
    assert set(children(kube_cluster, "two", namespace)) == set(two)
    ready(kube_cluster, "two", namespace)


def test_restart_resumes_and_steady_state_writes_nothing(kube_cluster: Any, namespace: str,
                                                         operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("resume", namespace))
    ready(kube_cluster, "resume", namespace)
    time.sleep(3)  # let the follow-up reconciles of our own writes settle
    before = operator.writes()
    time.sleep(6)  # three resyncs at --resync-interval 2
    assert operator.writes() == before, "a steady-state resync wrote to the API"
    operator.stop()
    # Changed while the operator is down: picked up by the resume handler at start.
    kube_cluster.apply_yaml(pm("resume", namespace, [{"name": "while-down", "comm": ["x"]}]))
    operator.start()
    wait_for("ConfigMap updated after restart", lambda: "while-down" in get(
        kube_cluster, "configmap", "pmon-resume", namespace)["data"]["config.yaml"])
    ready(kube_cluster, "resume", namespace)
    # A restart with nothing changed writes nothing at all.
    operator.stop()
    lines = len(operator.applied())
    operator.start()
    time.sleep(6)
    assert len(operator.applied()) == lines and operator.writes() == 0


def test_operator_metrics(kube_cluster: Any, namespace: str, operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("m", namespace))
    ready(kube_cluster, "m", namespace)
    metrics = operator.metrics()
    assert metrics['process_monitor_operator_reconciles_total{result="ok"}'] >= 1
    assert metrics['process_monitor_operator_api_calls_total{kind="DaemonSet",verb="apply"}'] >= 1
    assert metrics["process_monitor_operator_reconcile_duration_seconds_count"] >= 1
    assert metrics["process_monitor_operator_processmonitors"] == 1


def test_kubectl_wait_and_printer_columns(kube_cluster: Any, namespace: str, operator: OperatorProcess) -> None:
    kube_cluster.apply_yaml(pm("cols", namespace))
    kube_cluster.kubectl("wait", "--for=condition=Ready", "pmon/cols", "-n", namespace, "--timeout=30s")
    out = kube_cluster.kubectl("get", "pmon", "cols", "-n", namespace).stdout
    header, row = out.splitlines()[:2]
    assert header.split()[:4] == ["NAME", "READY", "AGENTS", "GROUPS"]
    n = len(kube_cluster.nodes)
    assert row.split()[:4] == ["cols", "True", f"{n}/{n}", "1"]




def test_kubernetes_attribution_mounts_and_template_check(kube_cluster: Any, namespace: str,
                                                           operator: OperatorProcess) -> None:
    """spec.kubernetes on a real API server: the CRD fills its defaults, the DaemonSet gets the two read-only log
    mounts and flags, the agent's ServiceAccount still has no rights; a pod-field template without it stalls."""
    kube_cluster.apply_yaml(pm("pods", namespace, [{"name": "{{.Namespace}}/{{.Pod}}/{{.Comm}}", "cmdline": [".+"]}],
                               kubernetes={"labels": True}))
    obj = ready(kube_cluster, "pods", namespace)
    assert obj["spec"]["kubernetes"] == {"enabled": False, "labels": True, "podLogsDir": "/var/log/pods",
                                         "containerLogsDir": "/var/log/containers"}
    pod = get(kube_cluster, "daemonset", "pmon-pods", namespace)["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert "--kubernetes.labels=true" in args and "--kubernetes.pod-logs-dir=/host/var/log/pods" in args
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["pod-logs"]["readOnly"] and mounts["container-logs"]["readOnly"]
    sa = f"system:serviceaccount:{namespace}:{pod['serviceAccountName']}"
    assert kube_cluster.kubectl("auth", "can-i", "list", "pods", "--as", sa, "-A", check=False).stdout.strip() == "no"

    kube_cluster.apply_yaml(pm("bad", namespace, [{"name": "{{.Pod}}", "comm": ["x"]}]))
    stalled = wait_for("ProcessMonitor bad Stalled", lambda: (o := get(kube_cluster, "processmonitor", "bad",
                                                                          namespace))
                       and condition(o, "Stalled").get("status") == "True" and o, 30)
    assert "spec.kubernetes.enabled" in condition(stalled, "Stalled")["message"]
