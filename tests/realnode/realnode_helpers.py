"""Helpers for the real-node tests: ProcessMonitor manifests, the agent pod on real-node-0, scrapes at 127.0.0.1,
a test workload pod whose processes carry a chosen name. Every poll is bounded in count and time."""

from __future__ import annotations

import contextlib
import pathlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from harness import exposition as ex
from harness.wait import wait_for as _wait_for
from localcluster import images, realpods
from localcluster.cluster import Cluster

ROOT = pathlib.Path(__file__).resolve().parents[2]
OPERATOR_NS = "pm-system"
RELEASE = "pm"
PARENT_LABEL = realpods.PARENT_LABEL
AGENT_IMAGE = images.AGENT_IMAGE
ready = realpods.pod_ready
scrape = realpods.scrape


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90.0, interval: float = 0.5) -> Any:
    return _wait_for(what, check, timeout, interval)


@contextlib.contextmanager
def privileged_namespace(c: Cluster, prefix: str) -> Iterator[str]:
    """A new namespace at Pod Security `privileged` (the agent needs hostPID; this node's pods need hostNetwork);
    afterwards deleted, waiting until none of its pods is left on the real node (tests share that node)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    c.kubectl("create", "namespace", name)
    c.kubectl("label", "namespace", name, "pod-security.kubernetes.io/enforce=privileged")
    wait_for("the namespace's default ServiceAccount",
             lambda: c.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0, 30)
    try:
        yield name
    finally:
        c.kubectl("delete", "namespace", name, "--wait=false", check=False)
        wait_for(f"pods of {name} gone from the real node", lambda: not pods_on_real_node(c, name), 90, 1.0)


def processmonitor(name: str, port: int, process_names: list[dict[str, Any]], **agent: Any) -> dict[str, Any]:
    """A ProcessMonitor whose agents use the node's network on `port` (no pod network here)."""
    return {
        "apiVersion": "monitoring.process-monitor.dev/v1alpha1",
        "kind": "ProcessMonitor",
        "metadata": {"name": name},
        "spec": {"processNames": process_names,
                 "agent": {"hostNetwork": True, "port": port, **agent},
                 "prometheus": {"serviceMonitor": {"mode": "off"}}},
    }


def pods_on_real_node(c: Cluster, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
    return realpods.pods_on_real_node(c.kubectl, namespace, selector)


def container_state(pod: dict[str, Any]) -> tuple[str, int]:
    """(containerID, restartCount) of the pod's first container."""
    st = pod["status"]["containerStatuses"][0]
    return st.get("containerID", ""), int(st.get("restartCount", 0))


def agent_pod(c: Cluster, namespace: str, pm: str, timeout: float = 120.0) -> dict[str, Any]:
    """The ProcessMonitor's agent pod on the real node, once Ready."""
    def find() -> dict[str, Any] | None:
        pods = [p for p in pods_on_real_node(c, namespace, f"{PARENT_LABEL}={pm}")
                if not p["metadata"].get("deletionTimestamp")]
        return pods[0] if len(pods) == 1 and ready(pods[0]) else None

    return wait_for(f"agent pod of {namespace}/{pm} Ready on {c.real_node}", find, timeout, 1.0)


def group_value(text: str, metric: str, group: str, **labels: str) -> float | None:
    values = ex.by_group(ex.parse(text), metric, **labels)
    return values.get(group)


def workload_pod(name: str, comm: str, copies: int, node: str) -> dict[str, Any]:
    """A hostNetwork pod on `node` running `copies` processes named `comm` (PR_SET_NAME), from the agent image
    (the only Python image this cluster has). They sleep in short steps, bounded to one hour."""
    code = ("import ctypes,os,time\n"
            f"for _ in range({copies - 1}):\n"
            "    if os.fork() == 0: break\n"
            f"ctypes.CDLL(None).prctl(15, b'{comm}', 0, 0, 0)\n"
            "for _ in range(3600): time.sleep(1)\n")
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "nodeName": node, "hostNetwork": True, "terminationGracePeriodSeconds": 1,
            "restartPolicy": "Never",
            "containers": [{"name": "work", "image": AGENT_IMAGE, "imagePullPolicy": "Never",
                            "command": ["python3", "-c", code],
                            "securityContext": {"allowPrivilegeEscalation": False,
                                                "capabilities": {"drop": ["ALL"]}}}],
        },
    }
