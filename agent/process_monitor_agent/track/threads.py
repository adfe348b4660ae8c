"""Thread accounting of a multi-threaded tracked process (`read_threads`): per-thread deltas, states, wchans.

Called by refresh.py only with -threads and num_threads >= 2. Reads `task/*`: stat and schedstat per thread, plus
status, io and wchan for the threads that ran (an unchanged schedstat run time proves a thread did not). The
per-thread deltas become ProcState.thread_updates, which grouper.py folds into per-thread-name counters; their
context switches, summed, replace the process's (its status only counts the main thread's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import STATE_INDEX, ZERO, Counts, ThreadState
from ..procfs import read_file
from ..procfs.io import parse_io
from ..procfs.schedstat import read_runtime_ns
from ..procfs.stat import MAJFLT, MINFLT, STATE, STIME, UTIME, read_stat, split_stat
from ..procfs.status import parse_status
from ..procfs.task import list_tids
from ..procfs.wchan import parse_wchan

if TYPE_CHECKING:
    from ..limits import Limits
    from ..model import ProcState
    from .tracker import Tracker


def read_threads(t: Tracker, ps: ProcState, base: str) -> tuple[bool, bool, tuple[int, int] | None]:
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
    updates: list[tuple[str, Counts]] = []
    ok = True
    all_idle = had and len(tids) == len(old)
    d_vcs = d_nvcs = 0
    limits = t.s.limits
    # A comm is at most 64 bytes on Linux; the check only costs a comparison unless a name could be too long.
    name_bytes = limits.name_length // 4 if limits.name_length else 1 << 62
    for name in tids:
        tid = int(name)
        tb = task + name
        try:
            data = read_stat(tb + "/stat")
        except OSError:
            continue  # thread exited between listing and reading
        ts = old.get(tid) if had else None
        fresh = ts is None
        if fresh:
            ts = ThreadState()
        # A thread seen for the first time in a process we already had thread data for was born since the
        # last collection: its whole life counts. Otherwise (first look at this process) it is a baseline.
        ran, t_ok, delta = _read_thread(tb, data, ts, fresh, fresh and not had, limits, name_bytes)
        if ran:
            all_idle = False
            ok = t_ok and ok
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


def _read_thread(tb: str, data: bytes, ts: ThreadState, fresh: bool, baseline: bool, limits: Limits,
                 name_bytes: int) -> tuple[bool, bool, Counts]:
    """One thread from its stat `data` (and, when it ran, its other files) into `ts`. Returns (it ran, no read
    failed, its delta: ZERO for a baseline)."""
    rp, f = split_stat(data)
    lp = data.find(b"(") + 1
    ts.name = data[lp:rp].decode("utf-8", "replace")
    if rp - lp > name_bytes:
        ts.name = limits.thread_name(ts.name)
    ts.state = f[STATE].decode()
    cur = ts.total
    now_c = Counts(int(f[UTIME]), int(f[STIME]), int(f[MINFLT]), int(f[MAJFLT]), cur.rb, cur.wb, cur.vcs, cur.nvcs)
    try:
        rt = read_runtime_ns(tb + "/schedstat")
    except (OSError, ValueError, IndexError):
        rt = -1
    ran = fresh or rt < 0 or rt != ts.runtime
    ts.runtime = rt
    ok = _read_ran(tb, ts, now_c) if ran else True
    ts.total = now_c
    return ran, ok, (ZERO if baseline else now_c.since(cur))


def _read_ran(tb: str, ts: ThreadState, now_c: Counts) -> bool:
    """status (context switches), io (bytes) into now_c and the wait channel of a thread that ran. Returns
    False when a read failed (the counter keeps its baseline)."""
    ok = True
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
    return ok
