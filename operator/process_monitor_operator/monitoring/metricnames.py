"""The one way the dashboard and the alert rules name a metric: `agent_metric(name)` and `operator_metric(name)`.

Each returns `name` unchanged when the component that exposes it declares it, and raises `UnknownMetric`
otherwise, so a renamed or dropped family breaks `process-monitor dashboard`, the golden files and the unit tests
instead of silently leaving a panel or an alert empty. Called by monitoring/rules.py, monitoring/alerts.py and
monitoring/dashboard.py at build time.

Where the names come from:
- `namedprocess_namegroup_*`: the agent's family table (`process_monitor_agent.exposition.group_families`, which
  includes the GPU rows of `process_monitor_agent/gpu/families.py`), every optional family switched on.
- the agent's own `process_monitor_agent_*` and standard `process_*` metrics are still written by hand in the agent
  (collector.py, selfmetrics.py, gpu/monitor.py, ...), so `AGENT_OWN` lists the ones the operator reads, and
  tests/operator/test_metricnames.py checks each against the real agent's exposition. When the agent declares
  those families as data, `_agent_names` reads them from there and `AGENT_OWN` goes.
- `process_monitor_operator_*`: the operator's own family table, `metrics.FAMILIES`.
"""

from __future__ import annotations

from functools import cache

from process_monitor_agent.exposition import group_families

from ..metrics import FAMILIES

# The agent's own metrics the dashboard reads (see the module docstring for why this list exists at all).
AGENT_OWN = frozenset({
    "process_monitor_agent_build_info",
    "process_monitor_agent_collection_cpu_seconds_total",
    "process_monitor_agent_collection_duration_seconds",
    "process_monitor_agent_collections_total",
    "process_monitor_agent_config_last_reload_successful",
    "process_monitor_agent_gpu_scrape_errors_total",
    "process_monitor_agent_gpu_up",
    "process_monitor_agent_processes",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
})


class UnknownMetric(KeyError):
    """A dashboard panel or an alert names a metric its exporter does not declare."""


@cache
def _agent_names() -> frozenset[str]:
    families = group_families(smaps=True, threads=True, gpu=True)
    return frozenset(name for name, _help, _type, _fn in families) | AGENT_OWN


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
