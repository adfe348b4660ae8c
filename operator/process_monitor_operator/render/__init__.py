"""The pure renderer: ProcessMonitor dict -> every manifest the operator applies, deterministic to the byte.

One module per child kind. Each module defines `API_VERSION`, `KIND`, `PLURAL` and
`render(src, options) -> list[dict]` (empty when not wanted); a module whose kind comes from an optional CRD also
defines `OPTIONAL_API`, `skipped(src, options) -> str | None` and `required_missing(src, options) -> bool`.
Adding a child = one module + one entry in `CHILDREN`. The operator (reconcile), the CLI (`process-monitor render`)
and the golden-file tests all go through `render_all`, so what is reviewed is what is applied.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..constants import DIGEST_ANNOTATION
from ..k8s.serialize import to_json_bytes
from ..spec import Source, load
from . import (
    configmap,
    daemonset,
    grafanadashboard,
    podmonitor,
    prometheusrule,
    service,
    serviceaccount,
    servicemonitor,
)
from .options import RenderOptions

if TYPE_CHECKING:
    from types import ModuleType

# Apply order: what others reference comes first (the pods need the account and the config).
CHILDREN: tuple[ModuleType, ...] = (
    serviceaccount, configmap, daemonset, service, servicemonitor, podmonitor, prometheusrule, grafanadashboard,
)

# DIGEST_ANNOTATION: digest of the manifest (without this annotation) stamped on every child by `_stamp`; the
# operator compares it with the live object's to notice fields it must remove, and skips the write when they match
# (zero writes at steady state). It sits in the child's own metadata, never in the DaemonSet's pod template, so it
# never restarts agents.

__all__ = ["CHILDREN", "DIGEST_ANNOTATION", "RenderOptions", "child_kinds", "render_all", "required_missing",
           "skipped"]


def _source(pm: dict[str, Any] | Source) -> Source:
    return pm if isinstance(pm, Source) else load(pm)


def render_all(pm: dict[str, Any] | Source, options: RenderOptions) -> list[dict[str, Any]]:
    """Every child manifest of `pm`, in apply order."""
    src = _source(pm)
    out: list[dict[str, Any]] = []
    for module in CHILDREN:
        out.extend(_stamp(m) for m in module.render(src, options))
    return out


def _stamp(manifest: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(to_json_bytes(manifest)).hexdigest()[:16]
    manifest["metadata"].setdefault("annotations", {})[DIGEST_ANNOTATION] = digest
    return manifest


def skipped(pm: dict[str, Any] | Source, options: RenderOptions) -> list[str]:
    """Messages for wanted children that were not rendered because their CRD is missing."""
    src = _source(pm)
    return [msg for m in CHILDREN if hasattr(m, "skipped") and (msg := m.skipped(src, options))]


def required_missing(pm: dict[str, Any] | Source, options: RenderOptions) -> list[str]:
    """Kinds the user explicitly asked for (mode `on`) whose CRD is missing."""
    src = _source(pm)
    return [m.KIND for m in CHILDREN if hasattr(m, "required_missing") and m.required_missing(src, options)]


def child_kinds() -> list[tuple[str, str, str]]:
    """(apiVersion, kind, plural) of every kind the renderer may produce: what the operator applies and watches."""
    # Several modules may render the same kind (two ConfigMaps); list each kind once.
    return list(dict.fromkeys((m.API_VERSION, m.KIND, m.PLURAL) for m in CHILDREN))
