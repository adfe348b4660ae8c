"""Naming a new identity: its attributes for the rules (`attrs_of`), its group (`name_process`), and its first
refresh as a tracked process (`track`).

Called by tracker.py's walk for a (pid, starttime) it has not seen, or on -recheck and after a reload for one it
has; by ancestry.py (`track`) for a process that joins its ancestor's group; by Tracker.rematch_pids for a process
that newly holds a GPU context. What cannot change for an identity is read once, here: `cmdline` when a rule needs
it (through procfs/guard.py, with a timeout: it can block on the target's mmap lock, and a process whose read hung
is put aside in Tracker.blocked), `status` early when a template uses .Username, `cgroup` only when a template uses
.Cgroups or a Kubernetes field, or -kubernetes.labels is on (kube/attribution.py). Group names are cut and new
groups admitted through limits.py and grouper.py's `admit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..limits import CMDLINE_LIMIT
from ..log import log
from ..model import ZERO, ProcState
from ..procfs import read_file, read_file_all
from ..procfs.cgroup import parse_cgroup
from ..procfs.cmdline import parse_cmdline
from ..procfs.guard import ReadTimeout
from ..procfs.stat import PPID, comm_of
from ..procfs.status import parse_status
from ..rules import ProcAttrs
from .refresh import refresh

if TYPE_CHECKING:
    from .context import Pass
    from .tracker import Tracker


def name_process(p: Pass, pid: int, base: str, data: bytes, rp: int, f: list[bytes], starttime: int,
                 seen_before: bool, old: ProcState | None) -> None:
    """Name a new identity (or, on recheck/reload, a known one: `old`): track it, or keep it for the children
    pass. `data` is its stat, `rp` and `f` what split_stat made of it."""
    t = p.t
    attrs = attrs_of(t, pid, base, data, rp, starttime)
    if attrs is None:
        return
    group = t.rules.name_of(attrs)
    if log.is_debug():
        log.debug("process %d %r %r: %s", pid, attrs.comm[:200], attrs.joined[:200],
                  f"group {group[:200]!r}" if group is not None else "no rule matched")
    if group is None:
        p.unmatched[pid] = (int(f[PPID]), starttime, seen_before, old)
        return
    group = t.s.limits.group_name(group)
    if t.admit is not None and not t.admit(group):
        p.ignored[pid] = starttime  # -limit.groups reached: counted by the grouper
        return
    track(p, pid, base, f, starttime, seen_before, old, group)


def track(p: Pass, pid: int, base: str, f: list[bytes], starttime: int, seen_before: bool, old: ProcState | None,
          group: str) -> None:
    """Track a named process in `group` (into p.procs): a reloaded one keeps its baselines, a new one gets a
    ProcState whose first refresh is a baseline or, for a process born since the last collection, its whole life."""
    t = p.t
    if old is not None:
        # Reload: same process, maybe a new group; counters continue from the old baselines.
        old.group = group
        if refresh(p, old, base, f, False):
            p.procs[pid] = old
        return
    ps = ProcState(pid, starttime, group)
    ps.start_sec = t.boot_time + starttime // t.hz
    rnd = t.rand.random()
    ps.limits_due = p.now + rnd * t.s.limits_interval
    ps.smaps_due = p.now + rnd * t.s.smaps_interval
    # Baseline for a process that existed before (at start-up, or on recheck/reload); a process born since
    # the previous collection contributes its whole life, as process-exporter does.
    whole_life = not p.first and not seen_before
    if not refresh(p, ps, base, f, True):
        return
    if not whole_life:
        ps.delta = ZERO
        if ps.thread_updates:
            ps.thread_updates = [(name, ZERO) for name, _ in ps.thread_updates]
    p.cs.new += 1
    p.procs[pid] = ps


def attrs_of(t: Tracker, pid: int, base: str, data: bytes, rp: int, starttime: int) -> ProcAttrs | None:
    """What the rules look at, reading only what they use. None when the process is gone, unreadable or its
    cmdline read timed out (tried again at a later collection); a malformed status raises ValueError (the
    caller skips and counts the process)."""
    rules = t.rules
    cmdline: list[str] = []
    if rules.needs_cmdline:
        try:
            raw, cut = t.guard.read_all(base + "/cmdline", 8192, CMDLINE_LIMIT)
        except ReadTimeout as e:
            t.timed_out("cmdline", e, pid, starttime)
            return None
        except OSError:
            return None
        if cut:
            t.s.limits.hits["cmdline_size"] += 1
        cmdline = parse_cmdline(raw)
    attrs = ProcAttrs(comm_of(data, rp), cmdline, pid, t.boot_time + starttime / t.hz)
    if rules.needs_username:
        try:
            attrs.username = t.username(parse_status(read_file(base + "/status", 8192)).euid)
        except OSError:
            return None  # gone, or unreadable: tried again next collection
    if rules.needs_cgroups:
        try:
            attrs.cgroups = parse_cgroup(read_file_all(base + "/cgroup")[0])
        except OSError:
            attrs.cgroups = []
    if rules.needs_gpu:
        attrs.gpus = t.gpu_of.get(pid, ())
    if rules.needs_kube:
        known = t.procs.get(pid)
        if known is not None and known.starttime == starttime and known.kube is not None:
            attrs.kube = known.kube  # re-match on reload: the cgroup was read once for this identity
        else:
            cgroups = attrs.cgroups if rules.needs_cgroups else None
            attrs.kube_source = lambda: t.attributor.lookup(pid, starttime, base, cgroups)
    return attrs
