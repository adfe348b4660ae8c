"""Service in front of the agent pods (port `http-metrics`), for ServiceMonitor and plain kubernetes_sd. Pure,
called by `render_all`.

Headless: nothing connects through a virtual IP, Prometheus scrapes each endpoint. With
`spec.prometheus.scrapeAnnotations` (the default) it carries the `prometheus.io/*` annotations that the classic
kubernetes_sd relabelling of plain Prometheus looks for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import constants as c
from .common import JOB, JOB_LABEL, metadata, selector_labels

if TYPE_CHECKING:
    from ..spec import Source
    from .options import RenderOptions

API_VERSION = "v1"
KIND = "Service"
PLURAL = "services"


def render(src: Source, options: RenderOptions) -> list[dict[str, Any]]:
    port = src.spec["agent"]["port"]
    annotations = None
    if src.spec["prometheus"]["scrapeAnnotations"]:
        annotations = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
    return [{
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(src, labels={JOB_LABEL: JOB}, annotations=annotations),
        "spec": {
            "clusterIP": "None",
            "selector": selector_labels(src),
            "ports": [{"name": c.PORT_NAME, "port": port, "targetPort": c.PORT_NAME, "protocol": "TCP"}],
        },
    }]
