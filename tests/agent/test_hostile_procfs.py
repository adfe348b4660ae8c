"""What a process can put in /proc must never fail a scrape or start-up: fake procfs trees (harness.fakeproc) with
parent chains longer than Python's recursion limit, parent cycles, and files that are malformed, truncated, huge,
not UTF-8 or not files at all. FIFOs stand in for reads that block in the kernel (opening one for reading really
blocks, as a cmdline read does while the target's mmap lock is held)."""

from __future__ import annotations

import contextlib
import inspect
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.fakeproc import FakeProc
from process_monitor_agent.collector import Collector
from process_monitor_agent.config import parse_config
from process_monitor_agent.grouper import Grouper
from process_monitor_agent.procfs import FileTooLarge, read_file, read_file_all
from process_monitor_agent.procfs.guard import GuardedReader, ReadTimeout
from process_monitor_agent.track import Settings, Tracker

ROOT_ONLY = 'process_names:\n  - name: "root"\n    comm: [root]\n'
CATCH_ALL = 'process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n'
AGENT_SRC = Path(__file__).resolve().parents[2] / "agent"
CHAIN = 1200  # links: past Python's default recursion limit (1,000) on its own


@pytest.fixture
def fp(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path / "proc")


def step(tracker: Tracker, grouper: Grouper) -> dict:
    tracker.collect()
    return {g.name: g for g in grouper.update(tracker.procs.values())}


def agent(root: Path, config: str = ROOT_ONLY, **kw) -> tuple[Tracker, Grouper]:
    cfg = parse_config(config)
    tr = Tracker(Settings(procfs=str(root), **kw), cfg.rules)
    gr = Grouper(limits=tr.s.limits)
    tr.admit = gr.admit
    return tr, gr


@pytest.fixture
def shallow_stack() -> Iterator[int]:
    """Python's recursion limit set to 100 frames above the test's own depth (restored after), so that any
    recursion along a parent chain fails whatever order the fake tree lists in (real /proc lists PIDs ascending:
    the deepest link of a descending chain first). Yields the chain length to use: 1,200."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 100)
    try:
        yield CHAIN
    finally:
        sys.setrecursionlimit(old)


def chain(fp: FakeProc, top: int, length: int) -> list[int]:
    """`length` unmatched processes under `top`, each the parent of the next, PIDs descending (PID wrap-around)."""
    pids = []
    parent = top
    for i in range(length):
        pid = top - 1 - i
        fp.add(pid, comm="link", ppid=parent, fds=0, threads=None)
        pids.append(pid)
        parent = pid
    return pids


def test_chain_longer_than_the_recursion_limit_joins_the_tracked_root(fp: FakeProc, shallow_stack: int) -> None:
    fp.add(20000, comm="root", fds=0)
    links = chain(fp, 20000, shallow_stack)
    tr, gr = agent(fp.root)
    groups = step(tr, gr)
    assert groups["root"].procs == shallow_stack + 1
    assert set(tr.procs) == {20000, *links}


def test_chain_without_a_tracked_root_is_ignored_and_scrapes_keep_working(fp: FakeProc, shallow_stack: int) -> None:
    fp.add(20000, comm="orphan", ppid=1, fds=0)  # unmatched top: the whole chain has no tracked ancestor
    links = chain(fp, 20000, shallow_stack)
    fp.add(5, comm="root", fds=0)
    c = Collector(Settings(procfs=str(fp.root)), parse_config(ROOT_ONLY), self_metrics=False)
    text = c.collect().decode()
    assert 'namedprocess_namegroup_num_procs{groupname="root"} 1' in text
    assert set(c.tracker.ignored) == {20000, *links}
    assert "namedprocess_scrape_errors 0" in text


def test_parent_cycles_and_self_parents_end_the_walk_with_no_group(fp: FakeProc) -> None:
    fp.add(5, comm="root", fds=0)
    fp.add(100, comm="a", ppid=101, fds=0)
    fp.add(101, comm="b", ppid=102, fds=0)
    fp.add(102, comm="c", ppid=100, fds=0)  # 100 -> 101 -> 102 -> 100
    fp.add(200, comm="self", ppid=200, fds=0)
    fp.add(300, comm="kid", ppid=100, fds=0)  # hangs off the cycle
    fp.add(6, comm="kid", ppid=5, fds=0)  # a real child of the tracked root, for contrast
    tr, gr = agent(fp.root)
    groups = step(tr, gr)
    assert groups["root"].procs == 2
    assert set(tr.ignored) == {100, 101, 102, 200, 300}


def test_agent_starts_and_prints_with_a_long_chain_on_the_command_line(fp: FakeProc, tmp_path: Path) -> None:
    """Start-up collects once before serving: a chain there used to exit the agent with status 1. The agent runs
    with a recursion limit of 300 (see shallow_stack) so the listing order of the fake tree does not matter."""
    fp.add(20000, comm="root", fds=0)
    chain(fp, 20000, CHAIN)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(ROOT_ONLY)
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC))
    code = ("import sys; sys.setrecursionlimit(300); from process_monitor_agent.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    out = subprocess.run(
        [sys.executable, "-c", code, "-config.path", str(cfg), "-procfs", str(fp.root),
         "-once-to-stdout-delay", "10ms"], capture_output=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert f'namedprocess_namegroup_num_procs{{groupname="root"}} {CHAIN + 1}' in out.stdout.decode()


# -- one odd process is skipped and counted -----------------------------------------------------------------------


def odd_files(fp: FakeProc) -> tuple[set[int], set[int], set[int]]:
    """One process per kind of odd file. Returns (pids skipped, pids kept with a counted read error, pids whose
    oddity is no error at all)."""

    def add(pid: int, file: str, content: bytes | None, **kw: object) -> int:
        fp.add(pid, comm=f"odd{pid}", **kw)
        path = fp.root / str(pid) / file
        if content is None:  # not a file at all
            path.unlink()
            path.mkdir()
        else:
            path.write_bytes(content)
        return pid

    skipped = {
        add(101, "stat", b"101 odd S 1 2 3\n"),  # no (comm)
        add(102, "stat", b"102 (odd102) S 1\n"),  # truncated after the parent
        add(103, "stat", b"103 (odd103) S x y z " + b"q " * 50 + b"\n"),  # fields that are not numbers
        add(104, "stat", None),  # a directory
        add(107, "task/notatid", b"", threads=[{"tid": 107}, {"tid": 1070}]),  # a task entry that is no thread id
    }
    kept = {
        add(105, "status", b"Name:\t\xff\xfe\nvoluntary_ctxt_switches:\t\xff\n"),  # not UTF-8, not numbers
        add(106, "status", b"Name:\todd\nGroups:\t" + b"1 " * (4 << 20) + b"\n"),  # 8 MiB, over the bound
    }
    fine = {
        add(108, "cmdline", b"\xff\xfe(no NUL at all"),  # not UTF-8: replaced, matched, tracked
        add(109, "cmdline", b"a\x00" * 200_000),  # 200,000 arguments
    }
    return skipped, kept, fine


def test_each_odd_process_is_skipped_or_kept_and_counted_and_the_rest_is_collected(fp: FakeProc) -> None:
    fp.add(10, comm="good", utime=5)
    skipped, kept, fine = odd_files(fp)
    c = Collector(Settings(procfs=str(fp.root)), parse_config(CATCH_ALL), self_metrics=False)
    c.collect()
    text = c.collect().decode()
    assert 'namedprocess_namegroup_num_procs{groupname="good"} 1' in text
    for pid in skipped:
        assert f'groupname="odd{pid}"' not in text, pid
    for pid in kept | fine:  # stat and name are fine: tracked (status values left as they were)
        assert f'namedprocess_namegroup_num_procs{{groupname="odd{pid}"}} 1' in text, pid
    assert "namedprocess_scrape_errors 0" in text
    # A skipped process counts as a failed process read on each collection (two here); a kept one whenever its
    # status is read (the second time it had not run, so only stat and schedstat were read).
    assert c.procread_errors == 2 * len(skipped) + len(kept), c.procread_errors
    assert 'process_monitor_agent_read_errors_total{file="status"} 2' in text


def test_a_tracked_process_whose_status_turns_odd_keeps_its_counters(fp: FakeProc) -> None:
    """Kept with its status values unchanged, not dropped and re-added (which would add its whole lifetime CPU a
    second time)."""
    fp.add(10, comm="web", utime=100, vcs=5, runtime=1)
    tr, gr = agent(fp.root, CATCH_ALL)
    step(tr, gr)
    fp.update(10, utime=150, vcs=6, runtime=2)
    assert step(tr, gr)["web"].counters.utime == 50
    fp.update(10, utime=170, vcs=7, runtime=3)
    (fp.root / "10" / "status").write_bytes(b"voluntary_ctxt_switches:\tNaN\n")
    step(tr, gr)
    fp.update(10, utime=180, vcs=9, runtime=4)
    g = step(tr, gr)["web"]
    assert (g.procs, g.counters.utime, g.counters.vcs) == (1, 80, 4)


def test_status_longer_than_the_first_read_is_read_whole(fp: FakeProc) -> None:
    """A process with many supplementary groups has a status far over 8 KiB; VmSwap and the context switches
    come after the Groups line and used to read as 0."""
    fp.add(10, comm="web", vcs=10, nvcs=1, vmswap_kb=0, runtime=1)
    tr, gr = agent(fp.root, CATCH_ALL)
    step(tr, gr)
    fp.update(10, vcs=500, nvcs=40, vmswap_kb=2048, runtime=2, utime=3)
    status = fp.root / "10" / "status"
    text = status.read_text()
    groups = "Groups:\t" + " ".join(str(100000 + i) for i in range(65536)) + "\n"
    status.write_text(text.replace("VmRSS:", groups + "VmRSS:"))
    assert status.stat().st_size > 400_000
    g = step(tr, gr)["web"]
    assert (g.counters.vcs, g.counters.nvcs, g.swap) == (490, 39, 2048 * 1024)


def test_boot_time_after_a_huge_intr_line_is_found(fp: FakeProc) -> None:
    """/proc/stat of a big machine (one line per CPU, thousands of interrupt counters) exceeds 64 KiB before btime."""
    stat = fp.root / "stat"
    stat.write_text("cpu  1 2 3\nintr " + " ".join(["123456"] * 20000) + "\nbtime 1700000000\n")
    fp.add(10, comm="web")
    tr, gr = agent(fp.root, CATCH_ALL)
    step(tr, gr)
    assert tr.boot_time == 1700000000


# -- reads that block ---------------------------------------------------------------------------------------------


def unblock(fifo: Path, content: bytes = b"") -> None:
    """Open the FIFO for writing (what releases a reader blocked in open()), write, close."""
    fd = os.open(fifo, os.O_RDWR)  # never blocks on Linux, and counts as the writer a blocked reader waits for
    try:
        os.write(fd, content)
    finally:
        os.close(fd)


def fifo_in_place_of(fp: FakeProc, pid: int, name: str) -> Path:
    """Replace /proc/<pid>/<name> of the fake tree by a FIFO: a read of it blocks until `unblock`."""
    fifo = fp.root / str(pid) / name
    fifo.unlink()
    os.mkfifo(fifo)
    return fifo


@contextlib.contextmanager
def blocked_read(fp: FakeProc, pid: int, name: str) -> Iterator[Collector]:
    """A collector whose per-file reads are abandoned after 0.2 s, over the fake tree with /proc/<pid>/<name> a
    FIFO that blocks; on the way out the FIFO is released and the collector's read guard closed."""
    fifo = fifo_in_place_of(fp, pid, name)
    c = Collector(Settings(procfs=str(fp.root), read_timeout=0.2), parse_config(CATCH_ALL), self_metrics=False)
    try:
        yield c
    finally:
        unblock(fifo)
    c.tracker.guard.close()


@pytest.mark.timeout(60)
def test_a_cmdline_read_that_blocks_skips_that_process_and_the_collection_goes_on(fp: FakeProc) -> None:
    fp.add(10, comm="good")
    fp.add(11, comm="stuck")
    with blocked_read(fp, 11, "cmdline") as c:
        text = c.collect().decode()
        assert 'namedprocess_namegroup_num_procs{groupname="good"} 1' in text
        assert 'process_monitor_agent_read_timeouts_total{file="cmdline"} 1' in text
        assert 'process_monitor_agent_processes{state="blocked"} 1' in text
        assert "process_monitor_agent_stuck_reads 1" in text
        # Put aside: the next collection does not try again (no second timeout, no second stuck thread).
        text = c.collect().decode()
        assert 'process_monitor_agent_read_timeouts_total{file="cmdline"} 1' in text
        assert 'groupname="stuck"' not in text


@pytest.mark.timeout(60)
def test_a_collection_past_the_deadline_serves_the_last_good_result_with_its_age(fp: FakeProc) -> None:
    fp.add(10, comm="good", utime=7)
    # No read timeout: the collection itself hangs on the FIFO, as any read without a guard would.
    c = Collector(Settings(procfs=str(fp.root), read_timeout=0), parse_config(CATCH_ALL), self_metrics=False,
                  deadline=0.3, max_age=0)
    assert c.prime()
    fp.add(11, comm="stuck")
    fifo = fifo_in_place_of(fp, 11, "cmdline")
    try:
        stale = c.exposition().decode()  # the collection it asked for hangs: answered after the deadline
        assert 'namedprocess_namegroup_num_procs{groupname="good"} 1' in stale
        assert "process_monitor_agent_collection_deadline_exceeded_total 1" in stale
        age = float(next(x for x in stale.splitlines() if x.startswith("process_monitor_agent_collection_age_seconds "))
                    .split()[1])
        assert age >= 0.3
        again = c.exposition().decode()  # still hung: answered again, not queued behind it
        assert "process_monitor_agent_collection_deadline_exceeded_total 2" in again
    finally:
        threading.Thread(target=unblock, args=(fifo, b"stuck\0"), daemon=True).start()
    fresh = c.exposition().decode()
    for _ in range(20):  # the hung collection ends once released; a later scrape asks for a new one
        if 'groupname="stuck"' in fresh:
            break
        fresh = c.exposition().decode()
    assert 'namedprocess_namegroup_num_procs{groupname="stuck"} 1' in fresh


@pytest.mark.timeout(60)
def test_smaps_rollup_that_blocks_is_a_partial_error_of_a_tracked_process(fp: FakeProc) -> None:
    fp.add(10, comm="web", pss_kb=64)
    with blocked_read(fp, 10, "smaps_rollup") as c:
        text = c.collect().decode()
        assert 'namedprocess_namegroup_num_procs{groupname="web"} 1' in text
        assert 'process_monitor_agent_read_timeouts_total{file="smaps_rollup"} 1' in text
        assert "namedprocess_scrape_partial_errors 1" in text


@pytest.mark.timeout(60)
def test_abandoned_reads_are_capped_and_released_when_the_kernel_lets_go(tmp_path: Path) -> None:
    guard = GuardedReader(timeout=0.1, max_stuck=2)
    fifos = []
    for i in range(3):
        fifos.append(tmp_path / f"f{i}")
        os.mkfifo(fifos[-1])
    try:
        for f in fifos[:2]:
            with pytest.raises(ReadTimeout, match="no answer"):
                guard.read(str(f), 64, 1024)
        assert guard.stuck == 2
        with pytest.raises(ReadTimeout, match="still blocked"):  # refused at once: no third thread
            guard.read(str(fifos[2]), 64, 1024)
        assert guard.stuck == 2 and guard.timeouts == 2
    finally:
        for f in fifos:
            unblock(f)
    for _ in range(200):  # the abandoned threads return once their open() is released
        if guard.stuck == 0:
            break
        threading.Event().wait(0.05)
    assert guard.stuck == 0
    ok = tmp_path / "ok"
    ok.write_bytes(b"fine\n")
    assert guard.read(str(ok), 64, 1024) == b"fine\n"
    guard.close()


def test_reads_continue_past_the_first_buffer_and_stop_at_the_bound(tmp_path: Path) -> None:
    f = tmp_path / "big"
    f.write_bytes(b"a" * 100_000 + b"\nend\n")
    assert read_file(str(f), 8192).endswith(b"\nend\n")
    with pytest.raises(FileTooLarge):
        read_file(str(f), 8192, limit=50_000)
    data, cut = read_file_all(str(f), 8192, limit=50_000)
    assert cut and len(data) == 50_000
    assert read_file_all(str(f), 8192)[1] is False


@pytest.mark.timeout(60)
def test_scrapes_during_a_hung_collection_queue_no_further_collections(fp: FakeProc) -> None:
    """Scrapes that arrive while a collection runs are served by it (or by the last result, late): a flood of
    scrapes during a hang does not line up collections behind it."""
    fp.add(10, comm="good")
    c = Collector(Settings(procfs=str(fp.root), read_timeout=0), parse_config(CATCH_ALL), self_metrics=False,
                  deadline=0.2, max_age=0)
    assert c.prime() and c.collections == 1
    fp.add(11, comm="stuck")
    fifo = fifo_in_place_of(fp, 11, "cmdline")
    bodies: list[bytes] = []
    scrapers = [threading.Thread(target=lambda: bodies.append(c.exposition())) for _ in range(5)]
    for t in scrapers:
        t.start()
    for t in scrapers:
        t.join(30)
    assert len(bodies) == 5 and all(b'groupname="good"' in b for b in bodies)
    unblock(fifo, b"stuck\0")
    done = threading.Event()
    for _ in range(200):
        with c.cv:
            if c.collections == 2 and not c._running:
                done.set()
                break
        threading.Event().wait(0.02)
    assert done.is_set()
    threading.Event().wait(0.3)  # time for a queued collection to start, if one had been queued
    assert c.collections == 2
