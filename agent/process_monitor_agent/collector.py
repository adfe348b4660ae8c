"""One collection shared by every scrape: tracker + grouper + exposition, with a deadline.

Called by http/routes.py (each HTTP scrape), cli.py (start-up priming and -once-to-stdout-delay) and reload.py (to
swap rules). Concurrent scrapes never walk /proc twice: a scrape that arrives while a collection is running waits
for it and reuses its result if it finished after the scrape arrived, and any result younger than `max_age`
(100 ms) is reused as is. Also owns the agent's own metrics (collection cost, error counters, reload state,
limits), rendered at each scrape so that the served result's age is current.

With `deadline` > 0 (-collection.deadline, cli.py's default 5 s) collections run in one background thread and a
scrape waits for the one it asked for at most `deadline` seconds: past that it is answered with the last good
result and `process_monitor_agent_collection_age_seconds` says how old that is, so a /proc read that blocks (or a
machine too loaded to finish a walk) makes answers stale, never late. The collection it asked for goes on and
serves the scrapes after it. With `deadline` 0 the scrape's own thread collects (tests, -once-to-stdout-delay).
A collection that raises (a bug: per-process oddities are absorbed by the tracker) counts a scrape error and
keeps the last good result.

Over 300 lines because scheduling, publishing and serving one result share one condition variable and its state;
the families it writes are declared in export/ (own.py, families.py), not here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import __version__
from .config import Config
from .export import own
from .export.families import Options, select, write_groups
from .export.process import StandardMetrics
from .grouper import Grouper
from .log import log
from .track import CollectStats, Settings, Tracker

if TYPE_CHECKING:
    from .gpu.monitor import GpuMonitor


class Collector:
    def __init__(
        self,
        settings: Settings,
        config: Config,
        remove_empty_groups: bool = False,
        report_missing_groups: bool = False,
        self_metrics: bool = True,
        max_age: float = 0.1,
        deadline: float = 0.0,
        gpu: GpuMonitor | None = None,
        empty_label_ttl: float = 300.0,
    ) -> None:
        """Over 60 lines: it declares, one a line, every attribute the scrape and collection threads share."""
        self.settings = settings
        self.limits = settings.limits
        self.tracker = Tracker(settings, config.rules)
        self.grouper = Grouper(remove_empty_groups, report_missing_groups, settings.limits, settings.kube_labels,
                               empty_label_ttl)
        self.grouper.set_static_names(config.rules.static_names)
        self.tracker.admit = self.grouper.admit
        # -gpu.enabled: one NVML read per collection, folded into the groups (gpu/monitor.py).
        self.gpu = gpu
        if gpu is not None:
            gpu.set_rules(config.rules)
        self.families = select(settings.threads, gpu is not None)
        self.selfm = StandardMetrics() if self_metrics else None
        self.max_age = max_age
        self.deadline = deadline
        # `cv` guards everything a scrape reads; `_collect_lock` serialises collections (tracker/grouper state).
        self.cv = threading.Condition()
        self._collect_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._want = False
        self._running = False  # the background thread is collecting
        self._pending_config: Config | None = None
        self._groups: bytes | None = None  # group families and their errors of the last good collection
        self._done = 0.0  # monotonic end of that collection
        self._attempt = 0.0  # monotonic end of the last collection, good or not
        self._valid_after = 0.0  # a result that ended before this (a reload) is served only when late
        self._started = time.monotonic()
        self._failure_logged: set[str] = set()
        # upstream's three error counters
        self.scrape_errors = 0
        self.procread_errors = 0
        self.partial_errors = 0
        # our own
        self.collections = 0
        self.scrapes = 0
        self.stale_scrapes = 0
        self.cpu_total = 0.0
        self.last_duration = 0.0
        self.last_cpu = 0.0
        self.last_tracked = 0
        self.last_ignored = 0
        self.last_blocked = 0
        self.last_groups = 0
        self.reload_ok = 1
        self.reload_success_ts = time.time()
        self.reloads = {"success": 0, "failure": 0}
        # More of the agent's own families, written after these (reload.Reloader registers its request counts).
        self.extra_writers: list[Callable[[list[str]], None]] = []
        # copies taken when a collection ends, so a scrape never iterates a dict the collection is changing
        self._read_failures: dict[str, int] = {}
        self._read_timeouts: dict[str, int] = {}
        self._limit_hits: dict[str, int] = dict(self.limits.hits)
        self._stuck_reads = 0
        self._gpu_own = ""  # the GPU monitor's own metrics as of the last collection (-gpu.enabled)
        self._kube_own = ""  # pod attribution's own metrics as of the last collection (kube/attribution.py)

    # -- rules ---------------------------------------------------------------------------------------------------
    def apply_config(self, config: Config) -> None:
        """Swap in new rules (at the start of the next collection, which re-matches every process); accumulators
        are kept by name. Never waits for a running collection."""
        with self.cv:
            self._pending_config = config
            self._valid_after = time.monotonic()
            self.reload_ok = 1
            self.reload_success_ts = time.time()
            self.reloads["success"] += 1

    def reload_kept(self) -> None:
        """A reload found the file equal to the config in force: a success that changes no rule."""
        with self.cv:
            self.reload_ok = 1
            self.reload_success_ts = time.time()
            self.reloads["success"] += 1

    def reload_failed(self) -> None:
        with self.cv:
            self.reload_ok = 0
            self.reloads["failure"] += 1

    # -- collection ----------------------------------------------------------------------------------------------
    def exposition(self) -> bytes:
        """The text for one scrape, shared with concurrent scrapes (see module docstring)."""
        t_req = time.monotonic()
        with self.cv:
            self.scrapes += 1
            if self._reusable(t_req):
                return self._render()
            if self.deadline > 0:
                self._request()
                end = t_req + self.deadline
                while self._attempt < t_req:
                    left = end - time.monotonic()
                    if left <= 0:
                        break
                    self.cv.wait(left)
                if self._attempt < t_req or self._done < t_req:
                    self.stale_scrapes += 1
                return self._render()
        with self._collect_lock:
            with self.cv:
                if self._attempt >= t_req:  # finished while this scrape waited for the lock
                    return self._render()
            self._collect_locked()
        with self.cv:
            return self._render()

    def collect(self) -> bytes:
        """Force a fresh collection in this thread (-once-to-stdout-delay, tests) and render it."""
        with self._collect_lock:
            self._collect_locked()
        with self.cv:
            return self._render()

    def prime(self) -> bool:
        """The start-up collection (counters of processes already running start from it): within the deadline
        when there is one. False when it is still running after the deadline (it finishes in the background)."""
        if self.deadline <= 0:
            self.collect()
            return True
        t = time.monotonic()
        with self.cv:
            self._request()
            self.cv.wait_for(lambda: self._attempt >= t, self.deadline)
            return self._attempt >= t

    def _reusable(self, t_req: float) -> bool:
        return (
            self._groups is not None
            and self._done >= self._valid_after
            and (self._done >= t_req or t_req - self._done < self.max_age)
        )

    def _request(self) -> None:
        """Ask the background thread for a collection (cv held). One already running serves the asker (it ends
        after the ask), so none is queued behind it, unless rules changed since it started."""
        if not self._running or self._pending_config is not None:
            self._want = True
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="collector", daemon=True)
            self._worker.start()
        self.cv.notify_all()

    def _run(self) -> None:
        while True:
            with self.cv:
                while not self._want:
                    self.cv.wait()
                self._want = False
                self._running = True
            try:
                with self._collect_lock:
                    self._collect_locked()
            except Exception as e:  # never let the one collecting thread die: scrapes would be stale for good
                self._log_once(e, "collection thread: unexpected error")
            finally:
                with self.cv:
                    self._running = False

    def _log_once(self, e: Exception, what: str) -> None:
        """Log an unexpected error with its traceback once per distinct message (at most 16 kept): a bug that
        repeats at every collection must not flood the log."""
        msg = f"{type(e).__name__}: {e}"[:300]
        if msg not in self._failure_logged and len(self._failure_logged) < 16:
            self._failure_logged.add(msg)
            log.exception(f"{what} (logged once per message)")

    def _collect_locked(self) -> None:
        """One collection (the caller holds `_collect_lock`); publishes its result under `cv`."""
        with self.cv:
            cfg, self._pending_config = self._pending_config, None
        if cfg is not None:
            self.tracker.set_rules(cfg.rules)
            self.grouper.set_static_names(cfg.rules.static_names)
            if self.gpu is not None:
                self.gpu.set_rules(cfg.rules)
        t0 = time.monotonic()
        c0 = time.thread_time()
        gpu_own: list[str] = []
        kube_own: list[str] = []
        cs: CollectStats | None
        try:
            cs, body, ngroups = self._stages(t0, gpu_own, kube_own)
        except Exception as e:  # a bug, not a process: keep serving the last good result, say so once per message
            cs, body, ngroups = None, None, 0
            self._log_once(e, "collection failed, serving the last good result")
        self._publish(cs, body, ngroups, t0, time.thread_time() - c0, gpu_own, kube_own)

    def _stages(self, t0: float, gpu_own: list[str], kube_own: list[str]) -> tuple[CollectStats, bytes | None, int]:
        """track -> group -> export, with the GPU and pod attribution hooks between. Returns the collection's
        stats, the group families (None when /proc could not be listed) and the number of groups."""
        gpu = self.gpu
        tracker = self.tracker
        again = gpu.before_collect(tracker) if gpu is not None else None
        cs = tracker.collect()
        if again:
            tracker.rematch_pids(again)
        body: bytes | None = None
        ngroups = 0
        if not cs.failed:
            procs = tracker.procs.values()
            attributor = tracker.attributor
            if self.settings.kube_labels:
                attributor.attach(procs)
            attributor.end_collection(procs)
            if self.settings.kube_labels or tracker.rules.needs_kube:
                attributor.write_metrics(kube_own)  # here too: the attributor belongs to this thread
            groups = self.grouper.update(procs, t0)
            if gpu is not None:
                gpu.attach(groups, tracker)
            ngroups = len(groups)
            out: list[str] = []
            write_groups(out, groups, self.families, Options(float(tracker.hz), self.settings.gather_smaps))
            body = "".join(out).encode("utf-8")
        if gpu is not None:
            gpu.write_own(gpu_own)  # here, not at scrape time: the monitor's state belongs to this thread
        return cs, body, ngroups

    def _publish(self, cs: CollectStats | None, body: bytes | None, ngroups: int, t0: float, cpu: float,
                 gpu_own: list[str], kube_own: list[str]) -> None:
        """Make one collection's result and counts what scrapes see (under `cv`); wake the scrapes waiting."""
        t1 = time.monotonic()
        tr = self.tracker
        with self.cv:
            self.collections += 1
            self.last_duration = t1 - t0
            self.last_cpu = cpu
            self.cpu_total += cpu
            if cs is None or body is None:
                self.scrape_errors += 1
                if cs is not None:  # /proc itself unreadable: no proc metrics, as upstream
                    self._groups, self._done = b"", t1
            else:
                self.procread_errors += cs.read_errors
                self.partial_errors += cs.partial
                self._groups, self._done = body, t1
                self.last_groups = ngroups
            if cs is not None:
                self.last_tracked, self.last_ignored, self.last_blocked = cs.tracked, cs.ignored, cs.blocked
            self._read_failures = dict(tr.read_failures)
            self._read_timeouts = dict(tr.read_timeouts)
            self._limit_hits = dict(self.limits.hits)
            self._stuck_reads = tr.guard.stuck
            if self.gpu is not None:
                self._gpu_own = "".join(gpu_own)
            if kube_own:
                self._kube_own = "".join(kube_own)
            self._attempt = t1
            self.cv.notify_all()

    def _render(self) -> bytes:
        """The served text: the last good group families, then the error counters and own metrics as of now."""
        out: list[str] = []
        own.SCRAPE_ERRORS.write(out, [((), self.scrape_errors)])
        own.SCRAPE_PARTIAL_ERRORS.write(out, [((), self.partial_errors)])
        own.SCRAPE_PROCREAD_ERRORS.write(out, [((), self.procread_errors)])
        self._own(out)
        out.append(self._gpu_own)
        out.append(self._kube_own)
        for writer in self.extra_writers:
            writer(out)
        if self.selfm is not None:
            self.selfm.write(out)
        return (self._groups or b"") + "".join(out).encode("utf-8")

    def _own(self, out: list[str]) -> None:
        """The collection's own families (export/own.py declares them), from the state as of now (cv held)."""
        age = time.monotonic() - (self._done if self._groups is not None else self._started)
        own.BUILD_INFO.write(out, [((__version__,), 1)])
        own.COLLECTION_DURATION_SECONDS.write(out, [((), self.last_duration)])
        own.COLLECTION_CPU_SECONDS.write(out, [((), self.last_cpu)])
        own.COLLECTION_CPU_SECONDS_TOTAL.write(out, [((), self.cpu_total)])
        own.COLLECTIONS_TOTAL.write(out, [((), self.collections)])
        own.SCRAPES_TOTAL.write(out, [((), self.scrapes)])
        own.PROCESSES.write(out, [(("blocked",), self.last_blocked), (("ignored",), self.last_ignored),
                                  (("tracked",), self.last_tracked)])
        own.READ_ERRORS_TOTAL.write(out, [((k,), v) for k, v in sorted(self._read_failures.items())])
        own.COLLECTION_AGE_SECONDS.write(out, [((), round(age, 6))])
        own.COLLECTION_DEADLINE_EXCEEDED_TOTAL.write(out, [((), self.stale_scrapes)])
        own.READ_TIMEOUTS_TOTAL.write(out, [((k,), v) for k, v in sorted(self._read_timeouts.items())])
        own.STUCK_READS.write(out, [((), self._stuck_reads)])
        own.GROUPS.write(out, [((), self.last_groups)])
        own.LIMIT_HITS_TOTAL.write(out, [((k,), v) for k, v in sorted(self._limit_hits.items())])
        own.CONFIG_LAST_RELOAD_SUCCESSFUL.write(out, [((), self.reload_ok)])
        own.CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS.write(out, [((), self.reload_success_ts)])
        own.CONFIG_RELOADS_TOTAL.write(out, [((k,), v) for k, v in sorted(self.reloads.items())])
