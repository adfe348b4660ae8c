"""TRACK: per-process state across collections, from the reads of procfs/ to the deltas grouper.py adds up.

Called by collector.py (`Tracker.collect` once per collection, `rematch_pids` with -gpu.enabled, `set_rules` on
reload) and built from cli.py's `Settings`. Processes are identified by (pid, starttime), as process-exporter does.
For each identity the tracker caches what cannot change for it (comm, cmdline, username, cgroups are read once to
choose the group; the group is then fixed) and keeps the last raw counters (model.Counts) so that each collection
yields per-process deltas, which grouper.py adds into per-group accumulators.

    tracker.py   Tracker: the walk over every PID (one stat read each; the fast path), identity, GPU re-match
    identity.py  naming a new identity: its attributes (cmdline, username, cgroups), group, admission, first read
    refresh.py   per-process refresh: what a tracked process's files say now, as deltas (what is read, and when)
    threads.py   task/* of a multi-threaded process: per-thread deltas, states, wait channels
    ancestry.py  the children pass: unmatched processes join their nearest tracked ancestor's group
    context.py   Pass, the per-collection context those functions share, and their error bookkeeping
    settings.py  Settings (the command line's tracker options) and CollectStats (one collection's counts)

Hostile input (any tenant controls its processes' files): one process whose files are malformed, truncated, too
large or not files is skipped and counted (namedprocess_scrape_procread_errors), never an exception out of
`collect`; the children pass is iterative and visits each process once; cmdline and smaps_rollup, which can block
on the target's mmap lock, are read with a timeout (procfs/guard.py) and a process whose cmdline hung is put aside
(`blocked`) for BLOCKED_RETRY_S; group names are cut and new groups admitted through limits.py/grouper.py.
"""

from .settings import CollectStats, Settings
from .tracker import BLOCKED_RETRY_S, Tracker

__all__ = ["BLOCKED_RETRY_S", "CollectStats", "Settings", "Tracker"]
