"""Run one call at a time in a worker thread and wait for it at most a deadline.

Used by gpu/monitor.py so that an NVML read that hangs (a GPU falling off the bus can stall the driver for
seconds) never stalls a scrape: the collection waits at most -gpu.timeout, reports a timeout, and while that read
is still running later collections do not start another one (they report `stalled` at once). ctypes releases the
GIL during foreign calls, so a stuck NVML call does not stop the agent's other threads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

OK, TIMEOUT, STALLED = "ok", "timeout", "stalled"


class _Job:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class DeadlineWorker:
    """`call(timeout)` runs `fn()` in a daemon thread (started on first use) and returns (status, result)."""

    def __init__(self, fn: Callable[[], Any], name: str = "deadline-worker") -> None:
        self._fn = fn
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending: _Job | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, timeout: float) -> tuple[str, Any]:
        with self._lock:
            if self._pending is not None and not self._pending.done.is_set():
                return STALLED, None
            job = self._pending = _Job()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._jobs.put(job)
        if not job.done.wait(timeout):
            return TIMEOUT, None
        if job.error is not None:
            raise job.error
        return OK, job.result

    def busy(self) -> bool:
        """A call is still running (it timed out and has not returned yet)."""
        job = self._pending
        return job is not None and not job.done.is_set()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job.result = self._fn()
            except BaseException as e:  # handed to the caller, who decides
                job.error = e
            finally:
                job.done.set()

    def stop(self) -> None:
        """Let the worker thread end after its current job (tests and shutdown)."""
        self._jobs.put(None)
