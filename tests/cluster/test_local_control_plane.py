"""The local control plane behaves like a real cluster where our operator needs it to: nodes become Ready,
DaemonSets land one pod per node, the garbage collector follows owner references, CRDs work, helm installs.

All tests share the session cluster of the `kube_cluster` fixture (localcluster.pytest_plugin).
Pods are kwok fakes: we assert on API objects and status only, never connect to a pod or Service IP.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from localcluster import cluster as cluster_mod
from localcluster.cluster import Cluster
from localcluster.pytest_plugin import wait_for

pytestmark = pytest.mark.cluster

FIXTURES = pathlib.Path(__file__).parent / "fixtures"




def is_ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


def test_all_nodes_ready_with_pod_cidrs(kube_cluster: Cluster) -> None:
    nodes = kube_cluster.get_json("nodes")["items"]
    names = sorted(n["metadata"]["name"] for n in nodes)
    assert names == sorted(kube_cluster.nodes)
    assert len(names) >= 1
    assert all(is_ready(n) for n in nodes), [n["status"].get("conditions") for n in nodes]
    cidrs = [n["spec"]["podCIDR"] for n in nodes]
    assert len(set(cidrs)) == len(cidrs)
    internal = [a["address"] for n in nodes for a in n["status"]["addresses"] if a["type"] == "InternalIP"]
    assert len(internal) == len(nodes) and all(ip.startswith("10.255.") for ip in internal)
    # The apiserver advertises loopback only; the `kubernetes` Endpoints reconciler is off.
    svc = kube_cluster.get_json("service", "kubernetes", "-n", "default")
    assert svc["spec"]["clusterIP"] == "10.0.0.1"
    assert kube_cluster.server.startswith("https://127.0.0.1:")


def test_daemonset_runs_one_pod_per_node(kube_cluster: Cluster, namespace: str) -> None:
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "every-node"},
        "spec": {
            "selector": {"matchLabels": {"app": "every-node"}},
            "template": {
                "metadata": {"labels": {"app": "every-node"}},
                "spec": {"containers": [{"name": "c", "image": "registry.invalid/never-pulled:1"}]},
            },
        },
    }
    kube_cluster.apply_yaml(json.dumps(ds), namespace)

    def running_nodes() -> list[str] | None:
        pods = kube_cluster.get_json("pods", "-n", namespace, "-l", "app=every-node")["items"]
        running = [p["spec"].get("nodeName") for p in pods if p["status"].get("phase") == "Running"]
        return running if len(running) == len(kube_cluster.nodes) else None

    on = wait_for("one Running pod per node", running_nodes, timeout=90)
    assert sorted(on) == sorted(kube_cluster.nodes)
    def ds_status() -> dict[str, Any] | None:
        st = kube_cluster.get_json("daemonset", "every-node", "-n", namespace)["status"]
        return st if st.get("numberReady") == len(kube_cluster.nodes) else None

    status = wait_for("DaemonSet status numberReady == number of nodes", ds_status, timeout=60)
    assert status["desiredNumberScheduled"] == len(kube_cluster.nodes)


def test_owned_object_is_garbage_collected(kube_cluster: Cluster, namespace: str) -> None:
    kube_cluster.kubectl("create", "configmap", "owner", "-n", namespace, "--from-literal=k=v")
    uid = kube_cluster.get_json("configmap", "owner", "-n", namespace)["metadata"]["uid"]
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "child", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]},
        "data": {"k": "v"},
    }
    kube_cluster.apply_yaml(json.dumps(child), namespace)
    kube_cluster.apply_yaml(json.dumps({**child, "metadata": {"name": "bystander"}}), namespace)
    kube_cluster.kubectl("delete", "configmap", "owner", "-n", namespace, "--wait=true", "--timeout=30s")

    def child_gone() -> bool:
        return kube_cluster.kubectl("get", "configmap", "child", "-n", namespace, check=False).returncode != 0

    wait_for("the garbage collector to delete the owned ConfigMap", child_gone, timeout=60)
    # Only the owned object went: an unrelated one stays.
    assert kube_cluster.get_json("configmap", "bystander", "-n", namespace)["data"] == {"k": "v"}


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.localcluster.test
spec:
  group: localcluster.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wdg]}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer, minimum: 1}
"""


def test_crd_can_be_installed_and_used(kube_cluster: Cluster, namespace: str) -> None:
    kube_cluster.apply_yaml(CRD)
    try:
        kube_cluster.wait_crds_established("widgets.localcluster.test")
        good = {"apiVersion": "localcluster.test/v1", "kind": "Widget", "metadata": {"name": "w1"},
                "spec": {"size": 3}}
        # Discovery of a just-established CRD can lag a moment in kubectl's cache; retry briefly.
        wait_for("the Widget to be created",
                 lambda: kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(good),
                                              check=False).returncode == 0, timeout=30)
        got = kube_cluster.get_json("wdg", "w1", "-n", namespace)
        assert got["spec"] == {"size": 3}
        # The schema is enforced by the real apiserver: a size below the minimum is rejected.
        bad = {**good, "metadata": {"name": "w2"}, "spec": {"size": 0}}
        proc = kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(bad), check=False)
        assert proc.returncode != 0
        assert "spec.size" in proc.stderr
    finally:
        kube_cluster.kubectl("delete", "crd", "widgets.localcluster.test", "--wait=false", check=False)


def test_helm_install_of_small_chart(kube_cluster: Cluster, namespace: str) -> None:
    kube_cluster.helm("install", "tiny", str(FIXTURES / "tiny-chart"), "-n", namespace, "--set", "replicas=2",
                      "--wait", "--timeout", "120s", timeout=180)
    releases = json.loads(kube_cluster.helm("list", "-n", namespace, "-o", "json").stdout)
    assert [(r["name"], r["status"]) for r in releases] == [("tiny", "deployed")]
    dep = kube_cluster.get_json("deployment", "tiny", "-n", namespace)
    assert dep["status"].get("readyReplicas") == 2
    assert kube_cluster.get_json("configmap", "tiny-config", "-n", namespace)["data"] == {"message": "hello from helm"}
    kube_cluster.helm("uninstall", "tiny", "-n", namespace, "--wait", "--timeout", "60s", timeout=90)
    assert kube_cluster.kubectl("get", "deployment", "tiny", "-n", namespace, check=False).returncode != 0


def test_up_again_reuses_the_live_cluster(kube_cluster: Cluster) -> None:
    before = json.loads((kube_cluster.state_dir / "state.json").read_text())["processes"]
    again = cluster_mod.up(cluster_mod.Settings(kube_cluster.state_dir, nodes=len(kube_cluster.nodes)))
    after = json.loads((kube_cluster.state_dir / "state.json").read_text())["processes"]
    assert again.reused
    assert again.server == kube_cluster.server
    assert {n: e["pid"] for n, e in after.items()} == {n: e["pid"] for n, e in before.items()}
    st = cluster_mod.status(kube_cluster.state_dir)
    assert st["running"] is True
    assert st["nodes_ready"] == len(kube_cluster.nodes)
