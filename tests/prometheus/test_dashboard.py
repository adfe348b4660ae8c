"""Pure checks of the Grafana dashboard: the repository JSON is the generated one, current panel types only, the
datasource and filter variables are used everywhere, dashboard 249 and the extra metrics are all covered, and the
ConfigMap child carries the sidecar label and folder annotation."""

from __future__ import annotations

import json
import pathlib
import re

from process_monitor_operator.monitoring import dashboard as dash
from process_monitor_operator.monitoring import rules
from process_monitor_operator.render import DIGEST_ANNOTATION, RenderOptions, render_all

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_repository_json_is_the_generated_one() -> None:
    on_disk = (ROOT / "dashboards" / "process-monitor.json").read_text()
    assert on_disk == dash.dashboard_json(), (
        "dashboards/process-monitor.json is stale: regenerate with "
        "`process-monitor dashboard > dashboards/process-monitor.json`")


def test_repository_gpu_json_is_the_generated_one_and_only_it_has_the_gpu_row() -> None:
    on_disk = (ROOT / "dashboards" / "process-monitor-gpu.json").read_text()
    assert on_disk == dash.dashboard_json(gpu=True), (
        "dashboards/process-monitor-gpu.json is stale: regenerate with `make prometheus-generated`")
    plain = " ".join(expr for _, expr in dash.panel_queries())
    with_gpu = " ".join(expr for _, expr in dash.panel_queries(dash.dashboard(gpu=True)))
    for family in (dash.GPU_MEMORY, dash.GPU_UTIL, dash.GPU_PROCS, dash.AGENT_GPU_UP, dash.AGENT_GPU_ERRORS):
        assert family not in plain and family in with_gpu, family


def test_gpu_row_keeps_the_filters_and_the_grid() -> None:
    model = dash.dashboard(gpu=True)
    for title, expr in dash.panel_queries(model):
        assert 'namespace=~"$namespace"' in expr and 'instance=~"$instance"' in expr, title
        if "namedprocess_namegroup" in expr and title != "Agents":
            assert 'groupname=~"$groupname"' in expr, title
    cells: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        g = panel["gridPos"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine and g["x"] + g["w"] <= 24, panel["title"]
        cells |= mine


def test_panels_use_current_types_and_the_datasource_variable() -> None:
    model = dash.dashboard()
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    for panel in model["panels"]:
        assert panel["type"] in {"row", "timeseries", "stat", "table"}, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"


def test_grid_has_no_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dash.dashboard()["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, panel["title"]
        cells |= mine


def test_variables_and_filters() -> None:
    model = dash.dashboard()
    names = [v["name"] for v in model["templating"]["list"]]
    assert names == ["datasource", "namespace", "node", "instance", "groupname"]
    for title, expr in dash.panel_queries(model):
        assert 'namespace=~"$namespace"' in expr and 'instance=~"$instance"' in expr, title
        if "namedprocess_namegroup" in expr and title != "Agents":  # agents are counted whatever groups they have
            assert 'groupname=~"$groupname"' in expr, title


def test_covers_dashboard_249_and_more() -> None:
    exprs = " ".join(expr for _, expr in dash.panel_queries())
    wanted = [
        # dashboard 249
        "namedprocess_namegroup_num_procs", rules.RECORD_CPU_PERCENT, "namedprocess_namegroup_read_bytes_total",
        "namedprocess_namegroup_write_bytes_total", rules.RECORD_RESIDENT_BYTES, rules.RECORD_VIRTUAL_BYTES,
        # beyond it
        "namedprocess_namegroup_num_threads", "namedprocess_namegroup_open_filedesc",
        "namedprocess_namegroup_worst_fd_ratio", "namedprocess_namegroup_states",
        "namedprocess_namegroup_major_page_faults_total", "namedprocess_namegroup_minor_page_faults_total",
        "namedprocess_namegroup_context_switches_total", "namedprocess_namegroup_oldest_start_time_seconds",
        "process_monitor_agent_",
    ]
    missing = [w for w in wanted if w not in exprs]
    assert not missing


def test_configmap_child() -> None:
    pm = {"kind": "ProcessMonitor", "metadata": {"name": "web", "namespace": "prod"},
          "spec": {"processNames": [{"comm": ["nginx"]}],
                   "grafanaDashboard": {"enabled": True, "folder": "Team A", "labels": {"grafana_dashboard": "0"}}}}
    [cm] = [m for m in render_all(pm, RenderOptions()) if m["metadata"]["name"].endswith("-dashboard")]
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "pmon-web-dashboard"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"  # the sidecar label cannot be overridden
    annotations = {k: v for k, v in cm["metadata"]["annotations"].items() if k != DIGEST_ANNOTATION}
    assert annotations == {"grafana_folder": "Team A"}
    model = json.loads(cm["data"]["process-monitor.json"])
    assert re.fullmatch(r"pmon-[0-9a-f]{12}", model["uid"])
    assert model["title"].endswith("prod/web")
    assert model["panels"] == dash.dashboard()["panels"]
    pm["spec"]["grafanaDashboard"] = {}
    assert not [m for m in render_all(pm, RenderOptions()) if m["metadata"]["name"].endswith("-dashboard")]


def test_kubernetes_labels_variant() -> None:
    """spec.kubernetes.labels: namespace/pod/container variables filter every group panel, the target filter no
    longer uses namespace (it is the workload's now), a top-containers panel appears, the grid still fits."""
    model = dash.dashboard(kube_labels=True)
    names = [v["name"] for v in model["templating"]["list"]]
    assert names == ["datasource", "namespace", "pod", "container", "node", "instance", "groupname"]
    titles = [p["title"] for p in model["panels"]]
    assert "Top containers by process CPU" in titles and "Top containers by process CPU" not in [
        p["title"] for p in dash.dashboard()["panels"]]
    for title, expr in dash.panel_queries(model):
        assert 'instance=~"$instance"' in expr, title
        if "namedprocess_namegroup" in expr and title != "Agents":
            assert 'pod=~"$pod"' in expr and 'container=~"$container"' in expr, title
        if expr.startswith("process_monitor_agent_") or "process_cpu_seconds_total" in expr:
            assert "$namespace" not in expr, title  # agents' own series carry no workload namespace
    top = next(p for p in model["panels"] if p["title"] == "Top containers by process CPU")
    assert "sum by (namespace, pod, container)" in top["targets"][0]["expr"]
    cells: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        g = panel["gridPos"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert g["x"] + g["w"] <= 24 and not cells & mine, panel["title"]
        cells |= mine
    pm = {"kind": "ProcessMonitor", "metadata": {"name": "web", "namespace": "prod"},
          "spec": {"processNames": [{"comm": ["nginx"]}], "kubernetes": {"labels": True},
                   "grafanaDashboard": {"enabled": True}}}
    [cm] = [m for m in render_all(pm, RenderOptions()) if m["metadata"]["name"].endswith("-dashboard")]
    assert json.loads(cm["data"]["process-monitor.json"])["panels"] == model["panels"]
