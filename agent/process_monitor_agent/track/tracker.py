"""`Tracker`: the per-process state across collections, and the walk over the procfs root (identity, fast path).

Called by collector.py once per collection (`collect`, then `rematch_pids` with -gpu.enabled), and on reload
(`set_rules`). Processes are identified by (pid, starttime), as process-exporter does. Every PID costs one read
of `stat`; an ignored process stops there. A tracked single-threaded process whose stat is byte for byte what it
was and whose schedstat run time did not move did not run: the walk keeps it as it is (the fast path; most of a
node's processes sleep). Anything else goes to refresh.py (a known process) or identity.py (a new identity, or
every identity after a reload or on -recheck); unmatched identities go to ancestry.py after the walk.

State of exited and ignored PIDs is dropped on the next collection that does not list them, so memory follows the
live process count. One process whose files are malformed, truncated, too large or not files is skipped and
counted (namedprocess_scrape_procread_errors), never an exception out of `collect`.
"""

from __future__ import annotations

import pwd
import random
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..kube.attribution import Attributor
from ..kube.podlogs import PodLogIndex
from ..log import log
from ..model import ZERO, ProcState
from ..procfs import read_file
from ..procfs.fd import fd_size_is_count
from ..procfs.guard import GuardedReader, ReadTimeout
from ..procfs.schedstat import read_runtime_ns
from ..procfs.stat import STARTTIME, read_stat, split_stat
from ..procfs.system import clock_ticks, list_pids, page_size, parse_boot_time, parse_uptime
from .ancestry import adopt_children
from .context import GONE, Pass
from .identity import attrs_of, name_process, track
from .refresh import refresh
from .settings import CollectStats, Settings

if TYPE_CHECKING:
    from ..rules import Rules

# A process whose cmdline read timed out is not read again for this long (it is counted as blocked meanwhile).
BLOCKED_RETRY_S = 60.0


class Tracker:
    """Owns the per-process state. Not thread-safe: collector.py serialises collections."""

    def __init__(self, settings: Settings, rules: Rules) -> None:
        self.s = settings
        self.rules = rules
        self.procs: dict[int, ProcState] = {}
        self.ignored: dict[int, int] = {}  # pid -> starttime
        self.usernames: dict[int, str] = {}
        self.collections = 0
        self.rematch = False
        self.hz = clock_ticks()
        self.pagesize = page_size()
        self.boot_time = 0
        self.rand = random.Random()  # first limits/smaps offsets of new processes (identity.py)
        self.fd_size = fd_size_is_count(settings.procfs)
        # Failed reads of a live process's files since start, by file (what a restricted agent cannot see).
        self.read_failures: dict[str, int] = {}
        # With -gpu.enabled: pid -> GPUs it holds a context on, set by gpu/monitor.py before each collection.
        self.gpu_of: dict[int, tuple[str, ...]] = {}
        # Reads abandoned after -collection.deadline/5, by file; processes waiting to be retried after one.
        self.guard = GuardedReader(settings.read_timeout)
        self.read_timeouts: dict[str, int] = {}
        self.blocked: dict[int, tuple[int, float]] = {}  # pid -> (starttime, retry after, monotonic)
        # Group admission (grouper.Grouper.admit, wired by collector.py): False refuses a new group name.
        self.admit: Callable[[str], bool] | None = None
        self.skip_logged: set[str] = set()  # kinds of failure already logged (context.Pass.skip, timed_out)
        # Does no I/O until a template uses a Kubernetes field or the collector attaches labels.
        self.attributor = Attributor(PodLogIndex(settings.pod_logs_dir, settings.container_logs_dir),
                                     settings.procfs)

    # -- rules ---------------------------------------------------------------------------------------------------
    def set_rules(self, rules: Rules) -> None:
        """Swap in new rules: the next collection re-matches every live process (tracked and ignored) while
        keeping each process's counter baselines, so only growth after the reload is added to its new group."""
        self.rules = rules
        self.rematch = True

    def username(self, uid: int) -> str:
        if uid < 0:
            return ""
        name = self.usernames.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except (KeyError, OverflowError):
                name = str(uid)
            self.usernames[uid] = name
        return name

    # -- collection ----------------------------------------------------------------------------------------------
    def collect(self) -> CollectStats:
        """Walk the procfs root once, update every tracked process; returns error counts for this collection."""
        cs = CollectStats()
        root = self.s.procfs
        if not self.boot_time:
            try:
                self.boot_time = parse_boot_time(read_file(root + "/stat", 65536))
            except (OSError, ValueError):
                self.boot_time = 0
        try:
            names = list_pids(root)
        except OSError:
            cs.failed = True
            return cs
        p = Pass(self, cs, time.monotonic(), self.collections == 0, {}, {})
        self.collections += 1
        p.rematch, self.rematch = self.rematch, False
        p.recheck = self._recheck_clock()
        p.blocked, self.blocked = self.blocked, {}
        self._walk(p, names)
        if p.unmatched:
            adopt_children(p)
        self.procs = p.procs
        self.ignored = p.ignored
        cs.tracked = len(p.procs)
        cs.ignored = len(p.ignored)
        cs.blocked = len(self.blocked)
        return cs

    def _walk(self, p: Pass, names: list[str]) -> None:
        """One stat read per PID; the fast path keeps a process that did not run as it is. The loop stays in one
        frame (no call per PID on the fast path): it runs for every PID of the node at every collection."""
        cs = p.cs
        now = p.now
        procs = p.procs
        old_procs = self.procs
        smaps = self.s.gather_smaps
        prefix = self.s.procfs + "/"
        slow = self._identify
        rematch = p.rematch
        for name in names:
            try:
                base = prefix + name
                try:
                    data = read_stat(base + "/stat")
                except OSError as e:
                    if e.errno not in GONE:
                        cs.read_errors += 1
                    continue
                h = hash(data)
                pid = int(name)
                ps = old_procs.get(pid)
                rt: int | None = None
                if ps is not None and h == ps.stat_hash and ps.nthreads == 1 and ps.runtime >= 0 and not rematch:
                    # Fast path: stat is byte for byte what it was (same identity, same counters and RSS). If the run
                    # time did not move either, the process did not run: nothing else can have changed.
                    try:
                        rt = read_runtime_ns(base + "/schedstat")
                    except (OSError, ValueError, IndexError):
                        rt = None
                    if rt == ps.runtime and now < ps.limits_due and (not smaps or now < ps.smaps_due):
                        ps.delta = ZERO
                        if ps.partial:
                            cs.partial += 1
                        procs[pid] = ps
                        continue
                slow(p, pid, base, data, h, ps, rt)
            except Exception as e:  # one odd process must never fail the collection
                self._keep_after_error(p, name, e)

    def _identify(self, p: Pass, pid: int, base: str, data: bytes, h: int, ps: ProcState | None,
                  rt: int | None) -> None:
        """Off the fast path: learn the identity from stat (`data`, its hash `h`), then refresh the known process
        `ps` (with the schedstat run time `rt` the walk read, if any) or name a new identity."""
        rp, f = split_stat(data)
        try:
            starttime = int(f[STARTTIME])
        except (IndexError, ValueError):
            p.cs.read_errors += 1
            return
        if p.blocked:
            b = p.blocked.get(pid)
            if b is not None and b[0] == starttime and p.now < b[1]:
                self.blocked[pid] = b  # its cmdline read timed out: not tried again before b[1]
                return
        if self.ignored.get(pid) == starttime:
            if p.rematch or (p.recheck is not None and p.recheck(starttime)):
                name_process(p, pid, base, data, rp, f, starttime, True, None)
            else:
                p.ignored[pid] = starttime
            return
        if ps is not None and ps.starttime == starttime:
            if p.rematch:
                name_process(p, pid, base, data, rp, f, starttime, True, ps)
            elif refresh(p, ps, base, f, False, h, rt):
                p.procs[pid] = ps
            return
        name_process(p, pid, base, data, rp, f, starttime, False, None)

    def _recheck_clock(self) -> Callable[[int], bool] | None:
        """With -recheck: which ignored processes are named again (all, or those younger than
        -recheck-with-time-limit by /proc/uptime). None without -recheck."""
        if not self.s.recheck:
            return None
        limit = self.s.recheck_time_limit
        if limit <= 0:
            return lambda starttime: True
        try:
            uptime = parse_uptime(read_file(self.s.procfs + "/uptime"))
        except (OSError, ValueError, IndexError):
            uptime = 0.0
        hz = self.hz
        return lambda starttime: uptime - starttime / hz < limit

    def _keep_after_error(self, p: Pass, name: str, e: Exception) -> None:
        """A process the walk could not understand: counted, and kept as it was (no deltas this time) when it
        was known: dropping it would count its whole life again later."""
        p.skip(name, e)
        pid = int(name)
        if pid in self.procs and pid not in p.procs:
            ps = self.procs[pid]
            ps.delta = ZERO
            ps.thread_updates = None
            p.procs[pid] = ps
        elif pid in self.ignored:
            p.ignored[pid] = self.ignored[pid]

    def timed_out(self, file: str, e: ReadTimeout, pid: int, starttime: int) -> None:
        """A guarded read gave up: count it; a read that really hung (not one refused because earlier ones are
        still stuck) puts the process aside for BLOCKED_RETRY_S."""
        self.read_timeouts[file] = self.read_timeouts.get(file, 0) + 1
        if e.strerror.startswith("no answer"):
            if "timeout" not in self.skip_logged:
                self.skip_logged.add("timeout")
                log.warning("reading %s of process %d blocked for %gs (its mmap lock is held); process skipped for "
                            "%gs, counted in process_monitor_agent_read_timeouts_total, logged once", file, pid,
                            self.guard.timeout, BLOCKED_RETRY_S)
            if starttime >= 0:
                self.blocked[pid] = (starttime, time.monotonic() + BLOCKED_RETRY_S)

    # -- GPU (-gpu.enabled) ----------------------------------------------------------------------------------
    def rematch_pids(self, pids: Iterable[int]) -> None:
        """Re-match known processes that newly hold a GPU context (called by collector.py right after `collect`
        when rules use `gpu:` or `.GPUs`): as on a reload, a tracked process may move to another group keeping
        its counter baselines, and an ignored one may become tracked from now on (baseline, no back-counting).
        A tracked process that no rule matches any more keeps its group."""
        p = Pass(self, CollectStats(), time.monotonic(), False, self.procs, self.ignored)
        root = self.s.procfs + "/"
        for pid in pids:
            base = root + str(pid)
            try:
                data = read_stat(base + "/stat")
            except OSError:
                continue
            rp, f = split_stat(data)
            try:
                starttime = int(f[STARTTIME])
            except (IndexError, ValueError):
                continue
            ps = self.procs.get(pid)
            known = ps is not None and ps.starttime == starttime
            if not known and self.ignored.get(pid) != starttime:
                continue
            try:
                attrs = attrs_of(self, pid, base, data, rp, starttime)
                group = self.rules.name_of(attrs) if attrs is not None else None
                if group is None:
                    continue
                group = self.s.limits.group_name(group)  # same bounds as a first naming (identity.py)
                if self.admit is not None and not self.admit(group):
                    continue
                if known:
                    ps.group = group
                else:
                    del self.ignored[pid]
                    track(p, pid, base, f, starttime, True, None, group)
            except Exception as e:  # see collect(): one odd process never fails the collection
                p.skip(str(pid), e)
