"""prometheus-operator ServiceMonitor for the agent Service. Pure renderer, called by `render_all`.

`spec.prometheus.serviceMonitor.mode`: `on` renders it (and the status says so if the CRD is missing), `off` never,
`auto` (default) only when the `servicemonitors.monitoring.coreos.com` CRD is installed. `job` is stable
(`process-monitor`, from the Service's `jobLabel` label, kube-prometheus-stack's convention) and every series gets
the `node` and `processmonitor` labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import JOB_LABEL, common_labels, metadata, scrape_endpoint
from .options import SERVICEMONITOR_API

if TYPE_CHECKING:
    from ..spec import Source
    from .options import RenderOptions

API_VERSION = "monitoring.coreos.com/v1"
KIND = "ServiceMonitor"
PLURAL = "servicemonitors"
OPTIONAL_API = SERVICEMONITOR_API


def wanted(src: Source) -> bool:
    mode = src.spec["prometheus"]["serviceMonitor"]["mode"]
    # A wanted PodMonitor replaces the ServiceMonitor unless the user explicitly asked for both (`on`).
    if mode == "auto" and src.spec["prometheus"]["podMonitor"]["mode"] in ("on", "auto"):
        return False
    return mode in ("on", "auto")


def skipped(src: Source, options: RenderOptions) -> str | None:
    """Why a wanted ServiceMonitor is not rendered, or None."""
    if wanted(src) and not options.has(OPTIONAL_API):
        return "ServiceMonitor skipped: CRD servicemonitors.monitoring.coreos.com is not installed"
    return None


def required_missing(src: Source, options: RenderOptions) -> bool:
    """True when the user asked for it explicitly (`mode: on`) and it cannot be made."""
    return src.spec["prometheus"]["serviceMonitor"]["mode"] == "on" and not options.has(OPTIONAL_API)


def render(src: Source, options: RenderOptions) -> list[dict[str, Any]]:
    sm = src.spec["prometheus"]["serviceMonitor"]
    if not wanted(src) or not options.has(OPTIONAL_API):
        return []
    return [{
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(src, labels=sm["labels"]),
        "spec": {
            "jobLabel": JOB_LABEL,
            "selector": {"matchLabels": common_labels(src)},
            "namespaceSelector": {"matchNames": [src.namespace]},
            "endpoints": [scrape_endpoint(src, sm)],
        },
    }]
