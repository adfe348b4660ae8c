"""The collector's GPU hook (only with -gpu.enabled): one NVML read per collection, folded into the groups.

Collector._collect_locked calls, in order: `before_collect(tracker)` (read NVML with a deadline, hand the tracker
each PID's GPUs for the `gpu:` matcher and `.GPUs` template field, and return the known PIDs that newly hold a GPU
context, which the tracker then re-matches), `attach(groups, tracker)` after the grouper (each group's use per
GPU into `GroupSnapshot.gpus`, read by the exposition rows in gpu/families.py), and `write_own(out)` (the agent's
own GPU metrics). Every error is counted in process_monitor_agent_gpu_scrape_errors_total{reason} and logged once
while it lasts (and once when it clears); no error fails a scrape.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from ..export import own
from ..log import log
from .deadline import OK, STALLED, TIMEOUT, DeadlineWorker
from .model import Device, GroupUse, Sample
from .nvml import NvmlReader

# nvmlInit can take seconds on a node whose GPUs are not in persistence mode: the first read may wait this long,
# and until NVML has answered once, a slow read is "still initialising" (gpu_up 0), not an error.
FIRST_READ_TIMEOUT = 5.0


class GpuMonitor:
    def __init__(self, reader: Any = None, timeout: float = 1.0, library: str = "") -> None:
        self.reader = reader if reader is not None else NvmlReader(library)
        self.worker = DeadlineWorker(self.reader.read, "nvml-reader")
        self.timeout = timeout
        self.sample = Sample(ok=False)
        self.needs_gpu = False
        self.errors: dict[str, int] = {}
        self._active: dict[tuple[str, str], str] = {}
        self._gpu_of: dict[int, tuple[str, ...]] = {}
        self.last_duration = 0.0
        self.tracked = self.ignored = 0
        self._answered = False

    def set_rules(self, rules: Any) -> None:
        """Called on start-up and every reload: whether any rule looks at GPUs (`gpu:` or `.GPUs`)."""
        self.needs_gpu = bool(getattr(rules, "needs_gpu", False))

    # -- before the tracker ----------------------------------------------------------------------------------
    def before_collect(self, tracker: Any) -> set[int]:
        t0 = time.monotonic()
        timeout = self.timeout if self._answered else max(self.timeout, FIRST_READ_TIMEOUT)
        try:
            status, sample = self.worker.call(timeout)
        except Exception as e:  # NvmlReader.read catches everything; this is a last resort
            status, sample = OK, Sample(errors=[("nvml_error", "", f"{type(e).__name__}: {e}")], ok=False)
        if status == OK:
            self._answered = True
        elif not self._answered:
            if status == TIMEOUT:
                log.info("GPU metrics: NVML is still initialising after %gs; GPU series follow once it answers",
                         timeout)
            sample = Sample(ok=False)
        else:
            what = "is still running" if status == STALLED else f"did not finish within {timeout:g}s"
            sample = Sample(errors=[("timeout", "", f"NVML read {what}")], ok=False)
        self.last_duration = time.monotonic() - t0
        self._errors(sample.errors)
        self.sample = sample
        if not sample.ok:
            # No answer this time: keep matching against the last known GPU PIDs instead of treating every GPU
            # process as having dropped its context (which would re-match them all on the next good read).
            tracker.gpu_of = self._gpu_of
            return set()
        gpu_of = {pid: tuple(sorted({u.device.name for u in uses})) for pid, uses in sample.procs.items()}
        again: set[int] = set()
        if self.needs_gpu:
            old = self._gpu_of
            procs, ignored = tracker.procs, tracker.ignored
            again = {pid for pid in gpu_of if pid not in old and (pid in procs or pid in ignored)}
        self._gpu_of = gpu_of
        tracker.gpu_of = gpu_of
        return again

    def _errors(self, errors: Iterable[tuple[str, str, str]]) -> None:
        now: dict[tuple[str, str], str] = {}
        for reason, device, message in errors:
            self.errors[reason] = self.errors.get(reason, 0) + 1
            key = (reason, device)
            now[key] = message
            if key not in self._active:
                log.error("GPU metrics: %s (reason %s; logged once until it clears)", message, reason)
        for key in self._active.keys() - now.keys():
            log.info("GPU metrics: %s recovered (%s)", f"GPU {key[1]}" if key[1] else "NVML", key[0])
        self._active = now

    # -- after the grouper -----------------------------------------------------------------------------------
    def attach(self, groups: Iterable[Any], tracker: Any) -> None:
        # Keyed as grouper.py keys groups: with -kubernetes.labels one name splits by (namespace, pod, container).
        by_key = {(g.name, g.labels): g for g in groups}
        labelled = tracker.s.kube_labels
        procs = tracker.procs
        tracked = ignored = 0
        for pid, uses in self.sample.procs.items():
            ps = procs.get(pid)
            labels = (ps.kube.labels if ps.kube is not None else ("", "", "")) if labelled and ps is not None else None
            g = by_key.get((ps.group, labels)) if ps is not None else None
            if g is None:
                ignored += 1
                continue
            tracked += 1
            gpus: dict[Device, GroupUse] | None = g.gpus
            if gpus is None:
                gpus = g.gpus = {}
            for u in uses:
                gu = gpus.get(u.device)
                if gu is None:
                    gu = gpus[u.device] = GroupUse(u.device)
                gu.add(u)
        self.tracked, self.ignored = tracked, ignored

    # -- the agent's own GPU metrics -------------------------------------------------------------------------
    def write_own(self, out: list[str]) -> None:
        s = self.sample
        own.GPU_UP.write(out, [((), 1 if s.ok else 0)])
        own.GPU_INFO.write(out, [((*d.label_values, d.model), 1) for d in sorted(s.devices, key=_device_order)])
        own.GPU_PROCESSES.write(out, [(("ignored",), self.ignored), (("tracked",), self.tracked)])
        own.GPU_READ_DURATION_SECONDS.write(out, [((), self.last_duration)])
        own.GPU_SCRAPE_ERRORS_TOTAL.write(out, [((k,), v) for k, v in sorted(self.errors.items())])

    def close(self) -> None:
        """Stop the worker thread and shut NVML down (unless a read is still stuck in it)."""
        busy = self.worker.busy()
        self.worker.stop()
        if not busy:
            close = getattr(self.reader, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # shutting down anyway
                    close()


def _device_order(d: Device) -> tuple[int, int, str]:
    return d.sort_key
