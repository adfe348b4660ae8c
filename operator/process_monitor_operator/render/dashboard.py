"""The Grafana dashboard for process-monitor (pure): built here, shipped twice.

- `dashboards/process-monitor.json` in the repository is `process-monitor dashboard` output (a test keeps the two
  equal), for import by hand or by a provisioning file.
- The renderer's Grafana child (render/grafanadashboard.py): a ConfigMap labelled `grafana_dashboard: "1"` with a
  `grafana_folder` annotation, when a ProcessMonitor sets `spec.grafanaDashboard.enabled`.

Everything in dashboard 249 ("Named processes") is here with current panel types (timeseries/stat/table), plus
threads, fds and fd ratio, states, page faults, context switches and the agent's own cost. CPU and memory panels
read the recording rules of render/rules.py, so the dashboard and the alerts agree on what "CPU %" means.
With `gpu=True` (a ProcessMonitor with `spec.gpu.enabled`; `process-monitor dashboard --gpu`, checked in as
`dashboards/process-monitor-gpu.json`) a last row shows the per-group GPU families and the agents' NVML health.
`PANEL_QUERIES` (every query with its variables) lets tests run each one against a real Prometheus.

With `kube_labels` (spec.kubernetes.labels: the agent adds namespace/pod/container, cAdvisor's meaning) the
namespace variable is the workload's, pod and container variables join it, the target filter keeps only node and
instance, and the Overview gains "Top containers by process CPU". Without it the model is exactly as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from .rules import (
    RECORD_CPU_PERCENT,
    RECORD_CPU_PERCENT_BY_MODE,
    RECORD_RESIDENT_BYTES,
    RECORD_VIRTUAL_BYTES,
)

DEFAULT_UID = "process-monitor"
DEFAULT_TITLE = "Process Monitor (named processes)"
DEFAULT_FOLDER = "Process Monitor"
CONFIGMAP_KEY = "process-monitor.json"
SIDECAR_LABEL = {"grafana_dashboard": "1"}
FOLDER_ANNOTATION = "grafana_folder"

DS = {"type": "prometheus", "uid": "${datasource}"}
# Target-level filters; the "All" value of namespace/node/instance is `.*` so series without that label (a plain
# static_configs job has no `node`) still match, while groupname's "All" is `.+` as in dashboard 249.
A = 'namespace=~"$namespace",node=~"$node",instance=~"$instance"'
S = A + ',groupname=~"$groupname"'
WHERE = "{{groupname}} @ {{instance}}"
# spec.kubernetes.labels: namespace/pod/container are the workload's; agents are told apart by node and instance.
KUBE_A = 'node=~"$node",instance=~"$instance"'
KUBE_S = KUBE_A + ',namespace=~"$namespace",pod=~"$pod",container=~"$container",groupname=~"$groupname"'

# The agent's own metrics (design.md: prefix process_monitor_agent_); the agent-cost panels read these, and the
# standard process_* metrics of the agent targets (picked out by the agent's build_info).
AGENT_COLLECTION_CPU = "process_monitor_agent_collection_cpu_seconds_total"
AGENT_COLLECTIONS = "process_monitor_agent_collections_total"
AGENT_COLLECTION_DURATION = "process_monitor_agent_collection_duration_seconds"
AGENT_PROCESSES = "process_monitor_agent_processes"
AGENT_BUILD_INFO = "process_monitor_agent_build_info"
AGENT_RELOAD_OK = "process_monitor_agent_config_last_reload_successful"
GPU_MEMORY = "namedprocess_namegroup_gpu_memory_bytes"
GPU_UTIL = "namedprocess_namegroup_gpu_utilization_ratio"
GPU_PROCS = "namedprocess_namegroup_gpu_num_procs"
AGENT_GPU_UP = "process_monitor_agent_gpu_up"
AGENT_GPU_ERRORS = "process_monitor_agent_gpu_scrape_errors_total"


def _target(expr: str, legend: str = WHERE, ref: str = "A", *, instant: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend}
    if instant:
        t.update({"instant": True, "range": False, "format": "table"})
    return t


def _timeseries(title: str, description: str, targets: list[dict[str, Any]], unit: str, *,
                stack: bool = False, max_value: float | None = None) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": unit,
        "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                   "stacking": {"mode": "normal" if stack else "none", "group": "A"}},
    }
    if max_value is not None:
        defaults["max"] = max_value
    return {
        "type": "timeseries", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": targets,
    }


def _stat(title: str, description: str, expr: str, unit: str) -> dict[str, Any]:
    return {
        "type": "stat", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "area", "textMode": "auto"},
        "targets": [_target(expr, "")],
    }


def _row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def _top_containers(s: str) -> dict[str, Any]:
    return _timeseries(
        "Top containers by process CPU",
        "The 10 containers whose processes use the most CPU (sum over their groups), percent of one core; host "
        "processes (no pod) are left out.",
        [_target(f'topk(10, sum by (namespace, pod, container) ({RECORD_CPU_PERCENT}{{{s},pod!=""}}))',
                 "{{namespace}}/{{pod}}/{{container}}")], "percent")


def _panels(kube_labels: bool = False) -> list[dict[str, Any]]:
    a, s = (KUBE_A, KUBE_S) if kube_labels else (A, S)
    rate = "[$__rate_interval]"
    table_columns = [
        ("procs", f"namedprocess_namegroup_num_procs{{{s}}}"),
        ("cpu", f"{RECORD_CPU_PERCENT}{{{s}}}"),
        ("resident", f"{RECORD_RESIDENT_BYTES}{{{s}}}"),
        ("threads", f"namedprocess_namegroup_num_threads{{{s}}}"),
        ("fds", f"namedprocess_namegroup_open_filedesc{{{s}}}"),
        ("fdratio", f"namedprocess_namegroup_worst_fd_ratio{{{s}}}"),
        ("uptime", f"time() - (namedprocess_namegroup_oldest_start_time_seconds{{{s}}} > 0)"),
    ]
    table = {
        "type": "table", "title": "Groups now",
        "description": "One row per group and agent: processes, CPU % of one core, resident memory, threads, "
                       "open fds, worst fd ratio and the age of the oldest process.",
        "datasource": DS,
        "fieldConfig": {"defaults": {}, "overrides": [
            {"matcher": {"id": "byName", "options": "Value #cpu"},
             "properties": [{"id": "unit", "value": "percent"}, {"id": "displayName", "value": "CPU %"}]},
            {"matcher": {"id": "byName", "options": "Value #resident"},
             "properties": [{"id": "unit", "value": "bytes"}, {"id": "displayName", "value": "resident"}]},
            {"matcher": {"id": "byName", "options": "Value #fdratio"},
             "properties": [{"id": "unit", "value": "percentunit"}, {"id": "displayName", "value": "fd ratio"}]},
            {"matcher": {"id": "byName", "options": "Value #uptime"},
             "properties": [{"id": "unit", "value": "s"}, {"id": "displayName", "value": "oldest process age"}]},
            {"matcher": {"id": "byName", "options": "Value #procs"},
             "properties": [{"id": "displayName", "value": "processes"}]},
            {"matcher": {"id": "byName", "options": "Value #threads"},
             "properties": [{"id": "displayName", "value": "threads"}]},
            {"matcher": {"id": "byName", "options": "Value #fds"},
             "properties": [{"id": "displayName", "value": "open fds"}]},
        ]},
        "options": {"showHeader": True, "sortBy": [{"displayName": "CPU %", "desc": True}]},
        "targets": [_target(expr, "", ref, instant=True) for ref, expr in table_columns],
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True, "__name__": True, "job": True}}},
        ],
    }
    return [
        _row("Overview"),
        _stat("Processes", "Processes in the selected groups.", f"sum(namedprocess_namegroup_num_procs{{{s}}})",
              "short"),
        _stat("Groups", "Distinct group names with at least one series.",
              f"count(count by (groupname) (namedprocess_namegroup_num_procs{{{s}}}))", "short"),
        _stat("CPU", "CPU of the selected groups, in percent of one core (recording rule).",
              f"sum({RECORD_CPU_PERCENT}{{{s}}})", "percent"),
        _stat("Resident memory", "Resident memory of the selected groups (recording rule).",
              f"sum({RECORD_RESIDENT_BYTES}{{{s}}})", "bytes"),
        _stat("Worst fd ratio", "The fullest process: open fds over its soft open-files limit.",
              f"max(namedprocess_namegroup_worst_fd_ratio{{{s}}})", "percentunit"),
        _stat("Agents", "Agents (targets) reporting groups.",
              f"count(count by (instance) (namedprocess_namegroup_num_procs{{{a}}}))", "short"),
        table,
        *([_top_containers(s)] if kube_labels else []),
        _row("Dashboard 249: processes, CPU, I/O, memory"),
        _timeseries("Processes", "namedprocess_namegroup_num_procs per group.",
                    [_target(f"namedprocess_namegroup_num_procs{{{s}}}")], "short"),
        _timeseries("CPU (% of one core)",
                    "User + system CPU per group; 100 = one full core. The seed's "
                    "increase(...[30s])*100/30 over the recording rule's 2m window.",
                    [_target(f"{RECORD_CPU_PERCENT}{{{s}}}")], "percent"),
        _timeseries("CPU by mode", "User and system CPU per group, percent of one core.",
                    [_target(f"{RECORD_CPU_PERCENT_BY_MODE}{{{s}}}", WHERE + " {{mode}}")], "percent"),
        _timeseries("Read bytes", "Bytes read per second (from /proc/PID/io; 0 without read access).",
                    [_target(f"rate(namedprocess_namegroup_read_bytes_total{{{s}}}{rate})")], "Bps"),
        _timeseries("Write bytes", "Bytes written per second (from /proc/PID/io; 0 without read access).",
                    [_target(f"rate(namedprocess_namegroup_write_bytes_total{{{s}}}{rate})")], "Bps"),
        _timeseries("Resident memory", "Resident set size per group (recording rule).",
                    [_target(f"{RECORD_RESIDENT_BYTES}{{{s}}}")], "bytes"),
        _timeseries("Virtual memory", "Virtual memory size per group (recording rule).",
                    [_target(f"{RECORD_VIRTUAL_BYTES}{{{s}}}")], "bytes"),
        _timeseries("Swap and proportional memory",
                    "Swapped, and with -gather-smaps proportionalResident (PSS) and proportionalSwapped.",
                    [_target(f'namedprocess_namegroup_memory_bytes{{{s},'
                             f'memtype=~"swapped|proportionalResident|proportionalSwapped"}}',
                             WHERE + " {{memtype}}")], "bytes"),
        _row("Threads, file descriptors, states, faults, context switches"),
        _timeseries("Threads", "Threads per group.", [_target(f"namedprocess_namegroup_num_threads{{{s}}}")],
                    "short"),
        _timeseries("Open file descriptors", "Open fds per group.",
                    [_target(f"namedprocess_namegroup_open_filedesc{{{s}}}")], "short"),
        _timeseries("Worst fd ratio", "Per group, the fullest process's open fds over its soft limit.",
                    [_target(f"namedprocess_namegroup_worst_fd_ratio{{{s}}}")], "percentunit", max_value=1),
        _timeseries("Thread states", "Threads per scheduler state (Running, Sleeping, Waiting, Zombie, Other).",
                    [_target(f"sum by (groupname, state) (namedprocess_namegroup_states{{{s}}})",
                             "{{groupname}} {{state}}")], "short", stack=True),
        _timeseries("Page faults", "Major and minor page faults per second.",
                    [_target(f"rate(namedprocess_namegroup_major_page_faults_total{{{s}}}{rate})",
                             WHERE + " major", "A"),
                     _target(f"rate(namedprocess_namegroup_minor_page_faults_total{{{s}}}{rate})",
                             WHERE + " minor", "B")], "ops"),
        _timeseries("Context switches", "Voluntary and nonvoluntary context switches per second.",
                    [_target(f"rate(namedprocess_namegroup_context_switches_total{{{s}}}{rate})",
                             WHERE + " {{ctxswitchtype}}")], "ops"),
        _row("Agent cost"),
        _timeseries("Agent CPU per collection",
                    "CPU seconds the agent spends on one walk of /proc (concurrent scrapes share one): the figure "
                    "process-monitor exists to keep low.",
                    [_target(f"rate({AGENT_COLLECTION_CPU}{{{a}}}{rate}) / rate({AGENT_COLLECTIONS}{{{a}}}{rate})",
                             "{{instance}}")], "s"),
        _timeseries("Agent CPU", "CPU of the agent process, percent of one core.",
                    [_target(f"rate(process_cpu_seconds_total{{{a}}}{rate}) * 100 "
                             f"and on (instance) {AGENT_BUILD_INFO}{{{a}}}", "{{instance}}")], "percent"),
        _timeseries("Agent collection duration", "Wall time of the last collection.",
                    [_target(f"{AGENT_COLLECTION_DURATION}{{{a}}}", "{{instance}}")], "s"),
        _timeseries("Processes seen by the agent", "Live processes, tracked by a group or ignored.",
                    [_target(f"{AGENT_PROCESSES}{{{a}}}", "{{instance}} {{state}}")], "short", stack=True),
        _timeseries("Agent resident memory", "The agent process's own resident memory.",
                    [_target(f"process_resident_memory_bytes{{{a}}} and on (instance) {AGENT_BUILD_INFO}{{{a}}}",
                             "{{instance}}")], "bytes"),
        _stat("Config reloads OK", "Agents whose last config reload succeeded / all agents.",
              f"sum({AGENT_RELOAD_OK}{{{a}}}) / count({AGENT_RELOAD_OK}{{{a}}})", "percentunit"),
    ]


def _gpu_panels() -> list[dict[str, Any]]:
    rate = "[$__rate_interval]"
    on_gpu = WHERE + " GPU {{gpu}}{{GPU_I_ID}}"
    return [
        _row("GPU processes"),
        _timeseries("GPU memory", "GPU memory used by each group's processes, per GPU (NVML).",
                    [_target(f"{GPU_MEMORY}{{{S}}}", on_gpu)], "bytes", stack=True),
        _timeseries("GPU SM utilisation",
                    "Share of the GPU's time its SMs ran each group's kernels since the previous collection (NVML "
                    "per-process utilisation; none on MIG instances).",
                    [_target(f'{GPU_UTIL}{{{S},engine="sm"}}', on_gpu)], "percentunit", stack=True, max_value=1),
        _timeseries("GPU memory-controller utilisation",
                    "Share of time the GPU's memory controller served each group (reads and writes).",
                    [_target(f'{GPU_UTIL}{{{S},engine="memory"}}', on_gpu)], "percentunit", stack=True),
        _timeseries("GPU encoder / decoder", "Video encoder and decoder utilisation per group.",
                    [_target(f'{GPU_UTIL}{{{S},engine=~"encoder|decoder"}}', on_gpu + " {{engine}}")],
                    "percentunit"),
        _timeseries("Processes on GPUs", "Processes of each group holding a context on each GPU.",
                    [_target(f"{GPU_PROCS}{{{S}}}", on_gpu)], "short", stack=True),
        _timeseries("Agent NVML errors", "Failed NVML reads per second by reason (a GPU error never fails a scrape).",
                    [_target(f"sum by (instance, reason) (rate({AGENT_GPU_ERRORS}{{{A}}}{rate}))",
                             "{{instance}} {{reason}}")], "ops"),
        _stat("Agents reading NVML", "Agents whose last NVML read answered / agents with GPU metrics on.",
              f"sum({AGENT_GPU_UP}{{{A}}}) / count({AGENT_GPU_UP}{{{A}}})", "percentunit"),
    ]


def _layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assign ids and grid positions: rows span the width, stats 4 wide, tables full, timeseries 12 wide."""
    x = y = 0
    height = 0
    out = []
    for i, panel in enumerate(panels, start=1):
        p = {"id": i, **panel}
        kind = p["type"]
        w, h = {"row": (24, 1), "stat": (4, 4), "table": (24, 8)}.get(kind, (12, 8))
        if x + w > 24 or kind in ("row", "table"):
            x, y = 0, y + height
            height = 0
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x += w
        height = max(height, h)
        if kind in ("row", "table"):
            x, y, height = 0, y + h, 0
        out.append(p)
    return out


def _variable(name: str, label: str, query: str, all_value: str) -> dict[str, Any]:
    return {
        "type": "query", "name": name, "label": label, "datasource": DS,
        "query": {"query": query, "refId": f"{name}-var"}, "definition": query,
        "refresh": 2, "multi": True, "includeAll": True, "allValue": all_value,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1, "hide": 0, "options": [], "regex": "",
    }


def _kube_variables(metric: str) -> list[dict[str, Any]]:
    return [
        _variable("namespace", "Namespace", f"label_values({metric}, namespace)", ".*"),
        _variable("pod", "Pod", f'label_values({metric}{{namespace=~"$namespace"}}, pod)', ".*"),
        _variable("container", "Container",
                  f'label_values({metric}{{namespace=~"$namespace",pod=~"$pod"}}, container)', ".*"),
        _variable("node", "Node", f"label_values({metric}, node)", ".*"),
        _variable("instance", "Instance", f'label_values({metric}{{node=~"$node"}}, instance)', ".*"),
        _variable("groupname", "Group", f"label_values({metric}{{{KUBE_S.split(',groupname')[0]}}}, groupname)",
                  ".+"),
    ]


def dashboard(uid: str = DEFAULT_UID, title: str = DEFAULT_TITLE, gpu: bool = False,
              kube_labels: bool = False) -> dict[str, Any]:
    """The dashboard model (Grafana JSON), deterministic; `gpu` adds the GPU row, `kube_labels` the pod variant."""
    metric = "namedprocess_namegroup_num_procs"
    templating = [
        {"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []},
        _variable("namespace", "Namespace", f"label_values({metric}, namespace)", ".*"),
        _variable("node", "Node", f'label_values({metric}{{namespace=~"$namespace"}}, node)', ".*"),
        _variable("instance", "Instance",
                  f'label_values({metric}{{namespace=~"$namespace",node=~"$node"}}, instance)', ".*"),
        _variable("groupname", "Group", f"label_values({metric}{{{A}}}, groupname)", ".+"),
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
        "panels": _layout(_panels(kube_labels) + (_gpu_panels() if gpu else [])),
    }


def dashboard_json(uid: str = DEFAULT_UID, title: str = DEFAULT_TITLE, gpu: bool = False,
                   kube_labels: bool = False) -> str:
    return json.dumps(dashboard(uid, title, gpu, kube_labels), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def panel_queries(model: Mapping[str, Any] | None = None) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL with Grafana variables) for every query of every panel."""
    for panel in (model or dashboard())["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]

