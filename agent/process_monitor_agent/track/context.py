"""`Pass`: the state of one pass over the procfs root, handed to every track/ function instead of a dozen
parameters. Built by Tracker.collect (one per collection) and Tracker.rematch_pids (one per GPU re-match).

Also the error bookkeeping those functions share: `GONE` (the errnos of a process that exited under us),
`fail` (a file of a live process could not be read: read_failures) and `skip` (a process's files could not be
understood: counted in namedprocess_scrape_procread_errors and logged once per kind).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..log import log

if TYPE_CHECKING:
    from ..model import ProcState
    from .settings import CollectStats
    from .tracker import Tracker

GONE = (errno.ENOENT, errno.ESRCH)


class Pass:
    """One pass: the tracker, the clock, what this pass found so far and its error counts."""

    __slots__ = ("blocked", "cs", "first", "ignored", "now", "procs", "recheck", "rematch", "t", "unmatched")

    def __init__(self, t: Tracker, cs: CollectStats, now: float, first: bool, procs: dict[int, ProcState],
                 ignored: dict[int, int]) -> None:
        self.t = t
        self.cs = cs
        self.now = now  # time.monotonic() at the start of the pass: every due time is compared with it
        self.first = first  # the start-up collection: every process found is a baseline, none counts its past
        self.procs = procs  # tracked processes found by this pass
        self.ignored = ignored  # pid -> starttime of the processes this pass ignores (refused groups included)
        # Identities no rule named, kept small for the children pass (ancestry.py):
        # pid -> (ppid, starttime, seen_before, the ProcState it had before a reload or None)
        self.unmatched: dict[int, tuple[int, int, bool, ProcState | None]] = {}
        self.rematch = False  # after a reload: every live identity is named again
        # With -recheck: which ignored identities (by starttime) are named again; None without it.
        self.recheck: Callable[[int], bool] | None = None
        # Processes put aside after a cmdline read hung, as the pass found them: pid -> (starttime, retry after)
        self.blocked: dict[int, tuple[int, float]] = {}

    def fail(self, file: str) -> None:
        """A file of a live process could not be read (what a restricted agent cannot see), by file."""
        f = self.t.read_failures
        f[file] = f.get(file, 0) + 1

    def skip(self, name: str, e: Exception) -> None:
        """One process's files could not be understood (malformed, truncated, too large): count it in
        namedprocess_scrape_procread_errors and log once per kind of failure, with a bounded message."""
        self.cs.read_errors += 1
        kind = type(e).__name__
        logged = self.t.skip_logged
        if kind not in logged and len(logged) < 64:
            logged.add(kind)
            log.warning("process %s skipped (%s: %s); counted in namedprocess_scrape_procread_errors, logged once "
                        "per kind", name, kind, str(e)[:300])
