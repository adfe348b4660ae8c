"""The recording rules every ProcessMonitor ships: their names (read by the alerts and the dashboard) and bodies.

Names follow Prometheus' level:metric:operations convention; renaming one is a breaking change
(dashboards/process-monitor.json reads them). Called by monitoring/rules.py (the rule group), monitoring/alerts.py
and monitoring/dashboard.py (the names).
"""

from __future__ import annotations

from typing import Any

from .metricnames import agent_metric

RATE_WINDOW = "2m"  # >= 4 scrapes at the default 30 s interval, so rate() never sees fewer than 2 samples.
RECORD_CPU_PERCENT = "namedprocess_namegroup:cpu_percent:rate2m"
RECORD_CPU_PERCENT_BY_MODE = "namedprocess_namegroup:cpu_percent_by_mode:rate2m"
RECORD_RESIDENT_BYTES = "namedprocess_namegroup:memory_resident_bytes"
RECORD_VIRTUAL_BYTES = "namedprocess_namegroup:memory_virtual_bytes"


def recording_rules(scope: str) -> list[dict[str, Any]]:
    """The recording rules over the series matched by `scope` (PromQL label matchers without braces)."""
    s = "{" + scope + "}"
    cpu = agent_metric("namedprocess_namegroup_cpu_seconds_total")
    memory = agent_metric("namedprocess_namegroup_memory_bytes")
    return [
        {"record": RECORD_CPU_PERCENT_BY_MODE, "expr": f"rate({cpu}{s}[{RATE_WINDOW}]) * 100"},
        {"record": RECORD_CPU_PERCENT, "expr": f"sum without (mode) (rate({cpu}{s}[{RATE_WINDOW}])) * 100"},
        {"record": RECORD_RESIDENT_BYTES,
         "expr": f'sum without (memtype) ({memory}{{{scope},memtype="resident"}})'},
        {"record": RECORD_VIRTUAL_BYTES,
         "expr": f'sum without (memtype) ({memory}{{{scope},memtype="virtual"}})'},
    ]
