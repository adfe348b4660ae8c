"""The agent's standard process and Python metrics, through prometheus_client's own registry and collectors.

Called by collector.py at each scrape (unless `self_metrics=False`, as tests over fake trees do). A private
`CollectorRegistry` with prometheus_client's ProcessCollector (process_cpu_seconds_total, process_open_fds,
process_max_fds, process_virtual_memory_bytes, process_resident_memory_bytes, process_start_time_seconds, read
from /proc/self), PlatformCollector (python_info) and GCCollector (python_gc_*), rendered by `generate_latest`:
the names every Python exporter has, written by the library that defines them. The per-group families stay with
the hand writer (export/families.py); bench/export_path.py and README.md ("Dependencies") say why. prometheus_client
is imported here only, so export/families.py stays importable without it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest


class StandardMetrics:
    """process_* and python_* as prometheus_client's default registry would serve them (names, help, types)."""

    def __init__(self) -> None:
        # Not the global REGISTRY: nothing else in the process registers there, and a private one keeps tests that
        # build several collectors from sharing (or double-registering) collectors.
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def write(self, out: list[str]) -> None:
        out.append(generate_latest(self.registry).decode("utf-8"))
