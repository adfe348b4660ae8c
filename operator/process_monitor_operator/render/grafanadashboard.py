"""Grafana dashboard ConfigMap for the Grafana sidecar (optional). Pure, called by render_all.

Rendered when `spec.grafanaDashboard.enabled`: label `grafana_dashboard: "1"` (the sidecar label of the grafana
chart in kube-prometheus-stack), annotation `grafana_folder` (the chart's `sidecar.dashboards.folderAnnotation`),
one key `process-monitor.json` holding monitoring/dashboard.py's model (with its GPU row when `spec.gpu.enabled`).
Its uid and title name this ProcessMonitor, so several ProcessMonitors' dashboards never replace each other
in Grafana.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..monitoring import dashboard
from . import gpu, kubernetes
from .common import metadata

if TYPE_CHECKING:
    from ..spec import Source
    from .options import RenderOptions

API_VERSION = "v1"
KIND = "ConfigMap"
PLURAL = "configmaps"
SUFFIX = "dashboard"


def render(src: Source, options: RenderOptions) -> list[dict[str, Any]]:
    spec = src.spec["grafanaDashboard"]
    if not spec["enabled"]:
        return []
    digest = hashlib.sha256(f"{src.namespace}/{src.name}".encode()).hexdigest()[:12]
    uid = f"pmon-{digest}"  # Grafana uids are at most 40 characters
    title = f"{dashboard.DEFAULT_TITLE}: {src.namespace}/{src.name}"
    labels = {**spec["labels"], **dashboard.SIDECAR_LABEL}
    return [{
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(src, SUFFIX, labels=labels, annotations={dashboard.FOLDER_ANNOTATION: spec["folder"]}),
        "data": {dashboard.CONFIGMAP_KEY: dashboard.dashboard_json(uid, title, gpu=gpu.enabled(src),
                                                                  kube_labels=kubernetes.labels_on(src))},
    }]
