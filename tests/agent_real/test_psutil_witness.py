"""psutil as an independent witness: the agent's per-group CPU seconds, resident memory, thread count and open
file descriptors against psutil's reading of the same processes, on the real /proc.

psutil parses /proc with its own code (threads from `status`, RSS from `statm`, fds by listing `fd/`), so a
parser slip of ours (a wrong stat offset, a unit error, a member summed twice or left out) shows up here even
where process-exporter would agree with us for the same reason.

The processes are started here with known properties: an idle group of two python workers (5 and 3 threads,
7 and 2 extra open files, each burned 0.2 s of CPU before it reported ready) and a busy group, `yes` writing to
/dev/null, which burns CPU in user and system mode all through the scrape (RLIMIT_CPU makes the kernel kill it
after BUSY_CPU_LIMIT_S CPU seconds, and it dies with the test process, so a stuck test cannot leave it
spinning). All are born after the agent started, so the agent counts their whole lifetime (the rule
test_counters.py checks) and the totals compare with psutil's.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest
from harness import exporters, realprocs
from harness import exposition as ex

from agent_real.conftest import require, unique_prefix

pytestmark = [pytest.mark.realproc, pytest.mark.timeout(300)]

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = 1.0 / os.sysconf("SC_CLK_TCK")
# The agent and psutil both turn clock ticks into seconds and the agent prints floats: allow one tick per member
# and mode for rounding, nothing more (the values come from the same kernel counters).
CPU_SLACK_PER_MEMBER = TICK
# Resident memory: the agent reads /proc/<pid>/stat's rss, as process-exporter does; psutil reads statm. Since the
# kernel keeps a process's RSS in per-CPU counters, stat reads the approximate global count while statm and status
# sum the CPUs precisely (Linux 6.18 here: a `yes` shows 403 pages in stat and 431 in statm, steadily). Each CPU can
# hold up to `batch` = max(32, 2 * CPUs) pages not yet folded in, for each of the three counters (anon, file,
# shmem), so that bound per member is the tolerance beyond psutil's [before, after] range: 192 pages (768 KiB) on
# 2 CPUs, well under one idle python worker (~3,800 pages), so a member left out or a unit slip still fails. (On a
# machine with many CPUs the kernel's own imprecision, and with it this bound, grows.)
CPUS = os.cpu_count() or 1
RSS_SLACK_PAGES_PER_MEMBER = 3 * CPUS * max(32, 2 * CPUS)
BUSY_CPU_LIMIT_S = 20  # RLIMIT_CPU of the busy process: the kernel kills it after this much CPU
IDLE_SHAPES = ({"threads": 5, "files": 7}, {"threads": 3, "files": 2})
IDLE_BURN_S = 0.2


@dataclass(frozen=True)
class Reading:
    """psutil's view of one group's members, summed."""

    user: float
    system: float
    rss: int
    threads: int
    fds: int


def read(pids: list[int]) -> Reading:
    ps = [psutil.Process(pid) for pid in pids]
    times = [p.cpu_times() for p in ps]
    return Reading(
        user=sum(t.user for t in times),
        system=sum(t.system for t in times),
        rss=sum(p.memory_info().rss for p in ps),
        threads=sum(p.num_threads() for p in ps),
        fds=sum(p.num_fds() for p in ps),
    )


@dataclass
class Witnessed:
    idle: str
    busy: str
    members: dict[str, list[int]]
    before: dict[str, Reading]  # psutil just before the scrape
    after: dict[str, Reading]  # psutil just after it
    per_member_fds: list[int]  # psutil num_fds of each idle worker, in IDLE_SHAPES order
    samples: list[ex.Sample]


def _limit_cpu() -> None:
    realprocs.die_with_parent()
    resource.setrlimit(resource.RLIMIT_CPU, (BUSY_CPU_LIMIT_S, BUSY_CPU_LIMIT_S))


@pytest.fixture(scope="module")
def witnessed(procset: realprocs.ProcSet) -> Iterator[Witnessed]:
    impl = require(exporters.AGENT)
    p = unique_prefix()
    idle, busy = f"{p}-idle", f"{p}-busy"
    config = exporters.write_config(procset.workdir / "psutil.yaml", [{"name": "{{.Comm}}", "comm": [idle, busy]}])
    yes = procset.link(busy, target=yes_binary())
    with exporters.Exporter(impl, ["-config.path", str(config)], procset.workdir) as agent, \
            contextlib.ExitStack() as stack:
        time.sleep(0.2)  # born clearly after the agent's start, so their whole lifetime counts
        workers = [procset.worker(idle, burn=IDLE_BURN_S, **shape) for shape in IDLE_SHAPES]
        burner = subprocess.Popen([str(yes)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  start_new_session=True, preexec_fn=_limit_cpu)
        stack.callback(_kill, burner)
        # Wait (bounded) until it runs under its name, then let it burn a little so CPU moves during the scrape.
        deadline = time.monotonic() + 10
        while realprocs.comm_of(burner.pid) != busy[:15] and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        members = {idle: [w.pid for w in workers], busy: [burner.pid]}
        per_member_fds = [psutil.Process(w.pid).num_fds() for w in workers]
        exporters.past_reuse_window()  # the scrape below collects afresh, after `before`
        before = {g: read(pids) for g, pids in members.items()}
        samples = ex.parse(agent.scrape())
        after = {g: read(pids) for g, pids in members.items()}
    yield Witnessed(idle, busy, members, before, after, per_member_fds, samples)


def yes_binary() -> pathlib.Path:
    """coreutils `yes` (resolved, so a symlink to it takes the symlink's name as comm)."""
    path = shutil.which("yes")
    if path is None:
        pytest.skip("coreutils `yes` is not installed")
    return pathlib.Path(os.path.realpath(path))


def _kill(popen: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGKILL)
    popen.wait(timeout=10)


def test_the_processes_have_the_shapes_we_gave_them(witnessed: Witnessed) -> None:
    """The witness itself sees what we built: threads as asked (main included), fds differing by the files."""
    assert witnessed.before[witnessed.idle].threads == sum(s["threads"] for s in IDLE_SHAPES)
    assert witnessed.before[witnessed.busy].threads == 1
    assert witnessed.per_member_fds[0] - witnessed.per_member_fds[1] == IDLE_SHAPES[0]["files"] - IDLE_SHAPES[1][
        "files"]
    assert witnessed.before[witnessed.idle].user + witnessed.before[witnessed.idle].system >= IDLE_BURN_S * 2


@pytest.mark.parametrize("group", ["idle", "busy"])
def test_num_procs(witnessed: Witnessed, group: str) -> None:
    name = getattr(witnessed, group)
    assert ex.by_group(witnessed.samples, "num_procs")[name] == len(witnessed.members[name])


@pytest.mark.parametrize("group", ["idle", "busy"])
@pytest.mark.parametrize("mode", ["user", "system"])
def test_cpu_seconds_within_psutil_before_and_after(witnessed: Witnessed, group: str, mode: str) -> None:
    """CPU moves between the reads (the busy group burns all along): the agent's value must lie between psutil's
    reading just before the scrape and just after it."""
    name = getattr(witnessed, group)
    got = ex.by_group(witnessed.samples, "cpu_seconds_total", mode=mode)[name]
    lo, hi = getattr(witnessed.before[name], mode), getattr(witnessed.after[name], mode)
    slack = CPU_SLACK_PER_MEMBER * len(witnessed.members[name])
    assert lo - slack <= got <= hi + slack, (name, mode, lo, got, hi)


@pytest.mark.parametrize("group", ["idle", "busy"])
def test_resident_memory_matches_psutil(witnessed: Witnessed, group: str) -> None:
    name = getattr(witnessed, group)
    got = ex.by_group(witnessed.samples, "memory_bytes", memtype="resident")[name]
    before, after = witnessed.before[name].rss, witnessed.after[name].rss
    slack = RSS_SLACK_PAGES_PER_MEMBER * PAGE * len(witnessed.members[name])
    assert min(before, after) - slack <= got <= max(before, after) + slack, (name, before, got, after)


@pytest.mark.parametrize("group", ["idle", "busy"])
def test_threads_and_fds_equal_psutil(witnessed: Witnessed, group: str) -> None:
    """Threads and fds are fixed once a member reported ready: psutil's two readings agree and so must the agent."""
    name = getattr(witnessed, group)
    before, after = witnessed.before[name], witnessed.after[name]
    assert (before.threads, before.fds) == (after.threads, after.fds)
    assert ex.by_group(witnessed.samples, "num_threads")[name] == before.threads
    assert ex.by_group(witnessed.samples, "open_filedesc")[name] == before.fds
