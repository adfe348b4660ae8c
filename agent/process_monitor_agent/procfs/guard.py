"""Reads of procfs files that can block on another process, with a timeout (track/: cmdline, smaps_rollup).

Reading `/proc/<pid>/cmdline` or `smaps_rollup` takes the target's mmap lock, and `cmdline` may fault in the
target's argv pages: a process stuck in an mmap operation (a hung FUSE or NFS file, a process that holds the lock
on purpose) makes the read sleep for as long as it likes, uninterruptibly. Such reads are handed to a helper thread
and waited for at most `timeout` seconds. A read that does not come back is abandoned (its thread stays blocked
in the kernel until the lock is released, then exits) and the caller gets ReadTimeout, so one process costs at
most `timeout` of one collection instead of wedging all of them. At most `max_stuck` abandoned threads exist at a
time; past that, guarded reads fail at once (ReadTimeout) until one of them returns, so a hostile tenant cannot
make the agent pile up threads.

A handoff costs two thread switches (tens of microseconds); cmdline is read once per new process and smaps_rollup
once per -gather-smaps.interval, so this is off the per-scrape hot path. timeout <= 0 reads in the caller's thread.
"""

from __future__ import annotations

import errno
import queue
import threading

from . import read_file, read_file_all


class ReadTimeout(OSError):
    """A guarded read did not finish within the timeout (or too many earlier ones are still blocked)."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(errno.ETIMEDOUT, why, path)


class _Worker:
    """One helper thread and its two queues; replaced by a new one when a read through it is abandoned."""

    __slots__ = ("abandoned", "jobs", "results", "thread")

    def __init__(self, owner: GuardedReader) -> None:
        self.jobs: queue.SimpleQueue[tuple[str, int, int, bool] | None] = queue.SimpleQueue()
        self.results: queue.SimpleQueue[tuple[bool, object]] = queue.SimpleQueue()
        self.abandoned = False
        self.thread = threading.Thread(target=self._run, args=(owner,), name="procfs-guarded-read", daemon=True)
        self.thread.start()

    def _run(self, owner: GuardedReader) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            path, size, limit, whole = job
            try:
                res: tuple[bool, object] = (True, read_file_all(path, size, limit) if whole else
                                            read_file(path, size, limit))
            except BaseException as e:  # handed to the caller, which decides
                res = (False, e)
            with owner._lock:  # atomic with the caller's give-up, so a result is either taken or counted stuck
                if self.abandoned:
                    owner.stuck -= 1  # the kernel let go at last: this thread was counted as stuck
                    return
                self.results.put(res)


class GuardedReader:
    """`read`/`read_all` with a timeout. Called from one thread at a time (the collection)."""

    def __init__(self, timeout: float, max_stuck: int = 8) -> None:
        self.timeout = timeout
        self.max_stuck = max_stuck
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        self.stuck = 0  # abandoned reads still blocked in the kernel
        self.timeouts = 0  # reads abandoned since start

    def read(self, path: str, size: int, limit: int) -> bytes:
        """read_file() through the helper thread; raises ReadTimeout, or what read_file raised."""
        if self.timeout <= 0:
            return read_file(path, size, limit)
        return self._call(path, size, limit, False)  # type: ignore[return-value]

    def read_all(self, path: str, chunk: int, limit: int) -> tuple[bytes, bool]:
        """read_file_all() through the helper thread; raises ReadTimeout, or what read_file_all raised."""
        if self.timeout <= 0:
            return read_file_all(path, chunk, limit)
        return self._call(path, chunk, limit, True)  # type: ignore[return-value]

    def close(self) -> None:
        if self._worker is not None:
            self._worker.jobs.put(None)
            self._worker = None

    def _call(self, path: str, size: int, limit: int, whole: bool) -> object:
        with self._lock:
            if self.stuck >= self.max_stuck:
                raise ReadTimeout(path, f"{self.stuck} earlier reads are still blocked")
        w = self._worker
        if w is None:
            w = self._worker = _Worker(self)
        w.jobs.put((path, size, limit, whole))
        try:
            ok, value = w.results.get(timeout=self.timeout)
        except queue.Empty:
            with self._lock:
                try:  # the answer may have landed just now
                    ok, value = w.results.get_nowait()
                except queue.Empty:
                    w.abandoned = True
                    self.stuck += 1
                    self.timeouts += 1
                    self._worker = None
                    raise ReadTimeout(path, f"no answer within {self.timeout:g}s") from None
        if ok:
            return value
        raise value  # type: ignore[misc]
