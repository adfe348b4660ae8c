"""The ProcessMonitor spec as the renderer sees it: defaults applied, identity extracted.

`load(pm)` turns a ProcessMonitor dict (from the API server or from a user's file) into a `Source`. The API server
fills the CRD schema's defaults itself; a file given to `process-monitor render` has none, so the same defaults are
applied here. `DEFAULTS` must equal the `default:` values in crds/processmonitor.yaml (a unit test checks), which is
what keeps `render` byte-identical to what the operator applies. Called by `render`, `validation` and the CLI.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from . import constants as c

# Defaults of spec fields. Mappings merge recursively with what the user wrote; lists and scalars the user wrote
# replace the default (so `tolerations: []` means "no tolerations").
DEFAULTS: dict[str, Any] = {
    "collection": {
        "children": True,
        "threads": True,
        "gatherSmaps": True,
        "recheck": False,
        "removeEmptyGroups": False,
    },
    "agent": {
        "image": "",
        "imagePullPolicy": "IfNotPresent",
        "port": c.DEFAULT_PORT,
        "securityMode": "full",
        "hostNetwork": False,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        # Tolerate every taint, as the seed article's DaemonSet does: process monitoring wants every node.
        "tolerations": [{"operator": "Exists"}],
        "resources": {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            # A CPU limit too: a tenant who makes collection expensive (many processes, threads) costs the node at
            # most half a core (docs/security.md).
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "extraArgs": [],
        "podAnnotations": {},
        "podLabels": {},
    },
    "prometheus": {
        "scrapeAnnotations": True,
        "serviceMonitor": {
            "mode": "auto",
            "labels": {},
            "relabelings": [],
            "metricRelabelings": [],
        },
        "podMonitor": {
            "mode": "off",
            "labels": {},
            "relabelings": [],
            "metricRelabelings": [],
        },
    },
    # GPU processes: only `enabled` has a default; the scheduling fields are read as written (render/gpu.py).
    "gpu": {
        "enabled": False,
    },
    # Kubernetes attribution (render/kubernetes.py, docs/attribution.md); off: the render is as before.
    "kubernetes": {
        "enabled": False,
        "labels": False,
        "podLogsDir": "/var/log/pods",
        "containerLogsDir": "/var/log/containers",
    },
    # spec.alerts has no schema defaults: monitoring/ reads it as written (absent = enabled, no per-group rules).
    "grafanaDashboard": {
        "enabled": False,
        "folder": "Process Monitor",
        "labels": {},
    },
}


def with_defaults(value: Any, default: Any) -> Any:
    """Deep-merge `value` over `default` (mappings merge, anything else the user wrote wins)."""
    if isinstance(default, dict) and isinstance(value, dict):
        merged = {k: copy.deepcopy(v) for k, v in default.items()}
        for k, v in value.items():
            merged[k] = with_defaults(v, default[k]) if k in default else copy.deepcopy(v)
        return merged
    if value is None:
        return copy.deepcopy(default)
    return copy.deepcopy(value)


@dataclass(frozen=True)
class Source:
    """One ProcessMonitor reduced to what rendering needs. `spec` has the defaults applied."""

    name: str
    namespace: str
    uid: str | None
    generation: int | None
    spec: dict[str, Any] = field(hash=False, compare=False)

    @property
    def process_names(self) -> list[dict[str, Any]]:
        return list(self.spec.get("processNames") or [])


def load(pm: dict[str, Any], default_namespace: str = "default") -> Source:
    """Extract a `Source` from a ProcessMonitor dict. Raises ValueError for a document that is not one."""
    if not isinstance(pm, dict):
        raise ValueError("a ProcessMonitor must be a mapping")
    if pm.get("kind") not in (None, c.KIND):
        raise ValueError(f"expected kind {c.KIND}, got {pm.get('kind')!r}")
    meta = pm.get("metadata") or {}
    name = meta.get("name")
    if not name or not isinstance(name, str):
        raise ValueError("metadata.name is required")
    spec = pm.get("spec") or {}
    if not isinstance(spec, dict):
        raise ValueError("spec must be a mapping")
    return Source(
        name=name,
        namespace=meta.get("namespace") or default_namespace,
        uid=meta.get("uid"),
        generation=meta.get("generation"),
        spec=with_defaults(spec, DEFAULTS),
    )
