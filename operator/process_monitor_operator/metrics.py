"""The operator's own /metrics: reconciles by result, reconcile duration, API calls by verb.

A deliberately tiny registry (counters, one histogram, gauges) rendered in the Prometheus text format; the operator
serves it with aiohttp (`serve`). Names start with `process_monitor_operator_` (design.md). An instance is created by
`handlers` at startup and passed to the reconciler and the API wrapper; nothing here is global state.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from aiohttp import web

PREFIX = "process_monitor_operator_"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Counters and a histogram, safe to update from any task or thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reconciles: dict[str, int] = defaultdict(int)
        self.api_calls: dict[tuple[str, str], int] = defaultdict(int)
        self.events: dict[str, int] = defaultdict(int)
        self._buckets = [0] * len(DURATION_BUCKETS)
        self._duration_sum = 0.0
        self._duration_count = 0
        self.processmonitors = 0

    def reconciled(self, result: str, seconds: float) -> None:
        with self._lock:
            self.reconciles[result] += 1
            self._duration_sum += seconds
            self._duration_count += 1
            for i, bound in enumerate(DURATION_BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1

    def api_call(self, verb: str, kind: str) -> None:
        with self._lock:
            self.api_calls[(verb, kind)] += 1

    def event_posted(self, type_: str) -> None:
        with self._lock:
            self.events[type_] += 1

    def writes(self) -> int:
        """API calls that can change the cluster (apply, patch, delete): the steady-state bench reads this."""
        with self._lock:
            return sum(n for (verb, _), n in self.api_calls.items() if verb in ("apply", "patch", "delete", "create"))

    def exposition(self) -> str:
        with self._lock:
            lines = [
                f"# HELP {PREFIX}reconciles_total Reconciles of ProcessMonitors by result.",
                f"# TYPE {PREFIX}reconciles_total counter",
            ]
            lines += [f'{PREFIX}reconciles_total{{result="{_escape(r)}"}} {n}'
                      for r, n in sorted(self.reconciles.items())]
            lines += [
                f"# HELP {PREFIX}reconcile_duration_seconds Time of one reconcile (render, compare, apply, status).",
                f"# TYPE {PREFIX}reconcile_duration_seconds histogram",
            ]
            lines += [f'{PREFIX}reconcile_duration_seconds_bucket{{le="{b}"}} {n}'
                      for b, n in zip(DURATION_BUCKETS, self._buckets, strict=True)]
            lines += [
                f'{PREFIX}reconcile_duration_seconds_bucket{{le="+Inf"}} {self._duration_count}',
                f"{PREFIX}reconcile_duration_seconds_sum {self._duration_sum:.6f}",
                f"{PREFIX}reconcile_duration_seconds_count {self._duration_count}",
                f"# HELP {PREFIX}api_calls_total Kubernetes API calls made by the reconciler, by verb and kind.",
                f"# TYPE {PREFIX}api_calls_total counter",
            ]
            lines += [f'{PREFIX}api_calls_total{{verb="{v}",kind="{k}"}} {n}'
                      for (v, k), n in sorted(self.api_calls.items())]
            lines += [
                f"# HELP {PREFIX}events_total Kubernetes Events posted about ProcessMonitors, by type.",
                f"# TYPE {PREFIX}events_total counter",
            ]
            lines += [f'{PREFIX}events_total{{type="{t}"}} {n}' for t, n in sorted(self.events.items())]
            lines += [
                f"# HELP {PREFIX}processmonitors ProcessMonitors currently known to the operator.",
                f"# TYPE {PREFIX}processmonitors gauge",
                f"{PREFIX}processmonitors {self.processmonitors}",
            ]
        return "\n".join(lines) + "\n"


async def serve(metrics: Metrics, host: str, port: int) -> web.AppRunner:
    """Start an HTTP server answering /metrics (and /healthz for convenience); returns the runner to clean up."""

    async def handle_metrics(_: web.Request) -> web.Response:
        return web.Response(text=metrics.exposition(), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def handle_health(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_get("/healthz", handle_health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host or None, port).start()
    return runner
