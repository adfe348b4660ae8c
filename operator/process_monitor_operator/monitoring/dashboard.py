"""The Grafana dashboard for process-monitor (pure): built here, shipped twice.

- `dashboards/process-monitor.json` in the repository is `process-monitor dashboard` output (a test keeps the two
  equal), for import by hand or by a provisioning file.
- The renderer's Grafana child (render/grafanadashboard.py): a ConfigMap labelled `grafana_dashboard: "1"` with a
  `grafana_folder` annotation, when a ProcessMonitor sets `spec.grafanaDashboard.enabled`.

Everything in dashboard 249 ("Named processes") is here with current panel types (timeseries/stat/table), plus
threads, fds and fd ratio, states, page faults, context switches and the agent's own cost. CPU and memory panels
read the recording rules of monitoring/recording.py, so the dashboard and the alerts agree on what "CPU %" means.
With `gpu=True` (a ProcessMonitor with `spec.gpu.enabled`; `process-monitor dashboard --gpu`, checked in as
`dashboards/process-monitor-gpu.json`) a last row shows the per-group GPU families and the agents' NVML health.
`PANEL_QUERIES` (every query with its variables) lets tests run each one against a real Prometheus.

With `kube_labels` (spec.kubernetes.labels: the agent adds namespace/pod/container, cAdvisor's meaning) the
namespace variable is the workload's, pod and container variables join it, the target filter keeps only node and
instance, and the Overview gains "Top containers by process CPU". Without it the model is exactly as before.

The model is assembled here (variables, settings, layout); the panels are monitoring/panels.py, Grafana's JSON
building blocks monitoring/grafana.py. Called by render/grafanadashboard.py and the CLI (`process-monitor
dashboard`); tests read `panel_queries`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .grafana import layout, variable
from .panels import (
    AGENT_GPU_ERRORS,
    AGENT_GPU_UP,
    GPU_MEMORY,
    GPU_PROCS,
    GPU_UTIL,
    KUBE_S,
    NUM_PROCS,
    A,
    gpu_panels,
    group_panels,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["AGENT_GPU_ERRORS", "AGENT_GPU_UP", "CONFIGMAP_KEY", "DEFAULT_FOLDER", "DEFAULT_TITLE", "DEFAULT_UID",
           "FOLDER_ANNOTATION", "GPU_MEMORY", "GPU_PROCS", "GPU_UTIL", "SIDECAR_LABEL", "dashboard", "dashboard_json",
           "panel_queries"]

DEFAULT_UID = "process-monitor"
DEFAULT_TITLE = "Process Monitor (named processes)"
DEFAULT_FOLDER = "Process Monitor"
CONFIGMAP_KEY = "process-monitor.json"
SIDECAR_LABEL = {"grafana_dashboard": "1"}
FOLDER_ANNOTATION = "grafana_folder"


def _kube_variables(metric: str) -> list[dict[str, Any]]:
    return [
        variable("namespace", "Namespace", f"label_values({metric}, namespace)", ".*"),
        variable("pod", "Pod", f'label_values({metric}{{namespace=~"$namespace"}}, pod)', ".*"),
        variable("container", "Container",
                 f'label_values({metric}{{namespace=~"$namespace",pod=~"$pod"}}, container)', ".*"),
        variable("node", "Node", f"label_values({metric}, node)", ".*"),
        variable("instance", "Instance", f'label_values({metric}{{node=~"$node"}}, instance)', ".*"),
        variable("groupname", "Group", f"label_values({metric}{{{KUBE_S.split(',groupname')[0]}}}, groupname)",
                 ".+"),
    ]


def dashboard(uid: str = DEFAULT_UID, title: str = DEFAULT_TITLE, gpu: bool = False,
              kube_labels: bool = False) -> dict[str, Any]:
    """The dashboard model (Grafana JSON), deterministic; `gpu` adds the GPU row, `kube_labels` the pod variant."""
    metric = NUM_PROCS
    templating = [
        {"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []},
        variable("namespace", "Namespace", f"label_values({metric}, namespace)", ".*"),
        variable("node", "Node", f'label_values({metric}{{namespace=~"$namespace"}}, node)', ".*"),
        variable("instance", "Instance",
                 f'label_values({metric}{{namespace=~"$namespace",node=~"$node"}}, instance)', ".*"),
        variable("groupname", "Group", f"label_values({metric}{{{A}}}, groupname)", ".+"),
    ]
    if kube_labels:
        templating = [templating[0], *_kube_variables(metric)]
    return {
        "uid": uid,
        "title": title,
        "description": "Named process groups from process-monitor agents (and process-exporter): dashboard 249 "
                       "and more.",
        "tags": ["process-monitor", "processes", "namedprocess"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": templating},
        "panels": layout(group_panels(kube_labels) + (gpu_panels() if gpu else [])),
    }


def dashboard_json(uid: str = DEFAULT_UID, title: str = DEFAULT_TITLE, gpu: bool = False,
                   kube_labels: bool = False) -> str:
    return json.dumps(dashboard(uid, title, gpu, kube_labels), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def panel_queries(model: Mapping[str, Any] | None = None) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL with Grafana variables) for every query of every panel."""
    for panel in (model or dashboard())["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]

