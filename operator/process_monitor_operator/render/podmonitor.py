"""prometheus-operator PodMonitor for the agent pods (optional, instead of the ServiceMonitor). Pure, called by
render_all.

`spec.prometheus.podMonitor.mode`: `off` (default) never, `on` renders it (and the status says so if the CRD is
missing), `auto` when the `podmonitors.monitoring.coreos.com` CRD is installed. While it is wanted the
ServiceMonitor is left out unless `serviceMonitor.mode` is explicitly `on` (both would scrape every agent twice).
The scrape gets the same target labels as the ServiceMonitor's (`node`, `processmonitor`, and prometheus-operator's
`namespace`, `pod`), so the shipped rules and dashboard work unchanged; `job` is `process-monitor` through the pod
label `jobLabel`, as with the ServiceMonitor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import JOB_LABEL, metadata, scrape_endpoint, selector_labels
from .options import PODMONITOR_API

if TYPE_CHECKING:
    from ..spec import Source
    from .options import RenderOptions

API_VERSION = "monitoring.coreos.com/v1"
KIND = "PodMonitor"
PLURAL = "podmonitors"
OPTIONAL_API = PODMONITOR_API


def wanted(src: Source) -> bool:
    return src.spec["prometheus"]["podMonitor"]["mode"] in ("on", "auto")


def skipped(src: Source, options: RenderOptions) -> str | None:
    if wanted(src) and not options.has(OPTIONAL_API):
        return "PodMonitor skipped: CRD podmonitors.monitoring.coreos.com is not installed"
    return None


def required_missing(src: Source, options: RenderOptions) -> bool:
    return src.spec["prometheus"]["podMonitor"]["mode"] == "on" and not options.has(OPTIONAL_API)


def render(src: Source, options: RenderOptions) -> list[dict[str, Any]]:
    pm = src.spec["prometheus"]["podMonitor"]
    if not wanted(src) or not options.has(OPTIONAL_API):
        return []
    return [{
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(src, labels=pm["labels"]),
        "spec": {
            "jobLabel": JOB_LABEL,
            "selector": {"matchLabels": selector_labels(src)},
            "namespaceSelector": {"matchNames": [src.namespace]},
            "podMetricsEndpoints": [scrape_endpoint(src, pm)],
        },
    }]
