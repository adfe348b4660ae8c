"""One collection shared by every scrape: tracker + grouper + exposition behind a lock.

Called by server.py (each HTTP scrape), cli.py (start-up priming and -once-to-stdout-delay) and reload.py (to
swap rules). Concurrent scrapes never walk /proc twice: a scrape that arrives while a collection is running waits
for the lock and then reuses that result if it finished after the scrape arrived, and any result younger than
`max_age` (100 ms) is reused as is. Also owns the agent's own metrics (collection cost, error counters, reload
state).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import __version__
from .config import Config
from .exposition import group_families, write_family, write_groups
from .grouper import Grouper
from .selfmetrics import SelfMetrics
from .tracker import Settings, Tracker

if TYPE_CHECKING:
    from .gpu.monitor import GpuMonitor

A = "process_monitor_agent_"


class Collector:
    def __init__(
        self,
        settings: Settings,
        config: Config,
        remove_empty_groups: bool = False,
        report_missing_groups: bool = False,
        self_metrics: bool = True,
        max_age: float = 0.1,
        gpu: GpuMonitor | None = None,
    ) -> None:
        self.settings = settings
        self.tracker = Tracker(settings, config.rules)
        self.grouper = Grouper(remove_empty_groups, report_missing_groups)
        self.grouper.set_static_names(config.rules.static_names)
        # -gpu.enabled: one NVML read per collection, folded into the groups (gpu/monitor.py).
        self.gpu = gpu
        if gpu is not None:
            gpu.set_rules(config.rules)
        self.families = group_families(settings.gather_smaps, settings.threads, gpu is not None)
        self.selfm = SelfMetrics() if self_metrics else None
        self.max_age = max_age
        self.lock = threading.Lock()
        self._cached: bytes | None = None
        self._cached_done = 0.0
        # upstream's three error counters
        self.scrape_errors = 0
        self.procread_errors = 0
        self.partial_errors = 0
        # our own
        self.collections = 0
        self.scrapes = 0
        self.cpu_total = 0.0
        self.last_duration = 0.0
        self.last_cpu = 0.0
        self.last_tracked = 0
        self.last_ignored = 0
        self.reload_ok = 1
        self.reload_success_ts = time.time()
        self.reloads = {"success": 0, "failure": 0}
        # More of the agent's own families, written after these (reload.Reloader registers its request counts).
        self.extra_writers: list[Callable[[list[str]], None]] = []

    # -- rules ---------------------------------------------------------------------------------------------------
    def apply_config(self, config: Config) -> None:
        """Swap in new rules; the next collection re-matches every process, accumulators are kept by name."""
        with self.lock:
            self.tracker.set_rules(config.rules)
            self.grouper.set_static_names(config.rules.static_names)
            if self.gpu is not None:
                self.gpu.set_rules(config.rules)
            self._cached = None
            self.reload_ok = 1
            self.reload_success_ts = time.time()
            self.reloads["success"] += 1

    def reload_kept(self) -> None:
        """A reload found the file equal to the config in force: a success that changes no rule."""
        with self.lock:
            self.reload_ok = 1
            self.reload_success_ts = time.time()
            self.reloads["success"] += 1

    def reload_failed(self) -> None:
        with self.lock:
            self.reload_ok = 0
            self.reloads["failure"] += 1
            self._cached = None

    # -- collection ----------------------------------------------------------------------------------------------
    def exposition(self) -> bytes:
        """The text for one scrape, shared with concurrent scrapes (see module docstring)."""
        t_req = time.monotonic()
        with self.lock:
            self.scrapes += 1
            if self._cached is not None and (self._cached_done >= t_req or t_req - self._cached_done < self.max_age):
                return self._cached
            return self._collect_locked()

    def collect(self) -> bytes:
        """Force a fresh collection (start-up priming, -once-to-stdout-delay)."""
        with self.lock:
            return self._collect_locked()

    def _collect_locked(self) -> bytes:
        t0 = time.monotonic()
        c0 = time.thread_time()
        gpu = self.gpu
        again = gpu.before_collect(self.tracker) if gpu is not None else None
        cs = self.tracker.collect()
        if again:
            self.tracker.rematch_pids(again)
        self.collections += 1
        out: list[str] = []
        if cs.failed:
            self.scrape_errors += 1
        else:
            self.procread_errors += cs.read_errors
            self.partial_errors += cs.partial
            groups = self.grouper.update(self.tracker.procs.values())
            if gpu is not None:
                gpu.attach(groups, self.tracker)
            write_groups(out, groups, self.families, float(self.tracker.hz))
        self.last_tracked, self.last_ignored = cs.tracked, cs.ignored
        write_family(
            out,
            "namedprocess_scrape_errors",
            "general scrape errors: no proc metrics collected during a cycle",
            "counter",
            [("", self.scrape_errors)],
        )
        write_family(
            out,
            "namedprocess_scrape_partial_errors",
            "incremented each time a tracked proc's metrics collection fails partially, e.g. unreadable I/O stats",
            "counter",
            [("", self.partial_errors)],
        )
        write_family(
            out,
            "namedprocess_scrape_procread_errors",
            "incremented each time a proc's metrics collection fails",
            "counter",
            [("", self.procread_errors)],
        )
        self.last_duration = time.monotonic() - t0
        self.last_cpu = time.thread_time() - c0
        self.cpu_total += self.last_cpu
        self._own(out)
        if gpu is not None:
            gpu.write_own(out)
        for writer in self.extra_writers:
            writer(out)
        if self.selfm is not None:
            self.selfm.write(out)
        body = "".join(out).encode("utf-8")
        self._cached = body
        self._cached_done = time.monotonic()
        return body

    def _own(self, out: list[str]) -> None:
        write_family(
            out, A + "build_info", "Version of the agent; value 1.", "gauge", [(f'version="{__version__}"', 1)]
        )
        write_family(
            out,
            A + "collection_duration_seconds",
            "Wall time of the last collection (walk /proc, group, format), excluding waiting for the lock.",
            "gauge",
            [("", self.last_duration)],
        )
        write_family(
            out,
            A + "collection_cpu_seconds",
            "CPU time (user+system) of the last collection.",
            "gauge",
            [("", self.last_cpu)],
        )
        write_family(
            out,
            A + "collection_cpu_seconds_total",
            "CPU time (user+system) of all collections since start.",
            "counter",
            [("", self.cpu_total)],
        )
        write_family(
            out, A + "collections_total", "Collections of /proc since start.", "counter", [("", self.collections)]
        )
        write_family(
            out,
            A + "scrapes_total",
            "Scrapes served; scrapes arriving together share one collection.",
            "counter",
            [("", self.scrapes)],
        )
        write_family(
            out,
            A + "processes",
            "Live processes known to the agent at the last collection, by whether a group tracks them.",
            "gauge",
            [('state="ignored"', self.last_ignored), ('state="tracked"', self.last_tracked)],
        )
        write_family(
            out,
            A + "read_errors_total",
            "Failed reads of a live process's /proc files since start, by file; without root or SYS_PTRACE and "
            "DAC_READ_SEARCH, io, fd, smaps_rollup (and for other users' processes limits) cannot be read.",
            "counter",
            [(f'file="{k}"', v) for k, v in sorted(self.tracker.read_failures.items())],
        )
        write_family(
            out,
            A + "config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            "gauge",
            [("", self.reload_ok)],
        )
        write_family(
            out,
            A + "config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration load (start-up counts).",
            "gauge",
            [("", self.reload_success_ts)],
        )
        write_family(
            out,
            A + "config_reloads_total",
            "Configuration reload attempts by result.",
            "counter",
            [(f'result="{k}"', v) for k, v in sorted(self.reloads.items())],
        )
