"""Per-group accumulators and per-collection group snapshots (process-exporter's proc/grouper.go semantics).

Called by collector.py after each Tracker.collect(); the records (Counts, GroupSnapshot, ThreadGroup) are
model.py's. Counters (CPU, I/O, page faults, context switches) are model.Counts accumulated from per-process
deltas (Counts.add), so a group counter never goes down when members exit, restart or are replaced. Gauges
(num_procs, memory, fds, threads, states, wchans, oldest start) are recomputed from the live members each
collection. A group whose members are all gone is still reported with frozen counters and zero
gauges, unless -remove-empty-groups. Per-thread-name counters follow upstream: a thread name that disappears
from a group drops its accumulator. With -report.missing-groups, statically named groups are reported (zero)
from the first collection on.

Bounds (limits.py): `admit` refuses a new group name once -limit.groups names exist (the tracker then ignores the
process), a group named by a template that stays empty for -remove-empty-groups.after is forgotten, and a group
reports at most -limit.thread-names distinct thread names (those already reported are kept first).

With -kubernetes.labels a group is keyed by (name, (namespace, pod, container)): the same name splits by container,
each split with its own monotonic counters; host processes share the empty label set. -limit.groups still counts
names. An empty group whose labels name a pod (its pod was deleted, or its container restarted under a new ID) is
aged out like a templated group, after `empty_label_ttl` (-kubernetes.empty-series-ttl) or
-remove-empty-groups.after, whichever is shorter, and even when its name is static: pod churn cannot grow the
series forever. Host label sets follow the rules for their name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from .limits import Limits, bounded_name
from .model import STATE_INDEX, ZERO, Counts, GroupSnapshot, ProcState, ThreadGroup

NO_LABELS = ("", "", "")  # namespace, pod, container of a host process


class Grouper:
    """Owns the accumulators; `update` folds one collection's tracked processes into snapshots."""

    def __init__(
        self,
        remove_empty_groups: bool = False,
        report_missing: bool = False,
        limits: Limits | None = None,
        kube_labels: bool = False,
        empty_label_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.remove_empty = remove_empty_groups
        self.report_missing = report_missing
        self.limits = limits or Limits()
        self.kube_labels = kube_labels
        self.empty_label_ttl = empty_label_ttl
        self.clock = clock  # `now` when update() is not given one
        # Keyed by group name, or by (name, labels) with kube_labels.
        self.accum: dict[Any, Counts] = {}
        self.thread_accum: dict[Any, dict[str, Counts]] = {}
        self.static_names: tuple[str, ...] = ()
        self._static: frozenset[str] = frozenset()
        self._pending: set[str] = set()  # names admitted during the current collection, not yet in accum
        self._names: set[str] = set()  # with kube_labels: the names among accum's keys (what -limit.groups counts)
        self.empty_since: dict[Any, float] = {}  # aging group key -> when it was first seen empty (monotonic)

    def set_static_names(self, names: Iterable[str]) -> None:
        """Groups configured with a fixed name (reported from start-up with -report.missing-groups; never aged
        out). Cut to -limit.name-length exactly as the tracker cuts the names it gives processes."""
        n = self.limits.name_length
        self.static_names = tuple(dict.fromkeys(bounded_name(x, n) if n else x for x in names))
        self._static = frozenset(self.static_names)

    def admit(self, name: str) -> bool:
        """May a process be tracked in group `name`? False once -limit.groups other names exist (counted)."""
        known = self._names if self.kube_labels else self.accum
        if name in known or name in self._pending or name in self._static:
            return True
        cap = self.limits.max_groups
        if cap and len(known) + len(self._pending) >= cap:
            self.limits.hits["groups"] += 1
            return False
        self._pending.add(name)
        return True

    def update(self, procs: Iterable[ProcState], now: float | None = None) -> list[GroupSnapshot]:
        """Fold one collection's tracked processes into their groups; returns every reported group, sorted."""
        if now is None:
            now = self.clock()
        self._pending.clear()
        snaps = self._fold(procs)
        self._empty_groups(snaps, now)
        if self.kube_labels:
            self._names = {k[0] for k in self.accum}
        return sorted(snaps.values(), key=_by_key)

    def _fold(self, procs: Iterable[ProcState]) -> dict[Any, GroupSnapshot]:
        """Counters from the deltas, gauges from the live members, thread names: the groups with members. One
        loop over every tracked process, kept in one frame (no call per process but add_gauges, and Counts.add
        for those that ran)."""
        accum = self.accum
        snaps: dict[Any, GroupSnapshot] = {}
        threads_by_group: dict[Any, list[tuple[str, Counts]]] = {}
        state_index = STATE_INDEX
        labelled = self.kube_labels
        for ps in procs:
            key = (ps.group, ps.kube.labels if ps.kube is not None else NO_LABELS) if labelled else ps.group
            g = snaps.get(key)
            if g is None:
                c = accum.get(key)
                if c is None:
                    c = accum[key] = Counts()
                g = snaps[key] = GroupSnapshot(ps.group, c, key[1] if labelled else None)
                g.oldest = ps.start_sec
            if ps.delta is not ZERO:  # most processes did not run: nothing to add
                g.counters.add(ps.delta)
            g.procs += 1
            g.add_gauges(ps)
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
                lst = threads_by_group.get(key)
                if lst is None:
                    threads_by_group[key] = list(ps.thread_updates)
                else:
                    lst.extend(ps.thread_updates)
        for key, g in snaps.items():
            g.threads = self._threads(key, threads_by_group.get(key))
        return snaps

    def _empty_groups(self, snaps: dict[Any, GroupSnapshot], now: float) -> None:
        """Groups without members this time (into snaps, with frozen counters and zero gauges): kept, removed
        (-remove-empty-groups) or aged out (-remove-empty-groups.after, a pod's label set after its TTL)."""
        accum = self.accum
        labelled = self.kube_labels
        keep: Any = self._static if self.report_missing else ()
        if labelled:
            keep = {(name, NO_LABELS) for name in keep}
        for key in keep:
            if key not in accum:
                accum[key] = Counts()
        age = self.limits.empty_group_age
        # A pod's label set ages out whatever its name: the shorter of the two bounds that are set.
        pod_age = min((t for t in (age, self.empty_label_ttl) if t > 0), default=0.0)
        empty_since = self.empty_since
        if len(accum) > len(snaps):
            for key in list(accum):
                if key in snaps:
                    continue
                if self.remove_empty and key not in keep:
                    del accum[key]
                    self.thread_accum.pop(key, None)
                    empty_since.pop(key, None)
                    continue
                self.thread_accum.pop(key, None)
                name, labels = key if labelled else (key, None)
                if labels is not None and labels != NO_LABELS:
                    ttl = pod_age
                else:
                    ttl = age if name not in self._static else 0.0
                if ttl > 0:
                    since = empty_since.setdefault(key, now)
                    if now - since >= ttl:
                        del accum[key]
                        del empty_since[key]
                        self.limits.hits["empty_group_age"] += 1
                        continue
                snaps[key] = GroupSnapshot(name, accum[key], labels)
        if empty_since:
            for key in [k for k in empty_since if k in snaps and snaps[k].procs]:
                del empty_since[key]

    def _threads(self, group: Any, updates: list[tuple[str, Counts]] | None) -> list[ThreadGroup]:
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
        for name, delta in updates:
            tg = current.get(name)
            if tg is None:
                if cap and len(current) >= cap:
                    dropped += 1  # its process's own counters still count in the group
                    continue
                c = history.get(name) or Counts()
                tg = current[name] = ThreadGroup(name, c)
            tg.count += 1
            tg.counters.add(delta)
        if dropped:
            self.limits.hits["thread_names"] += dropped
        self.thread_accum[group] = {n: tg.counters for n, tg in current.items()}
        return sorted(current.values(), key=_by_name)


def _by_name(x: GroupSnapshot | ThreadGroup) -> str:
    return x.name


def _by_key(g: GroupSnapshot) -> tuple[str, tuple[str, ...]]:
    return (g.name, g.labels or ())
