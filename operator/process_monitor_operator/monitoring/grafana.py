"""Grafana panel building blocks (pure): targets, timeseries/stat/row panels, query variables and the grid layout.

Knows Grafana's JSON model, nothing about process-monitor's metrics. Called by monitoring/panels.py and
monitoring/dashboard.py.
"""

from __future__ import annotations

from typing import Any

DS = {"type": "prometheus", "uid": "${datasource}"}
WHERE = "{{groupname}} @ {{instance}}"  # default legend: one line per group and agent


def target(expr: str, legend: str = WHERE, ref: str = "A", *, instant: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend}
    if instant:
        t.update({"instant": True, "range": False, "format": "table"})
    return t


def timeseries(title: str, description: str, targets: list[dict[str, Any]], unit: str, *,
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


def stat(title: str, description: str, expr: str, unit: str) -> dict[str, Any]:
    return {
        "type": "stat", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "area", "textMode": "auto"},
        "targets": [target(expr, "")],
    }


def row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def variable(name: str, label: str, query: str, all_value: str) -> dict[str, Any]:
    return {
        "type": "query", "name": name, "label": label, "datasource": DS,
        "query": {"query": query, "refId": f"{name}-var"}, "definition": query,
        "refresh": 2, "multi": True, "includeAll": True, "allValue": all_value,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1, "hide": 0, "options": [], "regex": "",
    }

