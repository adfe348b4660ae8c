"""The product on real pods (issue 10): the chart's operator and the agent DaemonSet running on real-node-0.

Every pod here really runs (kubelet + containerd + runc on this machine); agents use hostNetwork and are scraped at
127.0.0.1. Each test makes its own namespace and ProcessMonitor and cleans them up; they share the one real node.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml
from harness import exposition as ex
from localcluster import images, tools
from localcluster.cluster import Cluster
from localcluster.ports import free_port
from realnode_helpers import (
    OPERATOR_NS,
    PARENT_LABEL,
    ROOT,
    agent_pod,
    container_state,
    group_value,
    pods_on_real_node,
    processmonitor,
    ready,
    scrape,
    wait_for,
    workload_pod,
)

CPU = "cpu_seconds_total"  # exposition.by_group adds the namedprocess_namegroup_ prefix
NUM_PROCS = "num_procs"


def _apply(c: Cluster, ns: str, obj: dict[str, Any]) -> None:
    c.apply_yaml(json.dumps(obj), namespace=ns)


def _pmon_condition(c: Cluster, ns: str, name: str, type_: str) -> dict[str, Any] | None:
    pm = c.get_json("pmon", name, "-n", ns)
    return next((x for x in pm.get("status", {}).get("conditions", []) if x["type"] == type_), None)


def _served(port: int, group: str) -> str:
    text = scrape(port)
    return text if group_value(text, NUM_PROCS, group) is not None else ""


def test_the_charts_operator_runs_on_the_real_node_with_its_own_serviceaccount(
        real_cluster: Cluster, operator_release: dict[str, Any]) -> None:
    c = real_cluster
    pods = pods_on_real_node(c, OPERATOR_NS, "app.kubernetes.io/component=operator")
    assert len(pods) == 1 and ready(pods[0]), pods
    spec = pods[0]["spec"]
    assert spec["serviceAccountName"] != "default"
    assert spec["containers"][0]["image"] == "localhost/process-monitor-operator:dev"
    # It talks to the API server as its ServiceAccount: the API server's audit-free proof is what that identity
    # may do, and the operator working at all (the other tests) under exactly that identity.
    sa = f"system:serviceaccount:{OPERATOR_NS}:{spec['serviceAccountName']}"
    assert c.kubectl("auth", "can-i", "patch", "daemonsets", "--as", sa, "-A").stdout.strip() == "yes"
    assert c.kubectl("auth", "can-i", "get", "secrets", "--as", sa, "-A", check=False).stdout.strip() == "no"
    logs = c.kubectl("logs", "-n", OPERATOR_NS, pods[0]["metadata"]["name"], "--tail=200").stdout
    assert "kopf" in logs.lower() or "process-monitor" in logs.lower(), logs[-2000:]


def test_the_charts_default_operator_pod_is_admitted_under_restricted(real_cluster: Cluster) -> None:
    """Server-side dry run of the default chart's operator pod in a namespace enforcing `restricted`: the real
    PodSecurity admission plugin decides."""
    c = real_cluster
    rendered = c.helm("template", "pm", str(ROOT / "charts" / "process-monitor"), "--namespace", "pm-restricted",
                      "--kube-version", tools.versions()["KUBERNETES_VERSION"]).stdout
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d.get("kind") == "Deployment")
    assert not deployment["spec"]["template"]["spec"].get("hostNetwork")
    ns = "pm-restricted-check"
    c.kubectl("create", "namespace", ns, check=False)
    c.kubectl("label", "--overwrite", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    try:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "operator-dry-run", "namespace": ns},
               "spec": {**deployment["spec"]["template"]["spec"], "serviceAccountName": "default"}}
        ok = c.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
        assert ok.returncode == 0, ok.stderr
        # The same check rejects what restricted forbids (so a pass above means something).
        bad = json.loads(json.dumps(pod))
        bad["spec"]["hostNetwork"] = True
        refused = c.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(bad), check=False)
        assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr, refused.stderr
    finally:
        c.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_agent_pod_ready_and_a_pod_process_appears_with_its_count(real_cluster: Cluster,
                                                                     agent_namespace: str) -> None:
    c, ns, port = real_cluster, agent_namespace, free_port()
    _apply(c, ns, workload_pod("work", "pmwork", 3, c.real_node))
    _apply(c, ns, processmonitor("pm", port, [{"name": "{{.Comm}}", "comm": ["pmwork"]},
                                              {"name": "agent", "comm": ["process-monitor"]}]))
    pod = agent_pod(c, ns, "pm")
    assert pod["spec"]["hostPID"] and pod["spec"]["hostNetwork"]
    text = wait_for("pmwork served with 3 processes",
                    lambda: (t := scrape(port)) and group_value(t, NUM_PROCS, "pmwork") == 3 and t, 90)
    assert group_value(text, NUM_PROCS, "pmwork") == 3
    wait_for("the ProcessMonitor Ready",
             lambda: (x := _pmon_condition(c, ns, "pm", "Ready")) and x["status"] == "True", 90)


def test_rules_change_is_served_without_restart_and_counters_continue(real_cluster: Cluster,
                                                                        agent_namespace: str) -> None:
    c, ns, port = real_cluster, agent_namespace, free_port()
    _apply(c, ns, workload_pod("busy", "pmbusy", 1, c.real_node))
    names = [{"name": "{{.Comm}}", "comm": ["pmbusy"]}]
    _apply(c, ns, processmonitor("pm", port, names))
    before_pod = agent_pod(c, ns, "pm")
    before = container_state(before_pod)
    text = wait_for("pmbusy served", lambda: _served(port, "pmbusy"), 90)
    cpu_before = group_value(text, CPU, "pmbusy", mode="user") or 0.0
    reloads = "process_monitor_agent_config_last_reload_success_timestamp_seconds"
    stamp_before = ex.select(ex.parse(text), reloads)[0].value

    _apply(c, ns, processmonitor("pm", port, [*names, {"name": "agentself", "comm": ["process-monitor"]}]))
    text = wait_for("the new group agentself served", lambda: _served(port, "agentself"), 120)
    assert ex.select(ex.parse(text), reloads)[0].value > stamp_before
    assert (group_value(text, CPU, "pmbusy", mode="user") or 0.0) >= cpu_before
    after_pod = agent_pod(c, ns, "pm")
    assert after_pod["metadata"]["uid"] == before_pod["metadata"]["uid"]
    assert container_state(after_pod) == before  # same container ID, restartCount unchanged


def test_agent_settings_change_rolls_the_pod(real_cluster: Cluster, agent_namespace: str) -> None:
    c, ns, port = real_cluster, agent_namespace, free_port()
    names = [{"name": "agent", "comm": ["process-monitor"]}]
    _apply(c, ns, processmonitor("pm", port, names))
    first = agent_pod(c, ns, "pm")
    pm = processmonitor("pm", port, names)
    pm["spec"]["collection"] = {"threads": False}
    _apply(c, ns, pm)
    second = wait_for("a new agent pod with --threads=false", lambda: (
        (p := agent_pod(c, ns, "pm")) and p["metadata"]["uid"] != first["metadata"]["uid"] and p), 120)
    assert "--threads=false" in second["spec"]["containers"][0]["args"]
    wait_for("the new agent serves", lambda: _served(port, "agent"), 60)


def test_deleted_agent_pod_comes_back(real_cluster: Cluster, agent_namespace: str) -> None:
    c, ns, port = real_cluster, agent_namespace, free_port()
    _apply(c, ns, processmonitor("pm", port, [{"name": "agent", "comm": ["process-monitor"]}]))
    first = agent_pod(c, ns, "pm")
    c.kubectl("delete", "pod", "-n", ns, first["metadata"]["name"], "--wait=true", "--timeout=60s")
    second = agent_pod(c, ns, "pm")
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    wait_for("the replacement agent serves", lambda: _served(port, "agent"), 60)


def test_killed_operator_pod_comes_back_and_converges_without_duplicates(real_cluster: Cluster,
                                                                          agent_namespace: str) -> None:
    c, ns, port = real_cluster, agent_namespace, free_port()
    _apply(c, ns, processmonitor("pm", port, [{"name": "agent", "comm": ["process-monitor"]}]))
    agent_pod(c, ns, "pm")
    old = pods_on_real_node(c, OPERATOR_NS, "app.kubernetes.io/component=operator")[0]
    c.kubectl("delete", "pod", "-n", OPERATOR_NS, old["metadata"]["name"], "--grace-period=0", "--force",
              check=False)

    def new_operator() -> dict[str, Any] | None:
        pods = [p for p in pods_on_real_node(c, OPERATOR_NS, "app.kubernetes.io/component=operator")
                if p["metadata"]["uid"] != old["metadata"]["uid"] and ready(p)]
        return pods[0] if pods else None

    wait_for("a new operator pod Ready", new_operator, 180, 1.0)
    # Drift made while it was away is undone by the new one, and nothing is duplicated.
    c.kubectl("delete", "configmap", "-n", ns, "-l", f"{PARENT_LABEL}=pm")
    wait_for("the ConfigMap re-created", lambda: len(c.get_json("configmap", "-n", ns, "-l",
                                                               f"{PARENT_LABEL}=pm")["items"]) == 1, 60)
    for kind in ("daemonset", "configmap", "serviceaccount", "service"):
        items = c.get_json(kind, "-n", ns, "-l", f"{PARENT_LABEL}=pm")["items"]
        assert len(items) == 1, (kind, [i["metadata"]["name"] for i in items])


def test_baseline_namespace_reports_the_pod_security_rejection(real_cluster: Cluster,
                                                               agent_namespace: str) -> None:
    c, ns = real_cluster, agent_namespace
    c.kubectl("label", "--overwrite", "namespace", ns, "pod-security.kubernetes.io/enforce=baseline")
    _apply(c, ns, processmonitor("pm", free_port(), [{"name": "agent", "comm": ["process-monitor"]}]))

    def stalled() -> dict[str, Any] | None:
        cond = _pmon_condition(c, ns, "pm", "Stalled")
        return cond if cond and cond["status"] == "True" else None

    cond = wait_for("Stalled=True naming Pod Security", stalled, 120, 1.0)
    assert cond["reason"] == "PodsRejected"
    assert "PodSecurity" in cond["message"] and "baseline" in cond["message"], cond
    ready_cond = _pmon_condition(c, ns, "pm", "Ready")
    assert ready_cond is not None and ready_cond["status"] == "False"
    assert not pods_on_real_node(c, ns)


def test_restricted_mode_runs_and_reports_what_it_cannot_read(real_cluster: Cluster, agent_namespace: str) -> None:
    c, ns, port = real_cluster, agent_namespace, free_port()
    _apply(c, ns, processmonitor("pm", port, [{"name": "{{.Comm}}", "cmdline": [".+"]}],
                                 securityMode="restricted"))
    pod = agent_pod(c, ns, "pm")
    sc = pod["spec"]["containers"][0]["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"]} and pod["spec"]["securityContext"]["runAsUser"] != 0
    text = wait_for("the restricted agent serves", lambda: (t := scrape(port)) and "_num_procs{" in t and t, 60)
    samples = ex.parse(text)
    # Other users' /proc/PID/io and fd/ are unreadable without capabilities: counted, not fatal.
    partial = ex.select(samples, "namedprocess_scrape_partial_errors")
    assert partial and partial[0].value > 0, [s for s in samples if s.name.startswith("namedprocess_scrape")]
    assert len(ex.groups(samples)) > 3


def test_a_deleted_namespace_leaves_no_running_container(real_cluster: Cluster) -> None:
    """Tests share the one real node: deleting a test's namespace stops every container it ran there (the kubelet
    may keep the exited ones a while for its garbage collector; none may still run)."""
    c = real_cluster
    ns = "pm-cleanup-check"
    c.kubectl("create", "namespace", ns)
    _apply(c, ns, workload_pod("gone", "pmgone", 1, c.real_node))
    wait_for("the pod Ready", lambda: (p := pods_on_real_node(c, ns)) and ready(p[0]), 90)
    from localcluster import cluster as cluster_mod

    ctr = cluster_mod.real_node_ctr(c.state_dir)
    assert ctr is not None

    def ctr_out(*args: str) -> str:
        return subprocess.run([*ctr, "-n", "k8s.io", *args], capture_output=True, text=True, timeout=30,
                              check=True).stdout

    ours = set(ctr_out("containers", "ls", "-q", f'labels."io.kubernetes.pod.namespace"=={ns}').split())
    running = {line.split()[0] for line in ctr_out("tasks", "ls").splitlines()[1:] if "RUNNING" in line}
    assert ours and ours <= running  # the pod's sandbox and container run
    c.kubectl("delete", "namespace", ns, "--wait=true", "--timeout=90s")
    wait_for("no container of the namespace running", lambda: not (ours & {
        line.split()[0] for line in ctr_out("tasks", "ls").splitlines()[1:] if "RUNNING" in line}), 30)


@pytest.mark.parametrize("image", ["localhost/process-monitor-agent:dev", "localhost/process-monitor-operator:dev"])
def test_images_keep_their_promises(real_cluster: Cluster, image: str) -> None:
    """docs/images.md promises a non-root default user (65532:65532) and no pip in the final image: the image's
    config says the user, and a pod with no security settings of its own shows what the image does."""
    c = real_cluster
    ns = f"pm-image-{image.split('-')[-1].split(':')[0]}"
    c.kubectl("create", "namespace", ns)
    script = ("id -u; id -g; test -e /opt/venv/bin/pip && echo HAS_VENV_PIP; "
              "python3 -m pip --version >/dev/null 2>&1 && echo HAS_PIP; echo done")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "promise"},
           "spec": {"nodeName": c.real_node, "hostNetwork": True, "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": image, "imagePullPolicy": "Never",
                                    "command": ["sh", "-c", script]}]}}
    try:
        _apply(c, ns, pod)
        wait_for("the pod Succeeded", lambda: c.get_json("pod", "promise", "-n", ns)["status"].get("phase")
                 == "Succeeded", 90, 1.0)
        out = c.kubectl("logs", "-n", ns, "promise").stdout.split()
        # uid from the image; the gid the runtime gives is its own choice (containerd 1.6 gives 0 without
        # runAsGroup), so the group is checked in the image's config below
        assert out == ["65532", out[1], "done"], out
        user = images.Buildah.in_cache(images.cache_dir())("inspect", "--format", "{{.OCIv1.Config.User}}", image,
                                                           step="inspect").strip()
        assert user == "65532:65532"
    finally:
        c.kubectl("delete", "namespace", ns, "--wait=false", check=False)
