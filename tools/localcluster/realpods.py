"""Running the product on the local real node: the chart's values for it, finding pods there, scraping agents.

One place for what the quick start (tools/quickstart.py), the real-node tests (tests/realnode) and the real-node
benchmarks (bench/realnode_reload.py) all need. The real node has no pod network: the operator and the agents run
with hostNetwork and are reached at 127.0.0.1; the operator's in-cluster config is pointed at the API server's
loopback address (the `kubernetes` Service IP is fiction here).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from . import images
from .realnode import NODE_NAME

OPERATOR_REPO, _, IMAGE_TAG = images.OPERATOR_IMAGE.rpartition(":")
AGENT_REPO = images.AGENT_IMAGE.rpartition(":")[0]
PARENT_LABEL = "monitoring.process-monitor.dev/processmonitor"
OPERATOR_SELECTOR = "app.kubernetes.io/component=operator"


def chart_values(server: str, *, probe_port: int, metrics_port: int,
                 extra_args: Sequence[str] = ()) -> dict[str, Any]:
    """Values of charts/process-monitor for this machine's real node: our locally built images (never pulled),
    hostNetwork, the API server at 127.0.0.1, the operator pinned to the real node (kwok nodes run nothing)."""
    return {
        "image": {"repository": OPERATOR_REPO, "tag": IMAGE_TAG, "pullPolicy": "Never"},
        "agentImage": {"repository": AGENT_REPO, "tag": IMAGE_TAG},
        "hostNetwork": True,
        "apiServer": {"host": "127.0.0.1", "port": server.rsplit(":", 1)[1]},
        "nodeSelector": {"kubernetes.io/hostname": NODE_NAME},
        # hostNetwork opens these ports on the host itself
        "operator": {"probePort": probe_port, "metricsPort": metrics_port, "extraArgs": list(extra_args)},
        "metrics": {"service": {"enabled": False}},
    }


def pods_on_real_node(kubectl: Callable[..., Any], namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
    """Pods of `namespace` (matching `selector`) on the real node, leaving out those being deleted."""
    args = ["get", "pods", "-n", namespace, "--field-selector", f"spec.nodeName={NODE_NAME}", "-o", "json"]
    if selector:
        args += ["-l", selector]
    proc = kubectl(*args, check=False)
    if proc.returncode != 0:
        return []
    return [p for p in json.loads(proc.stdout)["items"] if not p["metadata"].get("deletionTimestamp")]


def pod_ready(pod: dict[str, Any]) -> bool:
    conds = pod.get("status", {}).get("conditions", [])
    return any(x.get("type") == "Ready" and x.get("status") == "True" for x in conds)


def scrape(port: int, timeout: float = 10.0) -> str:
    """GET an agent's /metrics at 127.0.0.1:port (hostNetwork); '' while it does not answer."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as rsp:
            return rsp.read().decode()
    except OSError:
        return ""
