"""What renderers share, so no renderer imports another: child metadata and the scrape settings. Pure.

Metadata of every child: name, namespace, our labels, the owner reference. Scrape settings: the `jobLabel` label
that names the Prometheus job, and the endpoint a ServiceMonitor or PodMonitor scrapes. Imported by each module
of render/ that builds a child.

Children never copy the parent's labels or annotations (Argo CD tracking would then claim them); they carry
`app.kubernetes.io/managed-by` and the parent label only. The owner reference is added when the ProcessMonitor
has a uid (always in the operator; in the CLI only when the input came from the cluster).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import constants as c
from ..names import child_name, label_value
from . import kubernetes

if TYPE_CHECKING:
    from ..spec import Source

# The label whose value prometheus-operator (and kube-prometheus-stack's convention) uses as `job`; the Service and
# the agent pods carry it, the ServiceMonitor and PodMonitor point `jobLabel` at it.
JOB_LABEL = "jobLabel"
JOB = "process-monitor"
NODE_RELABELING = {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}


def selector_labels(src: Source) -> dict[str, str]:
    """Labels that select this ProcessMonitor's agent pods (immutable DaemonSet selector: never change them)."""
    return {c.NAME_LABEL: c.AGENT_NAME, c.PARENT_LABEL: label_value(src.name)}


def common_labels(src: Source) -> dict[str, str]:
    return {c.MANAGED_BY_LABEL: c.MANAGED_BY_VALUE, **selector_labels(src)}


def owner_references(src: Source) -> list[dict[str, Any]]:
    if not src.uid:
        return []
    return [{
        "apiVersion": c.API_VERSION,
        "kind": c.KIND,
        "name": src.name,
        "uid": src.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }]


def metadata(
    src: Source,
    suffix: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """metadata of a child named `pmon-<name>[-<suffix>]`; `labels` are extra and cannot override ours."""
    meta: dict[str, Any] = {
        "name": child_name(src.name, suffix),
        "namespace": src.namespace,
        "labels": {**(labels or {}), **common_labels(src)},
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    if refs := owner_references(src):
        meta["ownerReferences"] = refs
    return meta


def scrape_endpoint(src: Source, monitor: dict[str, Any]) -> dict[str, Any]:
    """The endpoint of a ServiceMonitor or PodMonitor (`monitor`: its spec.prometheus section): the agent's port,
    the user's interval and timeout, then the target labels the shipped rules and dashboard rely on."""
    endpoint: dict[str, Any] = {"port": c.PORT_NAME, "path": "/metrics", "scheme": "http"}
    for key in ("interval", "scrapeTimeout"):
        if monitor.get(key):
            endpoint[key] = monitor[key]
    # `processmonitor` scopes the shipped recording/alerting rules to this ProcessMonitor's targets
    # (constants.SCOPE_LABEL); `node` is what dashboards group by.
    scope = {"targetLabel": c.SCOPE_LABEL, "replacement": src.name, "action": "replace"}
    endpoint["relabelings"] = [NODE_RELABELING, scope, *kubernetes.target_relabelings(src), *monitor["relabelings"]]
    if monitor["metricRelabelings"]:
        endpoint["metricRelabelings"] = monitor["metricRelabelings"]
    return endpoint
