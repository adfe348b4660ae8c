"""Tracker + grouper semantics on fake procfs trees: counters across exit and PID reuse, children, ignore list,
empty groups, missing groups, threads, states, smaps rate limit, recheck, reload re-matching."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness.fakeproc import BTIME, FakeProc
from process_monitor_agent.config import from_flags, parse_config
from process_monitor_agent.grouper import Grouper
from process_monitor_agent.model import GO_ZERO_TIME
from process_monitor_agent.track import Settings, Tracker

CATCH_ALL = 'process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n'


class Agent:
    """Tracker + grouper over a fake tree; `step()` runs one collection and returns snapshots by group."""

    def __init__(self, root: Path, config: str = CATCH_ALL, **kw) -> None:
        remove = kw.pop("remove_empty_groups", False)
        missing = kw.pop("report_missing_groups", False)
        self.config = parse_config(config)
        self.tracker = Tracker(Settings(procfs=str(root), **kw), self.config.rules)
        self.grouper = Grouper(remove, missing)
        self.grouper.set_static_names(self.config.rules.static_names)
        self.last = None

    def step(self):
        self.last = self.tracker.collect()
        return {g.name: g for g in self.grouper.update(self.tracker.procs.values())}


@pytest.fixture
def fp(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path / "proc")


def test_counters_start_at_zero_for_existing_and_grow_by_deltas(fp: FakeProc) -> None:
    fp.add(10, comm="web", utime=500, stime=100, read_bytes=4096, vcs=7, minflt=30, runtime=1)
    a = Agent(fp.root)
    g = a.step()["web"]
    assert (g.counters.utime, g.counters.stime, g.counters.rb, g.counters.vcs, g.counters.min) == (0, 0, 0, 0, 0)
    fp.update(10, utime=520, stime=103, read_bytes=8192, vcs=9, minflt=31, runtime=2)
    g = a.step()["web"]
    assert (g.counters.utime, g.counters.stime, g.counters.rb, g.counters.vcs, g.counters.min) == (20, 3, 4096, 2, 1)


def test_counters_never_go_down_when_members_exit_and_pid_is_reused(fp: FakeProc) -> None:
    fp.add(10, comm="web", utime=0, runtime=1)
    fp.add(11, comm="web", utime=0, runtime=1)
    a = Agent(fp.root)
    a.step()
    fp.update(10, utime=50, runtime=2)
    fp.update(11, utime=30, runtime=2)
    assert a.step()["web"].counters.utime == 80
    fp.remove(11)
    g = a.step()["web"]
    assert g.counters.utime == 80 and g.procs == 1
    # PID 10 is reused by a new process (different starttime) with less CPU: no decrease, and its whole life
    # counts because it was born after the agent's first collection.
    fp.remove(10)
    fp.add(10, comm="web", utime=5, starttime=5000, runtime=9)
    g = a.step()["web"]
    assert g.counters.utime == 85 and g.procs == 1
    assert 10 in a.tracker.procs and a.tracker.procs[10].starttime == 5000


def test_empty_group_kept_with_frozen_counters_and_go_zero_start(fp: FakeProc) -> None:
    fp.add(10, comm="batch", runtime=1)
    a = Agent(fp.root)
    a.step()
    fp.update(10, utime=40, runtime=2)
    a.step()
    fp.remove(10)
    g = a.step()["batch"]
    assert g.procs == 0 and g.counters.utime == 40 and g.oldest == GO_ZERO_TIME and g.rss == 0
    assert g.states == [0, 0, 0, 0, 0] and g.worst_ratio == 0


def test_remove_empty_groups_forgets_them(fp: FakeProc) -> None:
    fp.add(10, comm="batch")
    a = Agent(fp.root, remove_empty_groups=True)
    a.step()
    fp.remove(10)
    assert "batch" not in a.step()


def test_report_missing_groups_reports_static_names_from_start(fp: FakeProc) -> None:
    fp.add(10, comm="bash")
    cfg = (
        "process_names:\n  - name: postgres\n    comm: [postgres]\n  - name: 'dyn-{{.Comm}}'\n    comm: [redis]\n"
        "  - name: shells\n    comm: [bash]\n"
    )
    a = Agent(fp.root, cfg, report_missing_groups=True)
    groups = a.step()
    assert groups["postgres"].procs == 0 and groups["postgres"].counters.utime == 0
    assert groups["shells"].procs == 1
    assert not any(n.startswith("dyn-") for n in groups)
    b = Agent(fp.root, cfg)
    assert "postgres" not in b.step()


def test_first_match_wins_and_templates(fp: FakeProc) -> None:
    fp.add(10, comm="java", cmdline=["/usr/bin/java", "-jar", "/srv/app-orders.jar"], uid=0)
    fp.add(11, comm="java", cmdline=["/usr/bin/java", "-jar", "/srv/other.jar"])
    cfg = (
        "process_names:\n"
        "  - name: 'app:{{.Matches.app}}:{{.Username}}:{{.ExeBase}}'\n"
        "    cmdline: ['-jar /srv/app-(?P<app>\\w+)\\.jar']\n"
        "  - name: '{{.ExeFull}}'\n    comm: [java]\n"
        "  - name: never\n    comm: [java]\n"
    )
    groups = Agent(fp.root, cfg).step()
    assert set(groups) == {"app:orders:root:java", "/usr/bin/java"}


def test_children_join_nearest_tracked_ancestor(fp: FakeProc) -> None:
    fp.add(10, comm="supervisor")
    fp.add(11, comm="worker", ppid=10)
    fp.add(12, comm="helper", ppid=11)
    fp.add(13, comm="redis", ppid=10)  # matches its own entry: keeps its own group
    fp.add(14, comm="orphan", ppid=1)
    cfg = "process_names:\n  - name: sup\n    comm: [supervisor]\n  - name: redis\n    comm: [redis]\n"
    a = Agent(fp.root, cfg)
    groups = a.step()
    assert groups["sup"].procs == 3 and groups["redis"].procs == 1
    assert 14 in a.tracker.ignored
    off = Agent(fp.root, cfg, children=False)
    groups = off.step()
    assert groups["sup"].procs == 1
    assert set(off.tracker.ignored) == {11, 12, 14}


def test_children_false_caches_unmatched_and_recheck_rematches(fp: FakeProc) -> None:
    """Upstream bug not copied: with -children=false unmatched processes are cached (ignored), not re-read."""
    fp.add(10, comm="bash", cmdline=["bash", "start.sh"])
    cfg = "process_names:\n  - name: redis\n    cmdline: ['redis-server']\n"
    a = Agent(fp.root, cfg, children=False)
    assert "redis" not in a.step()
    # The wrapper execs redis-server (same pid and starttime).
    fp.update(10, comm="redis-server", cmdline=["redis-server", "*:6379"])
    assert "redis" not in a.step()  # ignored identity: only stat was read
    r = Agent(fp.root, cfg, children=False, recheck=True)
    fp.update(10, comm="bash", cmdline=["bash", "start.sh"])
    assert "redis" not in r.step()
    fp.update(10, comm="redis-server", cmdline=["redis-server", "*:6379"])
    assert r.step()["redis"].procs == 1


def test_recheck_with_time_limit_only_rechecks_young_processes(fp: FakeProc) -> None:
    # uptime is 1000 s in the fake tree; starttime is in ticks (100/s)
    fp.add(10, comm="bash", cmdline=["bash"], starttime=99_000)  # 10 s old
    fp.add(11, comm="bash", cmdline=["bash"], starttime=1_000)  # 990 s old
    cfg = "process_names:\n  - name: redis\n    cmdline: ['redis']\n"
    a = Agent(fp.root, cfg, recheck_time_limit=60.0)
    a.step()
    fp.update(10, cmdline=["redis"])
    fp.update(11, cmdline=["redis"])
    assert a.step()["redis"].procs == 1
    assert a.tracker.procs[10].group == "redis" and 11 in a.tracker.ignored


def test_exited_and_ignored_state_is_dropped(fp: FakeProc) -> None:
    cfg = "process_names:\n  - name: x\n    comm: [x]\n"
    for pid in range(100, 150):
        fp.add(pid, comm="x" if pid % 2 else "y")
    a = Agent(fp.root, cfg)
    a.step()
    assert len(a.tracker.procs) == 25 and len(a.tracker.ignored) == 25
    for pid in range(100, 150):
        fp.remove(pid)
    a.step()
    assert a.tracker.procs == {} and a.tracker.ignored == {}


def test_gauges_memory_fds_ratio_oldest(fp: FakeProc) -> None:
    fp.add(10, comm="db", rss=1000, vsize=5000, vmswap_kb=8, pss_kb=300, swappss_kb=2, fds=10,
           max_open_files=100, starttime=200)
    fp.add(11, comm="db", rss=500, vsize=1000, fds=50, max_open_files=64, starttime=1234)
    g = Agent(fp.root).step()["db"]
    page = __import__("os").sysconf("SC_PAGESIZE")
    assert g.rss == 1500 * page and g.vsize == 6000 and g.swap == 8 * 1024
    assert g.pss == 350 * 1024 and g.swappss == 2 * 1024
    assert g.fds == 60 and g.worst_ratio == 50 / 64
    assert g.oldest == BTIME + 2


def test_smaps_rate_limited(fp: FakeProc) -> None:
    fp.add(10, comm="db", pss_kb=100, runtime=1)
    a = Agent(fp.root, smaps_interval=3600.0)
    assert a.step()["db"].pss == 100 * 1024
    fp.update(10, pss_kb=900, runtime=2)
    assert a.step()["db"].pss == 100 * 1024  # cached until the interval passes
    a.tracker.procs[10].smaps_due = 0.0
    assert a.step()["db"].pss == 900 * 1024
    b = Agent(fp.root, gather_smaps=False)
    assert b.step()["db"].pss == 0


def test_idle_process_not_reread_running_process_reread(fp: FakeProc) -> None:
    fp.add(10, comm="svc", read_bytes=0, runtime=5)
    a = Agent(fp.root)
    a.step()
    # Same run time: the process did not run, so io cannot have moved; the agent does not re-read it.
    (fp.root / "10" / "io").unlink()
    g = a.step()["svc"]
    assert a.last.partial == 0 and g.counters.rb == 0
    fp.update(10, read_bytes=100, runtime=6)
    assert a.step()["svc"].counters.rb == 100


def test_states_count_each_thread_once_and_thread_metrics(fp: FakeProc) -> None:
    """Upstream bug #338 not copied: a 3-thread process adds 3 to states, not 4."""
    threads = [
        {"tid": 20, "comm": "app", "state": "S", "utime": 10, "wchan": "futex_wait_queue"},
        {"tid": 21, "comm": "worker", "state": "R", "utime": 5, "wchan": "0"},
        {"tid": 22, "comm": "worker", "state": "S", "utime": 7, "wchan": "futex_wait_queue"},
    ]
    fp.add(20, comm="app", threads=threads, runtime=1)
    a = Agent(fp.root)
    g = a.step()["app"]
    assert g.nthreads == 3 and sum(g.states) == 3 and g.states[0] == 1 and g.states[1] == 2
    assert g.wchans == {"futex_wait_queue": 2}
    assert {t.name: t.count for t in g.threads} == {"app": 1, "worker": 2}
    threads2 = [dict(t, runtime=t.get("runtime", 1000) + 1) for t in threads]
    threads2[1]["utime"] = 25
    threads2[1]["vcs"] = 4
    fp.update(20, threads=threads2, utime=100)
    g = a.step()["app"]
    workers = next(t for t in g.threads if t.name == "worker")
    assert workers.counters.utime == 20 and workers.counters.vcs == 4
    assert g.counters.vcs == 4  # process context switches are summed over its threads


def test_threads_false_reads_no_task_files(fp: FakeProc, monkeypatch: pytest.MonkeyPatch) -> None:
    threads = [{"tid": 20, "comm": "app"}, {"tid": 21, "comm": "w"}]
    fp.add(20, comm="app", threads=threads)
    import process_monitor_agent.procfs as procfs
    import process_monitor_agent.track.refresh as refresh
    import process_monitor_agent.track.threads as threads

    opened: list[str] = []
    real = procfs.read_file

    def spy(path: str, size: int = 4096) -> bytes:
        opened.append(path)
        return real(path, size)

    for tr in (refresh, threads):  # the track/ modules that read a process's files after its stat
        monkeypatch.setattr(tr, "read_file", spy)
    a = Agent(fp.root, threads=False)
    a.step()
    g = a.step()["app"]
    assert not [p for p in opened if "/task/" in p or p.endswith("/wchan")]
    assert g.threads == [] and g.wchans == {} and sum(g.states) == 1 and g.nthreads == 2
    opened.clear()
    Agent(fp.root).step()
    assert [p for p in opened if "/task/" in p]


def test_new_process_counts_whole_life_existing_does_not(fp: FakeProc) -> None:
    fp.add(10, comm="web", utime=1000)
    a = Agent(fp.root)
    a.step()
    fp.add(11, comm="web", utime=30, starttime=90_000)
    assert a.step()["web"].counters.utime == 30


def test_reload_rematches_and_keeps_surviving_group_counters(fp: FakeProc) -> None:
    fp.add(10, comm="nginx", runtime=1)
    fp.add(11, comm="redis", utime=500, runtime=1)
    cfg1 = "process_names:\n  - name: web\n    comm: [nginx]\n"
    a = Agent(fp.root, cfg1)
    a.step()
    fp.update(10, utime=10, runtime=2)
    assert a.step()["web"].counters.utime == 10
    cfg2 = "process_names:\n  - name: web\n    comm: [nginx]\n  - name: cache\n    comm: [redis]\n"
    a.tracker.set_rules(parse_config(cfg2).rules)
    fp.update(10, utime=15, runtime=3)
    groups = a.step()
    assert groups["web"].counters.utime == 15
    assert groups["cache"].procs == 1 and groups["cache"].counters.utime == 0  # new group starts at zero
    fp.update(11, utime=520, runtime=2)
    assert a.step()["cache"].counters.utime == 20
    # Drop the web rule: its group stays (frozen) like any empty group.
    a.tracker.set_rules(parse_config("process_names:\n  - name: cache\n    comm: [redis]\n").rules)
    groups = a.step()
    assert groups["web"].procs == 0 and groups["web"].counters.utime == 15


def test_procnames_and_namemapping(fp: FakeProc) -> None:
    fp.add(10, comm="bash")
    fp.add(11, comm="python3", cmdline=["python3", "/srv/jobs/ingest.py"])
    fp.add(12, comm="python3", cmdline=["python3", "-c", "pass"])
    rules = from_flags("bash,python3", "python3,/srv/jobs/(\\w+)\\.py").rules
    t = Tracker(Settings(procfs=str(fp.root)), rules)
    t.collect()
    g = {g.name: g for g in Grouper().update(t.procs.values())}
    assert set(g) == {"bash", "python3:ingest"}


def test_unreadable_files_are_partial_errors_counted_by_file(fp: FakeProc) -> None:
    fp.add(10, comm="svc", runtime=1)
    fp.add(11, comm="svc", runtime=1)
    for name in ("io", "smaps_rollup"):  # unreadable, as io/smaps of another user's process without SYS_PTRACE
        (fp.root / "10" / name).unlink()
        (fp.root / "10" / name).mkdir()
    a = Agent(fp.root)
    g = a.step()["svc"]
    assert g.procs == 2 and a.last.partial == 1
    assert a.tracker.read_failures == {"io": 1, "smaps_rollup": 1}
    fp.procs[10]["runtime"] = 2
    (fp.root / "10" / "schedstat").write_text("2 0 1\n")  # it ran: io is tried again and fails again
    a.step()
    assert a.tracker.read_failures["io"] == 2 and a.last.partial == 1


def test_process_that_ran_without_a_cpu_tick_is_reread(fp: FakeProc) -> None:
    """stat unchanged byte for byte, but the run time moved: context switches and I/O must still be counted."""
    fp.add(10, comm="svc", runtime=100, vcs=5, read_bytes=0)
    a = Agent(fp.root)
    a.step()
    a.step()  # second look: the fast path now has the stat fingerprint
    fp.update(10, runtime=101, vcs=8, read_bytes=512)  # same stat line, new schedstat/status/io
    g = a.step()["svc"]
    assert g.counters.vcs == 3 and g.counters.rb == 512


def test_fast_path_still_refreshes_limits_when_due(fp: FakeProc) -> None:
    fp.add(10, comm="svc", runtime=100, fds=10, max_open_files=100)
    a = Agent(fp.root)
    a.step()
    a.step()
    fp.update(10, max_open_files=20)  # prlimit by someone else: the process itself did not run
    assert a.step()["svc"].worst_ratio == 0.1  # not due yet: cached
    a.tracker.procs[10].limits_due = 0.0
    assert a.step()["svc"].worst_ratio == 0.5
