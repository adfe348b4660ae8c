#!/usr/bin/env python3
"""What the agent's per-process reads would cost through psutil instead of its own procfs/ parsers.

Spawns N `sleep` processes (default 2,000), then times passes over all of them reading the fields the agent reads
on every scrape of a process that ran since the last one:
  stat    utime, stime, num_threads, rss, vsize, state, starttime (and minflt/majflt: psutil has no getter)
  status  voluntary/nonvoluntary context switches
  io      read_bytes, write_bytes
  fd      the open descriptor count
  limits  the open-files limit (the agent reads it every -limits interval; here on every pass, on both sides)
once through `process_monitor_agent.procfs` (read_file + parse_*, count_fds, as track/ calls them) and once
through psutil (`Process.oneshot()` so stat and status are read once each, Process objects built before timing,
as a long-lived agent would keep them). The two sides alternate pass by pass so load on the shared machine hits
both alike. Prints ms per pass (median and min) and the psutil/procfs ratio, and checks that both read the same
thread and fd totals. Every process it starts is killed before it exits (and dies with it if it is killed).

    flock /tmp/pm-bench.lock python bench/psutil_vs_procfs.py --procs 2000 --passes 15
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import pathlib
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent"))

import psutil  # noqa: E402
from process_monitor_agent.procfs import read_file  # noqa: E402
from process_monitor_agent.procfs.fd import count_fds, fd_size_is_count  # noqa: E402
from process_monitor_agent.procfs.io import parse_io  # noqa: E402
from process_monitor_agent.procfs.limits import parse_max_open_files  # noqa: E402
from process_monitor_agent.procfs.stat import parse_stat  # noqa: E402
from process_monitor_agent.procfs.status import parse_status  # noqa: E402

_libc = ctypes.CDLL(None, use_errno=True)
SLEEP_TTL_S = 600  # the sleeps end on their own even if nothing kills them


def _die_with_parent() -> None:
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def sleepers(count: int) -> Iterator[list[int]]:
    """`count` sleeping processes, killed by PID on the way out."""
    sleep = shutil.which("sleep") or "/bin/sleep"
    popens: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            popens.append(subprocess.Popen([sleep, str(SLEEP_TTL_S)], stdin=subprocess.DEVNULL,
                                           preexec_fn=_die_with_parent))
        yield [p.pid for p in popens]
    finally:
        for p in popens:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
        for p in popens:
            p.wait(timeout=30)


def procfs_pass(pids: list[int], size_is_count: bool) -> tuple[int, int]:
    """One pass through the agent's parsers; returns (threads, fds) summed, to check both sides agree."""
    threads = fds = 0
    for pid in pids:
        base = f"/proc/{pid}"
        st = parse_stat(read_file(base + "/stat", 1024))
        parse_status(read_file(base + "/status", 8192))
        parse_io(read_file(base + "/io", 1024))
        fds += count_fds(base + "/fd", size_is_count)
        parse_max_open_files(read_file(base + "/limits", 4096))
        threads += st.num_threads
    return threads, fds


def psutil_pass(procs: list[psutil.Process]) -> tuple[int, int]:
    """The same fields through psutil (one oneshot() per process: stat and status read once each)."""
    threads = fds = 0
    for p in procs:
        with p.oneshot():
            p.cpu_times()
            p.memory_info()
            p.status()
            p.create_time()
            threads += p.num_threads()
            p.num_ctx_switches()
            p.io_counters()
            fds += p.num_fds()
            p.rlimit(psutil.RLIMIT_NOFILE)
    return threads, fds


def timed(fn: Callable[[], tuple[int, int]]) -> tuple[float, tuple[int, int]]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000.0, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=2000, help="sleeping processes to spawn (default 2000)")
    ap.add_argument("--passes", type=int, default=15, help="timed passes per side (default 15)")
    args = ap.parse_args(argv)
    if not 1 <= args.procs <= 20000 or not 1 <= args.passes <= 200:
        ap.error("--procs must be 1..20000 and --passes 1..200")
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft != resource.RLIM_INFINITY and soft < args.procs + 200:
        ap.error(f"RLIMIT_NPROC is {soft}: too low for {args.procs} processes")
    size_is_count = fd_size_is_count("/proc")
    t0 = time.monotonic()
    with sleepers(args.procs) as pids:
        print(f"spawned {len(pids)} sleep processes in {time.monotonic() - t0:.1f}s; psutil {psutil.__version__}; "
              f"fd count by st_size: {size_is_count}", flush=True)
        procs = [psutil.Process(pid) for pid in pids]
        procfs_pass(pids, size_is_count), psutil_pass(procs)  # warm the dentry cache and both code paths
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(args.passes):
            ms, a = timed(lambda: procfs_pass(pids, size_is_count))
            ours.append(ms)
            ms, b = timed(lambda: psutil_pass(procs))
            theirs.append(ms)
            if a != b:
                print(f"MISMATCH: procfs/ read (threads, fds) = {a}, psutil {b}", file=sys.stderr)
                return 1
    med_ours, med_theirs = statistics.median(ours), statistics.median(theirs)
    print(f"{args.procs} processes, {args.passes} passes each (stat, status, io, fd count, limits per process)")
    print(f"  procfs/ parsers : {med_ours:8.1f} ms/pass median, {min(ours):8.1f} min, "
          f"{med_ours * 1000 / args.procs:6.1f} us/process")
    print(f"  psutil {psutil.__version__:8} : {med_theirs:8.1f} ms/pass median, {min(theirs):8.1f} min, "
          f"{med_theirs * 1000 / args.procs:6.1f} us/process")
    print(f"  ratio psutil/procfs: {med_theirs / med_ours:.2f} (median), {min(theirs) / min(ours):.2f} (min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
