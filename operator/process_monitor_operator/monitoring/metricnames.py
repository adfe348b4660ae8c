"""The one way the dashboard and the alert rules name a metric: `agent_metric(name)` and `operator_metric(name)`.

Each returns `name` unchanged when the component that exposes it declares it, and raises `UnknownMetric`
otherwise, so a renamed or dropped family breaks `process-monitor dashboard`, the golden files and the unit tests
instead of silently leaving a panel or an alert empty. Called by monitoring/rules.py, monitoring/alerts.py and
monitoring/dashboard.py at build time.

Where the names come from:
- the agent's families: `process_monitor_agent.export.families.BY_NAME` (every namedprocess_* family, GPU and
  per-thread ones included, and every process_monitor_agent_* / namedprocess_scrape_* family of export/own.py);
- the agent's standard process_*/python_* metrics: `process_monitor_agent.export.process.ALL`;
- `process_monitor_operator_*`: the operator's own family table, `metrics.FAMILIES`.
"""

from __future__ import annotations

from functools import cache

from process_monitor_agent.export import process
from process_monitor_agent.export.families import BY_NAME

from ..metrics import FAMILIES


class UnknownMetric(KeyError):
    """A dashboard panel or an alert names a metric its exporter does not declare."""


@cache
def _agent_names() -> frozenset[str]:
    return frozenset(BY_NAME) | {family.name for family in process.ALL}


def agent_metric(name: str) -> str:
    """`name` if the agent exposes a metric family of that name, else UnknownMetric."""
    if name not in _agent_names():
        raise UnknownMetric(f"the agent declares no metric family {name!r}")
    return name


def operator_metric(name: str) -> str:
    """`name` if the operator's own /metrics declares it (metrics.FAMILIES), else UnknownMetric."""
    if name not in {f.name for f in FAMILIES}:
        raise UnknownMetric(f"the operator declares no metric family {name!r}")
    return name
