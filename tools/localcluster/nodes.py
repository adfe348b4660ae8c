"""The kwok nodes of the local cluster: names, fiction addresses, the Node manifest kwok manages, readiness, and
`ensure_nodes` (create the missing ones, wait until all are Ready).

Called by localcluster.cluster (`up` creates the nodes and waits for them) and by tests of the manifests. The
addresses are fiction: no container ever runs on a kwok node, so nothing may connect to them.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import procs
from .state import save_state

if TYPE_CHECKING:
    from .cluster import Cluster

NODE_PREFIX = "kwok-node-"
NODE_ANNOTATION = "kwok.x-k8s.io/node"
MAX_NODES = 2048  # podCIDRs are 10.244.0.0/24 .. 10.251.255.0/24


def node_name(index: int) -> str:
    """Name of the kwok node with this index (kwok-node-0, kwok-node-1, ...)."""
    return f"{NODE_PREFIX}{index}"


def node_ip(index: int) -> str:
    """Fiction node address 10.255.x.y (outside the pod and service ranges)."""
    return f"10.255.{index // 254}.{index % 254 + 1}"


def node_manifest(index: int) -> dict[str, Any]:
    """A fake node kwok manages (by annotation); status given so kwok keeps our capacity."""
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"node index {index} out of range 0..{MAX_NODES - 1}")
    name = node_name(index)
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                       "type": "kwok"},
        },
        "spec": {"podCIDR": f"10.{244 + index // 256}.{index % 256}.0/24"},
        # A fiction InternalIP (never reachable, but valid for EndpointSlices of hostNetwork pods, unlike loopback);
        # without one kwok would leave nodes with no InternalIP at all.
        "status": {"allocatable": dict(resources), "capacity": dict(resources),
                   "addresses": [{"type": "InternalIP", "address": node_ip(index)},
                                 {"type": "Hostname", "address": name}]},
    }


def node_ready(node: Mapping[str, Any]) -> bool:
    """True when a Node object is Ready and no longer carries the not-ready taint."""
    conditions = node.get("status", {}).get("conditions", [])
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    # DaemonSets only land once KCM has lifted the not-ready taint, so count a node Ready only after that.
    tainted = any(t.get("key") == "node.kubernetes.io/not-ready" for t in node.get("spec", {}).get("taints", []))
    return ready and not tainted


def ensure_nodes(c: Cluster, count: int, state: dict[str, Any], timeout: float,
                 watch: Sequence[tuple[str, dict[str, Any]]]) -> Cluster:
    """Create the kwok nodes 0..count-1 that are missing, record every node name in state.json, and wait until
    all of them are Ready (while watching that no component in `watch` died). Returns `c` with its nodes."""
    existing = {n["metadata"]["name"] for n in c.get_json("nodes")["items"]}
    wanted = [node_name(i) for i in range(count)]
    todo = [i for i in range(count) if node_name(i) not in existing]
    if todo:
        items = [node_manifest(i) for i in todo]
        c.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
                  timeout=60 + len(todo))
    names = sorted(set(state.get("nodes", [])) | set(wanted), key=lambda n: int(n.removeprefix(NODE_PREFIX)))
    state["nodes"] = names
    save_state(c.state_dir, state)

    def all_ready() -> bool:
        try:
            items = c.get_json("nodes", "-l", "type=kwok", timeout=30)["items"]
        except (subprocess.SubprocessError, ValueError):
            return False
        ready = {n["metadata"]["name"] for n in items if node_ready(n)}
        return set(names) <= ready

    procs.wait(f"{len(names)} nodes Ready", all_ready, timeout + 0.2 * len(names), watch=watch, log_dir=c.log_dir,
               interval=1.0)
    return dataclasses.replace(c, nodes=tuple(names))
