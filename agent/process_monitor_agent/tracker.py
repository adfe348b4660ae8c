"""Per-process state across collections: identity, group choice, deltas, ignore list, children attribution.

Called by collector.py once per collection (`Tracker.collect`). Processes are identified by (pid, starttime), as
process-exporter does. For each identity the tracker caches what cannot change for it (comm, cmdline, username,
cgroups are read once to choose the group; the group is then fixed) and keeps the last raw counters so that each
collection yields per-process deltas, which grouper.py adds into per-group accumulators.

What is read, per collection (the cost of the agent is here):
- every PID: `stat` only (to learn the identity). Ignored processes stop there.
- a tracked process: `stat`; for a single-threaded one also `schedstat`, and when its run time did not move since
  the last collection (it did not run, so its I/O, context switches, fds and wait channel cannot have changed)
  nothing else, except `status` when its RSS moved (VmSwap); otherwise `status`, `io`, one stat() of `fd/`, and
  `wchan` (with -threads). `limits` at most every `limits_interval` seconds (default 60), `smaps_rollup` at most
  every -gather-smaps.interval (default 5m), both with a random first offset so the reads spread out.
- `task/*` only with -threads and num_threads >= 2 (stat and schedstat per thread, plus status/io/wchan for the
  threads that ran).
- a new process: `cmdline` when a rule needs it, `status` early when a template uses .Username, `cgroup` only
  when a template uses .Cgroups or a Kubernetes field, or -kubernetes.labels is on (kube/attribution.py).
State of exited and ignored PIDs is dropped on the next collection that does not list them, so memory follows the
live process count.

Hostile input (any tenant controls its processes' files): one process whose files are malformed, truncated, too
large or not files is skipped and counted (namedprocess_scrape_procread_errors), never an exception out of
`collect`; the children pass is iterative and visits each process once; cmdline and smaps_rollup, which can block
on the target's mmap lock, are read with a timeout (procfs/guard.py) and a process whose cmdline hung is put aside
(`blocked`) for BLOCKED_RETRY_S; group names are cut and new groups admitted through limits.py/grouper.py.
"""

from __future__ import annotations

import errno
import pwd
import random
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .kube.attribution import Attributor
from .kube.podlogs import PodLogIndex
from .limits import CMDLINE_LIMIT, Limits
from .log import log
from .model import STATE_INDEX, ZERO, Counts, ProcState, ThreadState
from .procfs import read_file, read_file_all
from .procfs.cgroup import parse_cgroup
from .procfs.cmdline import parse_cmdline
from .procfs.fd import count_fds, fd_size_is_count
from .procfs.guard import GuardedReader, ReadTimeout
from .procfs.io import parse_io
from .procfs.limits import parse_max_open_files
from .procfs.schedstat import read_runtime_ns
from .procfs.smaps import parse_smaps_rollup
from .procfs.stat import (
    MAJFLT,
    MINFLT,
    NUM_THREADS,
    PPID,
    RSS,
    STARTTIME,
    STATE,
    STIME,
    UTIME,
    VSIZE,
    comm_of,
    read_stat,
    split_stat,
)
from .procfs.status import Status, parse_status
from .procfs.system import clock_ticks, list_pids, page_size, parse_boot_time
from .procfs.task import list_tids
from .procfs.wchan import parse_wchan
from .rules import ProcAttrs, Rules

if TYPE_CHECKING:
    from collections.abc import Callable

_GONE = (errno.ENOENT, errno.ESRCH)
# A process whose cmdline read timed out is not read again for this long (it is counted as blocked meanwhile).
BLOCKED_RETRY_S = 60.0


class Settings:
    """Tracker options, from the command line."""

    __slots__ = (
        "children",
        "container_logs_dir",
        "gather_smaps",
        "kube_labels",
        "limits",
        "limits_interval",
        "pod_logs_dir",
        "procfs",
        "read_timeout",
        "recheck",
        "recheck_time_limit",
        "smaps_interval",
        "threads",
    )

    def __init__(
        self,
        procfs: str = "/proc",
        children: bool = True,
        threads: bool = True,
        gather_smaps: bool = True,
        smaps_interval: float = 300.0,
        recheck: bool = False,
        recheck_time_limit: float = 0.0,
        limits_interval: float = 60.0,
        limits: Limits | None = None,
        read_timeout: float = 0.0,
        kube_labels: bool = False,
        pod_logs_dir: str = "/var/log/pods",
        container_logs_dir: str = "/var/log/containers",
    ) -> None:
        self.procfs = procfs.rstrip("/") or "/"
        self.children = children
        self.threads = threads
        self.gather_smaps = gather_smaps
        self.smaps_interval = smaps_interval
        self.recheck = recheck or recheck_time_limit > 0
        self.recheck_time_limit = recheck_time_limit
        self.limits_interval = limits_interval
        self.limits = limits or Limits()
        # Timeout of each cmdline/smaps_rollup read (procfs/guard.py); 0: read in the collecting thread.
        self.read_timeout = read_timeout
        # Kubernetes attribution (kube/): labels on every series, and where the kubelet's log directories are.
        self.kube_labels = kube_labels
        self.pod_logs_dir = pod_logs_dir
        self.container_logs_dir = container_logs_dir


class CollectStats:
    """Error counts and sizes of one collection."""

    __slots__ = ("blocked", "failed", "ignored", "new", "partial", "read_errors", "tracked")

    def __init__(self) -> None:
        self.failed = False
        self.partial = self.read_errors = self.new = self.tracked = self.ignored = self.blocked = 0


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
        self._rand = random.Random()
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
        self._skip_logged: set[str] = set()
        self._ignored_now: dict[int, int] = {}
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
        first = self.collections == 0
        self.collections += 1
        rematch = self.rematch
        self.rematch = False
        now = time.monotonic()
        old_procs = self.procs
        old_ignored = self.ignored
        procs: dict[int, ProcState] = {}
        ignored: dict[int, int] = {}
        recheck = self.s.recheck
        limit = self.s.recheck_time_limit
        hz = self.hz
        uptime = 0.0
        if recheck and limit > 0:
            try:
                uptime = float(read_file(root + "/uptime").split()[0])
            except (OSError, ValueError, IndexError):
                uptime = 0.0
        fill = self._fill
        smaps = self.s.gather_smaps
        prefix = root + "/"
        # Unmatched new identities, kept small for the children pass: pid -> (ppid, starttime, seen_before, old)
        unmatched: dict[int, tuple] = {}
        self._ignored_now = ignored  # _fresh puts processes refused by the group limit here
        blocked, self.blocked = self.blocked, {}
        for name in names:
            try:
                pid = int(name)
                base = prefix + name
                try:
                    data = read_stat(base + "/stat")
                except OSError as e:
                    if e.errno not in _GONE:
                        cs.read_errors += 1
                    continue
                h = hash(data)
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
                rp, f = split_stat(data)
                try:
                    starttime = int(f[STARTTIME])
                except (IndexError, ValueError):
                    cs.read_errors += 1
                    continue
                if blocked:
                    b = blocked.get(pid)
                    if b is not None and b[0] == starttime and now < b[1]:
                        self.blocked[pid] = b  # its cmdline read timed out: not tried again before b[1]
                        continue
                if old_ignored.get(pid) == starttime:
                    if rematch or (recheck and (limit <= 0 or uptime - starttime / hz < limit)):
                        self._fresh(pid, base, data, rp, f, starttime, True, None, procs, unmatched, first, now, cs)
                    else:
                        ignored[pid] = starttime
                    continue
                if ps is not None and ps.starttime == starttime:
                    if rematch:
                        self._fresh(pid, base, data, rp, f, starttime, True, ps, procs, unmatched, first, now, cs)
                    elif fill(ps, base, f, now, cs, False, h, rt):
                        procs[pid] = ps
                    continue
                self._fresh(pid, base, data, rp, f, starttime, False, None, procs, unmatched, first, now, cs)
            except Exception as e:  # one odd process must never fail the collection
                self._skip(name, e, cs)
                pid = int(name)
                if pid in old_procs and pid not in procs:
                    # Keep its state (no deltas this time): dropping it would count its whole life again later.
                    ps = old_procs[pid]
                    ps.delta = ZERO
                    ps.thread_updates = None
                    procs[pid] = ps
                elif pid in old_ignored:
                    ignored[pid] = old_ignored[pid]
        if unmatched:
            self._children(unmatched, procs, ignored, first, now, cs)
        self.procs = procs
        self.ignored = ignored
        cs.tracked = len(procs)
        cs.ignored = len(ignored)
        cs.blocked = len(self.blocked)
        return cs

    def _skip(self, name: str, e: Exception, cs: CollectStats) -> None:
        """One process's files could not be understood (malformed, truncated, too large): count it in
        namedprocess_scrape_procread_errors and log once per kind of failure, with a bounded message."""
        cs.read_errors += 1
        kind = type(e).__name__
        if kind not in self._skip_logged and len(self._skip_logged) < 64:
            self._skip_logged.add(kind)
            log.warning("process %s skipped (%s: %s); counted in namedprocess_scrape_procread_errors, logged once "
                        "per kind", name, kind, str(e)[:300])

    def _fresh(
        self,
        pid: int,
        base: str,
        data: bytes,
        rp: int,
        f: list[bytes],
        starttime: int,
        seen_before: bool,
        old: ProcState | None,
        procs: dict[int, ProcState],
        unmatched: dict[int, tuple],
        first: bool,
        now: float,
        cs: CollectStats,
    ) -> None:
        """Name a new identity (or, on recheck/reload, a known one): track it, or keep it for the children pass."""
        attrs = self._attrs(pid, base, data, rp, starttime)
        if attrs is None:
            return
        group = self.rules.name_of(attrs)
        if log.is_debug():
            log.debug("process %d %r %r: %s", pid, attrs.comm[:200], attrs.joined[:200],
                      f"group {group[:200]!r}" if group is not None else "no rule matched")
        if group is None:
            unmatched[pid] = (int(f[PPID]), starttime, seen_before, old)
            return
        group = self.s.limits.group_name(group)
        if self.admit is not None and not self.admit(group):
            self._ignored_now[pid] = starttime  # -limit.groups reached: counted by the grouper
            return
        self._track(pid, base, f, starttime, seen_before, old, group, procs, first, now, cs)

    def _children(
        self,
        unmatched: dict[int, tuple],
        procs: dict[int, ProcState],
        ignored: dict[int, int],
        first: bool,
        now: float,
        cs: CollectStats,
    ) -> None:
        """Children pass (process-exporter's checkAncestry): an unmatched process joins the group of its nearest
        tracked ancestor; the walk stops at an ignored or unknown parent. Everything else is ignored."""
        if not self.s.children:
            for pid, item in unmatched.items():
                ignored[pid] = item[1]
            return
        # Iterative and memoized: each unmatched process is visited once, however long the chain (PID wrap-around
        # and any user can make chains of thousands); a cycle or a self-parent ends the walk with no group.
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
            for p in path:
                memo[p] = g

        root = self.s.procfs + "/"
        for pid, (_ppid, starttime, seen_before, old) in unmatched.items():
            g = memo[pid]
            if g is None:
                ignored[pid] = starttime
                continue
            base = root + str(pid)
            try:
                f = split_stat(read_stat(base + "/stat"))[1]
                if int(f[STARTTIME]) != starttime:
                    continue  # exited and the PID was reused within this collection: next one sees it
                self._track(pid, base, f, starttime, seen_before, old, g, procs, first, now, cs)
            except OSError:
                continue
            except Exception as e:  # see collect()
                self._skip(str(pid), e, cs)

    def _attrs(self, pid: int, base: str, data: bytes, rp: int, starttime: int) -> ProcAttrs | None:
        rules = self.rules
        comm = comm_of(data, rp)
        cmdline: list[str] = []
        if rules.needs_cmdline:
            try:
                raw, cut = self.guard.read_all(base + "/cmdline", 8192, CMDLINE_LIMIT)
            except ReadTimeout as e:
                self._timed_out("cmdline", e, pid, starttime)
                return None
            except OSError:
                return None
            if cut:
                self.s.limits.hits["cmdline_size"] += 1
            cmdline = parse_cmdline(raw)
        attrs = ProcAttrs(comm, cmdline, pid, self.boot_time + starttime / self.hz)
        if rules.needs_username:
            try:
                attrs.username = self.username(parse_status(read_file(base + "/status", 8192)).euid)
            except OSError:
                return None  # gone, or unreadable: tried again next collection
            # (a malformed status raises ValueError: the process is skipped and counted by collect())
        if rules.needs_cgroups:
            try:
                attrs.cgroups = parse_cgroup(read_file_all(base + "/cgroup")[0])
            except OSError:
                attrs.cgroups = []
        if rules.needs_gpu:
            attrs.gpus = self.gpu_of.get(pid, ())
        if rules.needs_kube:
            old = self.procs.get(pid)
            if old is not None and old.starttime == starttime and old.kube is not None:
                attrs.kube = old.kube  # re-match on reload: the cgroup was read once for this identity
            else:
                cgroups = attrs.cgroups if rules.needs_cgroups else None
                attrs.kube_source = lambda: self.attributor.lookup(pid, starttime, base, cgroups)
        return attrs

    def _timed_out(self, file: str, e: ReadTimeout, pid: int, starttime: int) -> None:
        """A guarded read gave up: count it; a read that really hung (not one refused because earlier ones are
        still stuck) puts the process aside for BLOCKED_RETRY_S."""
        self.read_timeouts[file] = self.read_timeouts.get(file, 0) + 1
        if e.strerror.startswith("no answer"):
            if "timeout" not in self._skip_logged:
                self._skip_logged.add("timeout")
                log.warning("reading %s of process %d blocked for %gs (its mmap lock is held); process skipped for "
                            "%gs, counted in process_monitor_agent_read_timeouts_total, logged once", file, pid,
                            self.guard.timeout, BLOCKED_RETRY_S)
            if starttime >= 0:
                self.blocked[pid] = (starttime, time.monotonic() + BLOCKED_RETRY_S)

    def _track(
        self,
        pid: int,
        base: str,
        f: list[bytes],
        starttime: int,
        seen_before: bool,
        old: ProcState | None,
        group: str,
        procs: dict[int, ProcState],
        first: bool,
        now: float,
        cs: CollectStats,
    ) -> None:
        if old is not None:
            # Reload: same process, maybe a new group; counters continue from the old baselines.
            old.group = group
            if self._fill(old, base, f, now, cs, False):
                procs[pid] = old
            return
        ps = ProcState(pid, starttime, group)
        ps.start_sec = self.boot_time + starttime // self.hz
        rnd = self._rand.random()
        ps.limits_due = now + rnd * self.s.limits_interval
        ps.smaps_due = now + rnd * self.s.smaps_interval
        # Baseline for a process that existed before (at start-up, or on recheck/reload); a process born since
        # the previous collection contributes its whole life, as process-exporter does.
        whole_life = not first and not seen_before
        if not self._fill(ps, base, f, now, cs, True):
            return
        if not whole_life:
            ps.delta = ZERO
            if ps.thread_updates:
                ps.thread_updates = [(name, ZERO) for name, _ in ps.thread_updates]
        cs.new += 1
        procs[pid] = ps

    def _fill(
        self,
        ps: ProcState,
        base: str,
        f: list[bytes],
        now: float,
        cs: CollectStats,
        new: bool,
        stat_hash: int = -1,
        runtime: int | None = None,
    ) -> bool:
        """Read what changed for one tracked process and set its deltas. False when it vanished/failed.
        `runtime` is the schedstat value when the caller already read it this collection."""
        s = self.s
        ps.stat_hash = stat_hash
        fails = self.read_failures
        cur = ps.total
        # The stat counters as read now; the others carry over until their files are read below.
        now_c = Counts(int(f[UTIME]), int(f[STIME]), int(f[MINFLT]), int(f[MAJFLT]), cur.rb, cur.wb, cur.vcs, cur.nvcs)
        nthreads = int(f[NUM_THREADS])
        rss = int(f[RSS]) * self.pagesize
        ps.vsize = int(f[VSIZE])
        ps.state = f[STATE].decode()
        ps.nthreads = nthreads
        rss_moved = rss != ps.rss
        ps.rss = rss
        ps.thread_updates = None
        with_threads = s.threads and nthreads >= 2
        idle = False
        if nthreads == 1:
            ps.threads = ps.states = ps.wchans = None
            if ps.runtime != -2:  # -2: schedstat unavailable on this kernel, never try again
                if runtime is not None:
                    rt = runtime
                else:
                    try:
                        rt = read_runtime_ns(base + "/schedstat")
                    except (OSError, ValueError, IndexError):
                        rt = -2
                idle = rt == ps.runtime and rt >= 0
                ps.runtime = rt
        elif not with_threads:
            ps.threads = ps.states = ps.wchans = None
            ps.runtime = -1
        partial = False
        had_threads = ps.threads is not None
        switches: tuple[int, int] | None = None  # the threads' context switch growth, which replaces the process's
        if with_threads:
            ok, all_idle, switches = self._threads(ps, base, new)
            if not ok:
                partial = True
                fails["task"] = fails.get("task", 0) + 1
            idle = all_idle and ok and not new
        if idle and not new:
            partial = ps.partial
            if rss_moved:
                # Swap-out moves RSS without the process running: refresh VmSwap only.
                try:
                    ps.swap = parse_status(read_file(base + "/status", 8192)).vmswap_bytes
                except (OSError, ValueError) as e:
                    if getattr(e, "errno", None) in _GONE:
                        return False
        else:
            try:
                st = parse_status(read_file(base + "/status", 8192))
            except (OSError, ValueError) as e:
                if getattr(e, "errno", None) in _GONE:
                    return False
                # Unreadable or malformed (FileTooLarge included): a failed process read, but the process stays
                # tracked with its status values unchanged; dropping it would count its whole life again later.
                cs.read_errors += 1
                fails["status"] = fails.get("status", 0) + 1
                st = Status(-1, ps.swap, cur.vcs, cur.nvcs)
            ps.swap = st.vmswap_bytes
            v, nv = st.voluntary_ctxt_switches, st.nonvoluntary_ctxt_switches
            if v < 0 or nv < 0:  # cut short: keep the baselines
                cs.read_errors += 1
                fails["status"] = fails.get("status", 0) + 1
                v, nv = cur.vcs, cur.nvcs
            now_c.vcs, now_c.nvcs = v, nv
            try:
                now_c.rb, now_c.wb = parse_io(read_file(base + "/io", 1024))
            except (OSError, ValueError) as e:
                if getattr(e, "errno", None) in _GONE:
                    return False
                partial = True
                fails["io"] = fails.get("io", 0) + 1
            try:
                ps.fds = count_fds(base + "/fd", self.fd_size)
            except OSError as e:
                if e.errno in _GONE:
                    return False
                ps.fds = -1
                partial = True
                fails["fd"] = fails.get("fd", 0) + 1
            if s.threads and not with_threads:
                try:
                    ps.wchan = parse_wchan(read_file(base + "/wchan", 256))
                except OSError:
                    ps.wchan = ""
                    partial = True
                    fails["wchan"] = fails.get("wchan", 0) + 1
        if now >= ps.limits_due or new:
            if not new:
                ps.limits_due = now + s.limits_interval
            try:
                ps.fd_limit = parse_max_open_files(read_file(base + "/limits", 4096))
            except (OSError, ValueError):
                ps.fd_limit = 0
                partial = True
                fails["limits"] = fails.get("limits", 0) + 1
        if s.gather_smaps and (new or now >= ps.smaps_due):
            if not new:
                ps.smaps_due = now + s.smaps_interval
            try:
                ps.pss, ps.swappss = parse_smaps_rollup(self.guard.read(base + "/smaps_rollup", 4096, 1 << 20))
            except ReadTimeout as e:
                self._timed_out("smaps_rollup", e, ps.pid, -1)
                partial = True
            except (OSError, ValueError):
                partial = True
                fails["smaps_rollup"] = fails.get("smaps_rollup", 0) + 1
        delta = now_c.since(cur)
        if with_threads and had_threads:
            # With thread data the process's context switches are its threads' (status holds the main thread's).
            delta.vcs, delta.nvcs = switches or (0, 0)
        ps.total, ps.delta = now_c, delta
        ps.partial = partial
        if partial:
            cs.partial += 1
        return True

    def _threads(self, ps: ProcState, base: str, new: bool) -> tuple[bool, bool, tuple[int, int] | None]:
        """Read task/* of a multi-threaded process. Returns (ok, all threads idle and same thread set, the sum of
        the threads' (voluntary, nonvoluntary) context switch growth, or None at a first look)."""
        task = base + "/task/"
        try:
            tids = list_tids(task)
        except OSError:
            ps.threads = ps.states = ps.wchans = None
            return False, False, None
        old = ps.threads
        had = old is not None
        threads: dict[int, ThreadState] = {}
        states = [0, 0, 0, 0, 0]
        wchans: dict[str, int] = {}
        updates = []
        ok = True
        all_idle = had and len(tids) == len(old)
        d_vcs = d_nvcs = 0
        limits = self.s.limits
        # A comm is at most 64 bytes on Linux; the check only costs a comparison unless a name could be too long.
        name_bytes = limits.name_length // 4 if limits.name_length else 1 << 62
        for t in tids:
            tid = int(t)
            tb = task + t
            try:
                data = read_stat(tb + "/stat")
            except OSError:
                continue  # thread exited between listing and reading
            rp, f = split_stat(data)
            ts = old.get(tid) if had else None
            fresh = ts is None
            if fresh:
                ts = ThreadState()
                all_idle = False
            lp = data.find(b"(") + 1
            ts.name = data[lp:rp].decode("utf-8", "replace")
            if rp - lp > name_bytes:
                ts.name = limits.thread_name(ts.name)
            ts.state = f[STATE].decode()
            cur = ts.total
            now_c = Counts(int(f[UTIME]), int(f[STIME]), int(f[MINFLT]), int(f[MAJFLT]), cur.rb, cur.wb, cur.vcs,
                           cur.nvcs)
            try:
                rt = read_runtime_ns(tb + "/schedstat")
            except (OSError, ValueError, IndexError):
                rt = -1
            t_idle = not fresh and rt >= 0 and rt == ts.runtime
            ts.runtime = rt
            if not t_idle:
                all_idle = False
                try:
                    sts = parse_status(read_file(tb + "/status", 8192))
                    if sts.voluntary_ctxt_switches >= 0 and sts.nonvoluntary_ctxt_switches >= 0:
                        now_c.vcs, now_c.nvcs = sts.voluntary_ctxt_switches, sts.nonvoluntary_ctxt_switches
                    else:
                        ok = False
                except (OSError, ValueError):
                    ok = False
                try:
                    now_c.rb, now_c.wb = parse_io(read_file(tb + "/io", 1024))
                except (OSError, ValueError):
                    ok = False
                try:
                    ts.wchan = parse_wchan(read_file(tb + "/wchan", 256))
                except OSError:
                    ts.wchan = ""
                    ok = False
            # A thread seen for the first time in a process we already had thread data for was born since the
            # last collection: its whole life counts. Otherwise (first look at this process) it is a baseline.
            delta = ZERO if fresh and not had else now_c.since(cur)
            ts.total = now_c
            d_vcs += delta.vcs
            d_nvcs += delta.nvcs
            threads[tid] = ts
            states[STATE_INDEX.get(ts.state, 4)] += 1
            if ts.wchan:
                wchans[ts.wchan] = wchans.get(ts.wchan, 0) + 1
            updates.append((ts.name, delta))
        ps.threads = threads
        ps.states = states
        ps.wchans = wchans
        ps.thread_updates = updates
        return ok, all_idle, ((d_vcs, d_nvcs) if had else None)

    # -- GPU (-gpu.enabled) ----------------------------------------------------------------------------------
    def rematch_pids(self, pids: Iterable[int]) -> None:
        """Re-match known processes that newly hold a GPU context (called by collector.py right after `collect`
        when rules use `gpu:` or `.GPUs`): as on a reload, a tracked process may move to another group keeping
        its counter baselines, and an ignored one may become tracked from now on (baseline, no back-counting).
        A tracked process that no rule matches any more keeps its group."""
        cs = CollectStats()
        now = time.monotonic()
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
                attrs = self._attrs(pid, base, data, rp, starttime)
                group = self.rules.name_of(attrs) if attrs is not None else None
                if group is None:
                    continue
                group = self.s.limits.group_name(group)  # same bounds as a first naming (see _fresh)
                if self.admit is not None and not self.admit(group):
                    continue
                if known:
                    ps.group = group
                else:
                    del self.ignored[pid]
                    self._track(pid, base, f, starttime, True, None, group, self.procs, False, now, cs)
            except Exception as e:  # see collect(): one odd process never fails the collection
                self._skip(str(pid), e, cs)
