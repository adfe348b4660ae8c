"""The agent's records, shared by the stages: `Counts` (the counter set, written once), ProcState and ThreadState
(what track/ keeps per process and thread), ThreadGroup and GroupSnapshot (what grouper.py hands the exposition).

Imports nothing of the agent, so every stage can import it. Counts plays the part of process-exporter's
`proc.Counts`: a process's, a thread's and a group's monotonic counters are one type, added (`add`) and
differenced (`since`) in one place. Plain `__slots__` classes, not dataclasses or NamedTuples: a collection
creates one Counts per process that ran, and the walk over 10,000 PIDs is the agent's cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Index of a task state in per-state counts [R, S, D, Z, Other]; everything else is "Other" (4).
STATE_INDEX = {"R": 0, "S": 1, "D": 2, "Z": 3}
GO_ZERO_TIME = -62135596800  # Unix() of Go's zero time.Time: oldest_start_time_seconds of an empty group


def field_adder(fields: tuple[str, ...], doc: str) -> Callable[[Any, Any], None]:
    """A method `add(self, other)` doing `self.f += other.f` for each of `fields`, in that order.

    Written once for Counts.add and GroupSnapshot.add_gauges and compiled from source (as dataclasses does), so it
    runs as one written by hand: one attribute read and write per field, no getattr/setattr or loop per call; it
    is on the per-process path of every collection.
    """
    for f in fields:
        if not f.isidentifier():
            raise ValueError(f"not a field name: {f!r}")
    body = "\n".join(f"    self.{f} += other.{f}" for f in fields)
    namespace: dict[str, Any] = {}
    exec(f"def add(self, other):\n{body}\n", namespace)  # fields are identifiers from this module only
    add = namespace["add"]
    add.__doc__ = doc
    return add


class Counts:
    """The monotonic counters of a process, a thread or a group. CPU is kept in clock ticks, exact.

    utime/stime: CPU user/system ticks (stat); min/maj: minor/major page faults (stat); rb/wb: storage-layer
    read/write bytes (io); vcs/nvcs: voluntary/nonvoluntary context switches (status)."""

    __slots__ = ("maj", "min", "nvcs", "rb", "stime", "utime", "vcs", "wb")

    def __init__(self, utime: int = 0, stime: int = 0, mn: int = 0, mj: int = 0, rb: int = 0, wb: int = 0,
                 vcs: int = 0, nvcs: int = 0) -> None:
        self.utime = utime
        self.stime = stime
        self.min = mn
        self.maj = mj
        self.rb = rb
        self.wb = wb
        self.vcs = vcs
        self.nvcs = nvcs

    add = field_adder(
        ("utime", "stime", "min", "maj", "rb", "wb", "vcs", "nvcs"),
        "Add another set (a delta) into this one (an accumulator).",
    )

    def since(self, old: Counts) -> Counts:
        """Growth from `old` (the last raw values) to these; a counter that went down grows by 0, never less, so
        a group counter never decreases."""
        return Counts(
            self.utime - old.utime if self.utime > old.utime else 0,
            self.stime - old.stime if self.stime > old.stime else 0,
            self.min - old.min if self.min > old.min else 0,
            self.maj - old.maj if self.maj > old.maj else 0,
            self.rb - old.rb if self.rb > old.rb else 0,
            self.wb - old.wb if self.wb > old.wb else 0,
            self.vcs - old.vcs if self.vcs > old.vcs else 0,
            self.nvcs - old.nvcs if self.nvcs > old.nvcs else 0,
        )

    def __repr__(self) -> str:
        return "Counts(" + ", ".join(f"{k}={getattr(self, k)}" for k in self.__slots__) + ")"


# The delta of a process or thread that did not run (or a baseline): shared, never added into, never mutated.
ZERO = Counts()


class ThreadState:
    """Last raw counters of one thread (tid) of a multi-threaded tracked process."""

    __slots__ = ("name", "runtime", "state", "total", "wchan")

    def __init__(self) -> None:
        self.name = ""
        self.total = ZERO  # replaced, never mutated: a new Counts each time the thread is read
        self.runtime = -1
        self.state = "S"
        self.wchan = ""


class ProcState:
    """Everything the agent keeps about one tracked (pid, starttime)."""

    __slots__ = (
        "delta",
        "fd_limit",
        "fds",
        "group",
        "kube",
        "limits_due",
        "nthreads",
        "partial",
        "pid",
        "pss",
        "rss",
        "runtime",
        "smaps_due",
        "start_sec",
        "starttime",
        "stat_hash",
        "state",
        "states",
        "swap",
        "swappss",
        "thread_updates",
        "threads",
        "total",
        "vsize",
        "wchan",
        "wchans",
    )

    def __init__(self, pid: int, starttime: int, group: str) -> None:
        self.pid = pid
        self.starttime = starttime
        self.group = group
        self.start_sec = 0
        self.total = ZERO  # last raw counters (replaced at each read)
        self.delta = ZERO  # growth since the previous collection, added into the group by grouper.py
        self.rss = self.vsize = self.swap = self.pss = self.swappss = 0
        self.fds = -1
        self.fd_limit = 0
        self.nthreads = 1
        self.state = "S"
        self.wchan = ""
        self.runtime = -1
        self.limits_due = 0.0
        self.smaps_due = 0.0
        self.partial = False
        self.stat_hash = -1  # hash() of the last stat bytes; Python never returns -1 for a hash
        self.threads: dict[int, ThreadState] | None = None
        # With thread data: per-state counts [R, S, D, Z, Other] and wchan counts over the threads.
        self.states: list[int] | None = None
        self.wchans: dict[str, int] | None = None
        # (threadname, delta) of each thread for this collection.
        self.thread_updates: list[tuple[str, Counts]] | None = None
        # kube.attribution.Workload once looked up (-kubernetes.labels), else None.
        self.kube: Any = None


class ThreadGroup:
    """The threads of one name in a group: how many now, and their accumulated counters."""

    __slots__ = ("count", "counters", "name")

    def __init__(self, name: str, counters: Counts) -> None:
        self.name = name
        self.count = 0
        self.counters = counters


class GroupSnapshot:
    """What the exposition needs for one group after a collection."""

    __slots__ = (
        "counters",
        "fds",
        "gpus",
        "labels",
        "name",
        "nthreads",
        "oldest",
        "procs",
        "pss",
        "rss",
        "states",
        "swap",
        "swappss",
        "threads",
        "vsize",
        "wchans",
        "worst_ratio",
    )

    def __init__(self, name: str, counters: Counts, labels: tuple[str, str, str] | None = None) -> None:
        self.name = name
        self.counters = counters  # the group's accumulator (grouper.py), read by the exposition
        self.labels = labels  # (namespace, pod, container) with -kubernetes.labels, else None
        self.procs = 0
        self.rss = self.vsize = self.swap = self.pss = self.swappss = 0
        self.fds = 0
        self.worst_ratio = 0.0
        self.oldest = GO_ZERO_TIME
        self.nthreads = 0
        self.states = [0, 0, 0, 0, 0]
        self.wchans: dict[str, int] = {}
        self.threads: list[ThreadGroup] = []
        self.gpus: dict | None = None  # device -> gpu.model.GroupUse, set by gpu/monitor.py with -gpu.enabled

    add_gauges = field_adder(
        ("rss", "vsize", "swap", "pss", "swappss", "nthreads"),
        "Add one live member's (a ProcState's) memory and thread-count gauges into the group's sums.",
    )
