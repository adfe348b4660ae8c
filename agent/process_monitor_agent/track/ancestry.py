"""The children pass (process-exporter's checkAncestry): an unmatched process joins the group of its nearest
tracked ancestor; the walk up stops at an ignored or unknown parent; everything else is ignored.

Called by Tracker.collect once per collection, after the walk, with the identities no rule named (Pass.unmatched).
Hostile input: any user can make parent chains of thousands (and PID wrap-around makes cycles), so the pass is
iterative and memoized: each unmatched process is visited once, and a cycle or a self-parent ends with no group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..procfs.stat import STARTTIME, read_stat, split_stat
from .identity import track

if TYPE_CHECKING:
    from .context import Pass


def adopt_children(p: Pass) -> None:
    """Track each unmatched process whose ancestry leads to a tracked one (into p.procs); ignore the others."""
    unmatched = p.unmatched
    if not p.t.s.children:
        for pid, item in unmatched.items():
            p.ignored[pid] = item[1]
        return
    groups = _ancestor_groups(p)
    root = p.t.s.procfs + "/"
    for pid, (_ppid, starttime, seen_before, old) in unmatched.items():
        g = groups[pid]
        if g is None:
            p.ignored[pid] = starttime
            continue
        base = root + str(pid)
        try:
            f = split_stat(read_stat(base + "/stat"))[1]
            if int(f[STARTTIME]) != starttime:
                continue  # exited and the PID was reused within this collection: next one sees it
            track(p, pid, base, f, starttime, seen_before, old, g)
        except OSError:
            continue
        except Exception as e:  # see Tracker.collect: one odd process never fails the collection
            p.skip(str(pid), e)


def _ancestor_groups(p: Pass) -> dict[int, str | None]:
    """The group of each unmatched process's nearest tracked ancestor (None: none, or a cycle)."""
    unmatched = p.unmatched
    procs = p.procs
    memo: dict[int, str | None] = {}
    for start in unmatched:
        if start in memo:
            continue
        path: list[int] = []
        pid = start
        g: str | None = None
        while True:
            if pid in memo:  # resolved earlier, or on this path (a cycle): None until resolved
                g = memo[pid]
                break
            memo[pid] = None
            path.append(pid)
            ppid = unmatched[pid][0]
            parent = procs.get(ppid)
            if parent is not None:
                g = parent.group
                break
            if ppid not in unmatched:  # ignored, unknown or gone: the walk stops, as upstream's
                break
            pid = ppid
        for q in path:
            memo[q] = g
    return memo
