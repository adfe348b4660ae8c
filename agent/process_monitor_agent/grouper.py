"""Per-group accumulators and per-collection group snapshots (process-exporter's proc/grouper.go semantics).

Called by collector.py after each Tracker.collect(). Counters (CPU, I/O, page faults, context switches) are
accumulated from per-process deltas, so a group counter never goes down when members exit, restart or are
replaced. Gauges (num_procs, memory, fds, threads, states, wchans, oldest start) are recomputed from the live
members each collection. A group whose members are all gone is still reported with frozen counters and zero
gauges, unless -remove-empty-groups. Per-thread-name counters follow upstream: a thread name that disappears
from a group drops its accumulator. With -report.missing-groups, statically named groups are reported (zero)
from the first collection on.

Bounds (limits.py): `admit` refuses a new group name once -limit.groups names exist (the tracker then ignores the
process), a group named by a template that stays empty for -remove-empty-groups.after is forgotten, and a group
reports at most -limit.thread-names distinct thread names (those already reported are kept first).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .limits import Limits, bounded_name
from .tracker import STATE_INDEX, ProcState

GO_ZERO_TIME = -62135596800  # Unix() of Go's zero time.Time: oldest_start_time_seconds of an empty group


class Counters:
    """Monotonic per-group (or per group+thread name) counters. CPU is kept in clock ticks, exact."""

    __slots__ = ("maj", "min", "nvcs", "rb", "stime", "utime", "vcs", "wb")

    def __init__(self) -> None:
        self.utime = self.stime = self.rb = self.wb = self.maj = self.min = self.vcs = self.nvcs = 0


class ThreadGroup:
    __slots__ = ("count", "counters", "name")

    def __init__(self, name: str, counters: Counters) -> None:
        self.name = name
        self.count = 0
        self.counters = counters


class GroupSnapshot:
    """What the exposition needs for one group after a collection."""

    __slots__ = (
        "counters",
        "fds",
        "gpus",
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

    def __init__(self, name: str, counters: Counters) -> None:
        self.name = name
        self.counters = counters
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


class Grouper:
    """Owns the accumulators; `update` folds one collection's tracked processes into snapshots."""

    def __init__(
        self, remove_empty_groups: bool = False, report_missing: bool = False, limits: Limits | None = None
    ) -> None:
        self.remove_empty = remove_empty_groups
        self.report_missing = report_missing
        self.limits = limits or Limits()
        self.accum: dict[str, Counters] = {}
        self.thread_accum: dict[str, dict[str, Counters]] = {}
        self.static_names: tuple[str, ...] = ()
        self._static: frozenset[str] = frozenset()
        self._pending: set[str] = set()  # names admitted during the current collection, not yet in accum
        self.empty_since: dict[str, float] = {}  # templated group -> when it was first seen empty (monotonic)

    def set_static_names(self, names: Iterable[str]) -> None:
        """Groups configured with a fixed name (reported from start-up with -report.missing-groups; never aged
        out). Cut to -limit.name-length exactly as the tracker cuts the names it gives processes."""
        n = self.limits.name_length
        self.static_names = tuple(dict.fromkeys(bounded_name(x, n) if n else x for x in names))
        self._static = frozenset(self.static_names)

    def admit(self, name: str) -> bool:
        """May a process be tracked in group `name`? False once -limit.groups other names exist (counted)."""
        if name in self.accum or name in self._pending or name in self._static:
            return True
        cap = self.limits.max_groups
        if cap and len(self.accum) + len(self._pending) >= cap:
            self.limits.hits["groups"] += 1
            return False
        self._pending.add(name)
        return True

    def update(self, procs: Iterable[ProcState], now: float | None = None) -> list[GroupSnapshot]:
        if now is None:
            now = time.monotonic()
        self._pending.clear()
        accum = self.accum
        snaps: dict[str, GroupSnapshot] = {}
        threads_by_group: dict[str, list[tuple]] = {}
        state_index = STATE_INDEX
        for ps in procs:
            g = snaps.get(ps.group)
            if g is None:
                c = accum.get(ps.group)
                if c is None:
                    c = accum[ps.group] = Counters()
                g = snaps[ps.group] = GroupSnapshot(ps.group, c)
                g.oldest = ps.start_sec
            c = g.counters
            if ps.d_utime:
                c.utime += ps.d_utime
            if ps.d_stime:
                c.stime += ps.d_stime
            if ps.d_min:
                c.min += ps.d_min
            if ps.d_maj:
                c.maj += ps.d_maj
            if ps.d_rb:
                c.rb += ps.d_rb
            if ps.d_wb:
                c.wb += ps.d_wb
            if ps.d_vcs:
                c.vcs += ps.d_vcs
            if ps.d_nvcs:
                c.nvcs += ps.d_nvcs
            g.procs += 1
            g.rss += ps.rss
            g.vsize += ps.vsize
            g.swap += ps.swap
            g.pss += ps.pss
            g.swappss += ps.swappss
            g.nthreads += ps.nthreads
            if ps.start_sec < g.oldest:
                g.oldest = ps.start_sec
            fds = ps.fds
            if fds >= 0:
                g.fds += fds
                if ps.fd_limit > 0:
                    r = fds / ps.fd_limit
                    if r > g.worst_ratio:
                        g.worst_ratio = r
            if ps.states is not None:
                st = g.states
                for i, n in enumerate(ps.states):
                    st[i] += n
                w = g.wchans
                for k, n in ps.wchans.items():
                    w[k] = w.get(k, 0) + n
            else:
                g.states[state_index.get(ps.state, 4)] += 1
                if ps.wchan:
                    g.wchans[ps.wchan] = g.wchans.get(ps.wchan, 0) + 1
            if ps.thread_updates is not None:
                lst = threads_by_group.get(ps.group)
                if lst is None:
                    threads_by_group[ps.group] = list(ps.thread_updates)
                else:
                    lst.extend(ps.thread_updates)
        for name, g in snaps.items():
            g.threads = self._threads(name, threads_by_group.get(name))
        keep = self._static if self.report_missing else ()
        for name in keep:
            if name not in accum:
                accum[name] = Counters()
        age = self.limits.empty_group_age
        empty_since = self.empty_since
        if len(accum) > len(snaps):
            for name in list(accum):
                if name in snaps:
                    continue
                if self.remove_empty and name not in keep:
                    del accum[name]
                    self.thread_accum.pop(name, None)
                    continue
                self.thread_accum.pop(name, None)
                if age > 0 and name not in self._static:
                    since = empty_since.setdefault(name, now)
                    if now - since >= age:
                        del accum[name]
                        del empty_since[name]
                        self.limits.hits["empty_group_age"] += 1
                        continue
                snaps[name] = GroupSnapshot(name, accum[name])
        if empty_since:
            for name in [n for n in empty_since if n in snaps and snaps[n].procs]:
                del empty_since[name]
        return sorted(snaps.values(), key=_by_name)

    def _threads(self, group: str, updates: list[tuple] | None) -> list[ThreadGroup]:
        if not updates:
            self.thread_accum.pop(group, None)
            return []
        history = self.thread_accum.get(group) or {}
        current: dict[str, ThreadGroup] = {}
        cap = self.limits.max_thread_names
        if cap and len(updates) > cap:
            # More threads than names allowed: names already reported go first, so the kept set is stable.
            updates = [u for u in updates if u[0] in history] + [u for u in updates if u[0] not in history]
        else:
            cap = 0
        dropped = 0
        for name, du, ds, dmn, dmj, drb, dwb, dv, dnv in updates:
            tg = current.get(name)
            if tg is None:
                if cap and len(current) >= cap:
                    dropped += 1  # its process's own counters still count in the group
                    continue
                c = history.get(name) or Counters()
                tg = current[name] = ThreadGroup(name, c)
            c = tg.counters
            tg.count += 1
            c.utime += du
            c.stime += ds
            c.min += dmn
            c.maj += dmj
            c.rb += drb
            c.wb += dwb
            c.vcs += dv
            c.nvcs += dnv
        if dropped:
            self.limits.hits["thread_names"] += dropped
        self.thread_accum[group] = {n: tg.counters for n, tg in current.items()}
        return sorted(current.values(), key=_by_name)


def _by_name(x: GroupSnapshot | ThreadGroup) -> str:
    return x.name
