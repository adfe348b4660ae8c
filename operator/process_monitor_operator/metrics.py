"""The operator's own /metrics: its families declared once (`FAMILIES`) and `Metrics`, which updates and renders them.

The families live in a prometheus_client `CollectorRegistry` passed in (or made per instance), never the global
one, and are rendered by `generate_latest`; app.py serves them over aiohttp. Names start with
`process_monitor_operator_` (design.md). One instance is made by app.py at startup and handed to the reconciler and
the API wrapper; monitoring/metricnames.py reads `FAMILIES` so alert rules can name these metrics safely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

PREFIX = "process_monitor_operator_"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WRITE_VERBS = ("apply", "patch", "delete", "create")  # API calls that can change the cluster


@dataclass(frozen=True)
class Family:
    """One metric family of the operator: full name, help, prometheus_client type, label names in output order."""

    name: str
    help: str
    kind: type[Counter] | type[Gauge] | type[Histogram]
    labels: tuple[str, ...] = ()


RECONCILES = Family(PREFIX + "reconciles_total", "Reconciles of ProcessMonitors by result.", Counter, ("result",))
RECONCILE_DURATION = Family(PREFIX + "reconcile_duration_seconds",
                            "Time of one reconcile (render, compare, apply, status).", Histogram)
API_CALLS = Family(PREFIX + "api_calls_total", "Kubernetes API calls made by the reconciler, by verb and kind.",
                   Counter, ("verb", "kind"))
EVENTS = Family(PREFIX + "events_total", "Kubernetes Events posted about ProcessMonitors, by type.", Counter,
                ("type",))
PROCESSMONITORS = Family(PREFIX + "processmonitors", "ProcessMonitors currently known to the operator.", Gauge)

# Every family, in exposition order.
FAMILIES = (RECONCILES, RECONCILE_DURATION, API_CALLS, EVENTS, PROCESSMONITORS)


class _WithoutCreated:
    """A view of a registry without prometheus_client's `*_created` series: the exposition keeps exactly the names
    it had before prometheus_client (README), and sums over a family's samples stay sums of counts."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            metric.samples = [s for s in metric.samples if not s.name.endswith("_created")]
            yield metric


class Metrics:
    """The operator's families on one registry; safe to update from any task or thread (prometheus_client locks)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        made: dict[str, Any] = {}
        for fam in FAMILIES:
            extra = {"buckets": DURATION_BUCKETS} if fam.kind is Histogram else {}
            made[fam.name] = fam.kind(fam.name, fam.help, fam.labels, registry=self.registry, **extra)
        self._reconciles: Counter = made[RECONCILES.name]
        self._duration: Histogram = made[RECONCILE_DURATION.name]
        self._api_calls: Counter = made[API_CALLS.name]
        self._events: Counter = made[EVENTS.name]
        self._processmonitors: Gauge = made[PROCESSMONITORS.name]
        self._view = _WithoutCreated(self.registry)

    def reconciled(self, result: str, seconds: float) -> None:
        self._reconciles.labels(result).inc()
        self._duration.observe(seconds)

    def api_call(self, verb: str, kind: str) -> None:
        self._api_calls.labels(verb, kind).inc()

    def event_posted(self, type_: str) -> None:
        self._events.labels(type_).inc()

    def known(self, processmonitors: int) -> None:
        """How many ProcessMonitors the operator knows now."""
        self._processmonitors.set(processmonitors)

    def writes(self) -> int:
        """API calls that can change the cluster (apply, patch, delete, create) so far."""
        total = 0.0
        for metric in self._api_calls.collect():
            total += sum(s.value for s in metric.samples
                         if s.name == API_CALLS.name and s.labels.get("verb") in WRITE_VERBS)
        return int(total)

    def exposition(self) -> bytes:
        """The Prometheus text format of every family (what /metrics answers)."""
        return generate_latest(self._view)  # type: ignore[arg-type]  # any object with collect() will do

