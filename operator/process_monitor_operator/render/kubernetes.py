"""`spec.kubernetes`: what Kubernetes attribution adds to the children (pure helpers, no child of its own).

Called by daemonset.py (mounts, flags), servicemonitor.py / podmonitor.py (target relabelings), prometheusrule.py
and the CLI (the rule scope of monitoring/rules.py), grafanadashboard.py (the dashboard variant) and validation.py.
Everything here returns nothing unless the ProcessMonitor asks for attribution, so existing renders stay
byte-identical.

- `enabled: true` mounts the kubelet's pod log directory and /var/log/containers read-only (the agent only lists
  them: names, never contents) and points the agent's -kubernetes.* flags at them; templates may then use
  {{.Namespace}} {{.Pod}} {{.Container}}. ({{.PodUID}} and {{.ContainerID}} need only /proc.)
- `labels: true` (implies enabled) adds `-kubernetes.labels`: every namedprocess_namegroup_* series carries
  namespace/pod/container. Prometheus's own target labels of those names (prometheus-operator sets namespace, pod
  and container to the agent pod's) are dropped at the target, so the agent's values reach Prometheus as cAdvisor's
  do, without honor_labels (which would also let a target override job and instance). The rules' scope then can
  no longer use `namespace`: the target gets `processmonitor_namespace` instead (monitoring/rules.py default_selector).
The agent's ServiceAccount keeps no API rights: nothing here talks to the API server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..constants import SCOPE_NAMESPACE_LABEL

if TYPE_CHECKING:
    from ..spec import Source

POD_LOGS_MOUNT = "/host/var/log/pods"
CONTAINER_LOGS_MOUNT = "/host/var/log/containers"
# cAdvisor's names; the agent's exposition writes them in this order.
LABELS = ("namespace", "pod", "container")
NAME_FIELDS = ("Namespace", "Pod", "Container")  # template fields that need the log directories


def settings(src: Source) -> dict[str, Any]:
    return src.spec.get("kubernetes") or {}


def labels_on(src: Source) -> bool:
    return bool(settings(src).get("labels"))


def enabled(src: Source) -> bool:
    return labels_on(src) or bool(settings(src).get("enabled"))


def agent_args(src: Source) -> list[str]:
    if not enabled(src):
        return []
    args = [f"--kubernetes.pod-logs-dir={POD_LOGS_MOUNT}", f"--kubernetes.container-logs-dir={CONTAINER_LOGS_MOUNT}"]
    if labels_on(src):
        args.append("--kubernetes.labels=true")
        ttl = settings(src).get("emptySeriesTTL")
        if ttl:
            args.append(f"--kubernetes.empty-series-ttl={ttl}")
    return args


def volume_mounts(src: Source) -> list[dict[str, Any]]:
    if not enabled(src):
        return []
    return [
        {"name": "pod-logs", "mountPath": POD_LOGS_MOUNT, "readOnly": True},
        {"name": "container-logs", "mountPath": CONTAINER_LOGS_MOUNT, "readOnly": True},
    ]


def volumes(src: Source) -> list[dict[str, Any]]:
    if not enabled(src):
        return []
    k = settings(src)
    # type Directory: the kubelet makes both at start; a node without them fails the pod visibly (an Event)
    # instead of the agent silently reporting empty names.
    return [
        {"name": "pod-logs", "hostPath": {"path": k.get("podLogsDir") or "/var/log/pods", "type": "Directory"}},
        {"name": "container-logs",
         "hostPath": {"path": k.get("containerLogsDir") or "/var/log/containers", "type": "Directory"}},
    ]


def target_relabelings(src: Source) -> list[dict[str, Any]]:
    """ServiceMonitor/PodMonitor relabelings: drop the agent pod's namespace/pod/container target labels, keep the
    ProcessMonitor's namespace under another name for the rules' scope."""
    if not labels_on(src):
        return []
    return [
        {"targetLabel": SCOPE_NAMESPACE_LABEL, "replacement": src.namespace, "action": "replace"},
        {"regex": "|".join(LABELS), "action": "labeldrop"},
    ]
