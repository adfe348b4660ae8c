"""Metadata shared by every child: name, namespace, our labels, the owner reference. Pure; used by each renderer.

Children never copy the parent's labels or annotations (Argo CD tracking would then claim them); they carry
`app.kubernetes.io/managed-by` and the parent label only. The owner reference is added when the ProcessMonitor
has a uid (always in the operator; in the CLI only when the input came from the cluster).
"""

from __future__ import annotations

from typing import Any

from .. import constants as c
from ..names import child_name, label_value
from ..spec import Source


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
