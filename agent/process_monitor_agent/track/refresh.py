"""Per-process refresh: read what can have changed for one tracked process and set its delta (`refresh`).

Called by tracker.py's walk for a known process whose stat changed, and by identity.py for a process it has just
named (new=True: everything is read, a baseline). What is read:
- `stat` (given, already split) always; for a single-threaded process also `schedstat`: when its run time did not
  move since the last collection, the process did not run, so its I/O, context switches, fds and wait channel
  cannot have changed and nothing else is read, except `status` when its RSS moved (swap-out moves RSS without
  the process running: VmSwap).
- otherwise `status`, `io`, one stat() of `fd/`, and `wchan` (with -threads, single-threaded).
- `task/*` with -threads and num_threads >= 2 (threads.py).
- `limits` at most every -limits interval (60 s), `smaps_rollup` at most every -gather-smaps.interval (5 m), both
  from a random first offset (set by identity.py) so the reads of many processes spread out.

A file of a live process that cannot be read or understood marks the process partial (it stays tracked with the
values it had: dropping it would count its whole life again later); a process that exited under us is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Counts
from ..procfs import read_file
from ..procfs.fd import count_fds
from ..procfs.guard import ReadTimeout
from ..procfs.io import parse_io
from ..procfs.limits import parse_max_open_files
from ..procfs.schedstat import read_runtime_ns
from ..procfs.smaps import parse_smaps_rollup
from ..procfs.stat import MAJFLT, MINFLT, NUM_THREADS, RSS, STATE, STIME, UTIME, VSIZE
from ..procfs.status import Status, parse_status
from ..procfs.wchan import parse_wchan
from .context import GONE
from .threads import read_threads

if TYPE_CHECKING:
    from ..model import ProcState
    from .context import Pass

NO_SCHEDSTAT = -2  # ProcState.runtime: schedstat unavailable on this kernel, never tried again


class _Gone(Exception):
    """The process exited while it was being read (caught in refresh: it is dropped)."""


def refresh(p: Pass, ps: ProcState, base: str, f: list[bytes], new: bool, stat_hash: int = -1,
            runtime: int | None = None) -> bool:
    """Read what changed for one tracked process and set its delta. False when it vanished. `f` is its split
    stat; `runtime` is the schedstat value when the walk already read it this collection."""
    s = p.t.s
    ps.stat_hash = stat_hash
    cur = ps.total
    # The stat counters as read now; the others carry over until their files are read below.
    now_c = Counts(int(f[UTIME]), int(f[STIME]), int(f[MINFLT]), int(f[MAJFLT]), cur.rb, cur.wb, cur.vcs, cur.nvcs)
    nthreads = int(f[NUM_THREADS])
    rss = int(f[RSS]) * p.t.pagesize
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
        idle = _did_not_run(ps, base, runtime)
    elif not with_threads:
        ps.threads = ps.states = ps.wchans = None
        ps.runtime = -1
    partial = False
    had_threads = ps.threads is not None
    switches: tuple[int, int] | None = None  # the threads' context switch growth, which replaces the process's
    if with_threads:
        ok, all_idle, switches = read_threads(p.t, ps, base)
        if not ok:
            partial = True
            p.fail("task")
        idle = all_idle and ok and not new
    try:
        if idle and not new:
            partial = ps.partial
            if rss_moved:
                _refresh_swap(ps, base)
        else:
            partial = _read_changed(p, ps, base, now_c, with_threads) or partial
        partial = _read_rare(p, ps, base, new) or partial
    except _Gone:
        return False
    delta = now_c.since(cur)
    if with_threads and had_threads:
        # With thread data the process's context switches are its threads' (status holds the main thread's).
        delta.vcs, delta.nvcs = switches or (0, 0)
    ps.total, ps.delta = now_c, delta
    ps.partial = partial
    if partial:
        p.cs.partial += 1
    return True


def _did_not_run(ps: ProcState, base: str, runtime: int | None) -> bool:
    """Read (or take the walk's) schedstat run time of a single-threaded process: True when it did not move."""
    if ps.runtime == NO_SCHEDSTAT:
        return False
    if runtime is not None:
        rt = runtime
    else:
        try:
            rt = read_runtime_ns(base + "/schedstat")
        except (OSError, ValueError, IndexError):
            rt = NO_SCHEDSTAT
    idle = rt == ps.runtime and rt >= 0
    ps.runtime = rt
    return idle


def _refresh_swap(ps: ProcState, base: str) -> None:
    """A process that did not run but whose RSS moved: swap-out. Refresh VmSwap only."""
    try:
        ps.swap = parse_status(read_file(base + "/status", 8192)).vmswap_bytes
    except (OSError, ValueError) as e:
        if getattr(e, "errno", None) in GONE:
            raise _Gone from None


def _read_changed(p: Pass, ps: ProcState, base: str, now_c: Counts, with_threads: bool) -> bool:
    """A process that ran: status (swap, context switches into now_c), io (bytes into now_c), the fd count and,
    with -threads, its wait channel. Returns whether a read failed (partial); raises _Gone."""
    partial = False
    try:
        st = parse_status(read_file(base + "/status", 8192))
    except (OSError, ValueError) as e:
        if getattr(e, "errno", None) in GONE:
            raise _Gone from None
        # Unreadable or malformed (FileTooLarge included): a failed process read, but the process stays
        # tracked with its status values unchanged; dropping it would count its whole life again later.
        p.cs.read_errors += 1
        p.fail("status")
        st = Status(-1, ps.swap, now_c.vcs, now_c.nvcs)
    ps.swap = st.vmswap_bytes
    if st.voluntary_ctxt_switches < 0 or st.nonvoluntary_ctxt_switches < 0:  # cut short: keep the baselines
        p.cs.read_errors += 1
        p.fail("status")
    else:
        now_c.vcs, now_c.nvcs = st.voluntary_ctxt_switches, st.nonvoluntary_ctxt_switches
    try:
        now_c.rb, now_c.wb = parse_io(read_file(base + "/io", 1024))
    except (OSError, ValueError) as e:
        if getattr(e, "errno", None) in GONE:
            raise _Gone from None
        partial = True
        p.fail("io")
    try:
        ps.fds = count_fds(base + "/fd", p.t.fd_size)
    except OSError as e:
        if e.errno in GONE:
            raise _Gone from None
        ps.fds = -1
        partial = True
        p.fail("fd")
    if p.t.s.threads and not with_threads:
        try:
            ps.wchan = parse_wchan(read_file(base + "/wchan", 256))
        except OSError:
            ps.wchan = ""
            partial = True
            p.fail("wchan")
    return partial


def _read_rare(p: Pass, ps: ProcState, base: str, new: bool) -> bool:
    """limits and smaps_rollup, when due (always for a new process). Returns whether a read failed."""
    s = p.t.s
    now = p.now
    partial = False
    if now >= ps.limits_due or new:
        if not new:
            ps.limits_due = now + s.limits_interval
        try:
            ps.fd_limit = parse_max_open_files(read_file(base + "/limits", 4096))
        except (OSError, ValueError):
            ps.fd_limit = 0
            partial = True
            p.fail("limits")
    if s.gather_smaps and (new or now >= ps.smaps_due):
        if not new:
            ps.smaps_due = now + s.smaps_interval
        try:
            ps.pss, ps.swappss = parse_smaps_rollup(p.t.guard.read(base + "/smaps_rollup", 4096, 1 << 20))
        except ReadTimeout as e:
            p.t.timed_out("smaps_rollup", e, ps.pid, -1)
            partial = True
        except (OSError, ValueError):
            partial = True
            p.fail("smaps_rollup")
    return partial
