"""Every Kubernetes API permission the operator needs, in one place (the Helm chart's ClusterRole copies these).

`process-monitor rbac` prints them as a ClusterRole. Keep this list in step with what `k8s/api.py`, `handlers.py`
(the watches) and kopf itself call; the packaging tests compare the chart's ClusterRole with `RULES`.
"""

from __future__ import annotations

from typing import Any

from . import constants as c

_CHILD_VERBS = ["get", "list", "watch", "create", "patch", "update", "delete"]

RULES: list[dict[str, Any]] = [
    # The ProcessMonitors themselves: kopf watches them and writes its diff-base annotation; the operator writes
    # status. `processmonitors/finalizers` lets children carry blockOwnerDeletion
    # (OwnerReferencesPermissionEnforcement).
    {"apiGroups": [c.GROUP], "resources": [c.PLURAL], "verbs": ["get", "list", "watch", "patch", "update"]},
    {"apiGroups": [c.GROUP], "resources": [f"{c.PLURAL}/status"], "verbs": ["get", "patch", "update"]},
    {"apiGroups": [c.GROUP], "resources": [f"{c.PLURAL}/finalizers"], "verbs": ["update"]},
    # Children (server-side apply = patch; watched for drift; pruned when no longer wanted).
    {"apiGroups": [""], "resources": ["serviceaccounts", "configmaps", "services"], "verbs": _CHILD_VERBS},
    {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": _CHILD_VERBS},
    {"apiGroups": ["monitoring.coreos.com"], "resources": ["servicemonitors", "podmonitors", "prometheusrules"],
     "verbs": _CHILD_VERBS},
    # Events about ProcessMonitors (kopf posts core/v1 Events); `list` reads the DaemonSet controller's FailedCreate
    # Events, so a Pod Security rejection of the agent pods shows in the ProcessMonitor's status.
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch", "list"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    # kopf's resource scanning, and noticing when prometheus-operator's CRDs get installed.
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
    # kopf peering (only used when running several replicas with --peering).
    {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings", "kopfpeerings"],
     "verbs": ["get", "list", "watch", "patch"]},
]


def cluster_role(name: str = "process-monitor-operator") -> dict[str, Any]:
    """A ClusterRole granting `RULES` (the chart binds it to the operator's ServiceAccount)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": RULES,
    }
