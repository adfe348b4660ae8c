"""Output bounds (limits.py) on fake procfs trees: long group and thread names are cut with a hash suffix and never
merge, the group count is capped with the overflow counted, empty templated groups age out while statically named
ones stay, and the flags reach the agent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness.fakeproc import FakeProc
from process_monitor_agent.collector import Collector
from process_monitor_agent.config import parse_config
from process_monitor_agent.grouper import Grouper
from process_monitor_agent.limits import Limits, bounded_name
from process_monitor_agent.track import Settings, Tracker

EXE_BASE = 'process_names:\n  - cmdline: [".+"]\n'  # no name: process-exporter's default {{.ExeBase}}
CATCH_ALL = 'process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n'
AGENT_SRC = Path(__file__).resolve().parents[2] / "agent"


@pytest.fixture
def fp(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path / "proc")


def agent(root: Path, config: str, limits: Limits | None = None) -> tuple[Tracker, Grouper]:
    cfg = parse_config(config)
    tr = Tracker(Settings(procfs=str(root), limits=limits), cfg.rules)
    gr = Grouper(limits=tr.s.limits)
    gr.set_static_names(cfg.rules.static_names)
    tr.admit = gr.admit
    return tr, gr


def step(tr: Tracker, gr: Grouper, now: float | None = None) -> dict:
    tr.collect()
    return {g.name: g for g in gr.update(tr.procs.values(), now)}


@pytest.mark.parametrize("name", ["x" * 5000, "é" * 3000, "😀" * 1000, "a" * 1025])
def test_bounded_name_fits_the_limit_in_bytes_and_is_stable(name: str) -> None:
    got = bounded_name(name, 1024)
    assert len(got.encode()) <= 1024
    assert got == bounded_name(name, 1024)
    assert name.startswith(got[: got.rindex("~")])  # a prefix of the name (cut on a character boundary), then hash
    assert bounded_name(name[:-1] + "#", 1024) != got


def test_bounded_name_leaves_names_within_the_limit_alone() -> None:
    assert bounded_name("a" * 1024, 1024) == "a" * 1024
    assert Limits().group_name("nginx") == "nginx"


def test_two_long_argv0_sharing_a_prefix_stay_two_bounded_groups(fp: FakeProc) -> None:
    common = "/opt/" + "p" * (128 << 10)
    fp.add(10, comm="a", cmdline=[common + "A", "run"])
    fp.add(11, comm="b", cmdline=[common + "B", "run"])
    fp.add(12, comm="c", cmdline=["/usr/bin/short"])
    tr, gr = agent(fp.root, EXE_BASE)
    groups = step(tr, gr)
    assert len(groups) == 3 and "short" in groups
    long_names = [n for n in groups if n != "short"]
    assert all(len(n.encode()) <= 1024 for n in long_names)
    assert all(g.procs == 1 for g in groups.values())
    assert tr.s.limits.hits["group_name_length"] == 2
    # The same process keeps its label across collections (the name is computed once per process).
    assert set(step(tr, gr)) == set(groups)


def test_scrape_with_20_huge_names_stays_under_a_megabyte(fp: FakeProc) -> None:
    for i in range(20):
        fp.add(100 + i, comm=f"p{i}", cmdline=[f"{i:02d}" + "x" * ((128 << 10) - 3)])
    c = Collector(Settings(procfs=str(fp.root)), parse_config(EXE_BASE), self_metrics=False)
    c.collect()
    body = c.collect()
    assert body.count(b"namedprocess_namegroup_num_procs{") == 20
    assert len(body) < 1 << 20, len(body)
    assert b'process_monitor_agent_limit_hits_total{limit="group_name_length"} 20' in body


def test_long_thread_names_are_cut_too(fp: FakeProc) -> None:
    """A comm is at most 64 bytes on Linux; a fake tree can have any, and the bound holds for it as well."""
    long_a, long_b = "t" * 3000 + "a", "t" * 3000 + "b"
    fp.add(10, comm="web", threads=[{"tid": 10, "comm": "web"}, {"tid": 11, "comm": long_a},
                                    {"tid": 12, "comm": long_b}])
    tr, gr = agent(fp.root, CATCH_ALL)
    g = step(tr, gr)["web"]
    names = sorted(t.name for t in g.threads)
    assert len(names) == 3 and all(len(n.encode()) <= 1024 for n in names)
    assert tr.s.limits.hits["thread_name_length"] == 2


def test_group_limit_refuses_new_groups_and_counts_them(fp: FakeProc) -> None:
    for i in range(5):
        fp.add(10 + i, comm=f"c{i}")
    fp.add(20, comm="c0")  # an existing group is always admitted
    tr, gr = agent(fp.root, CATCH_ALL, Limits(max_groups=3))
    groups = step(tr, gr)
    assert len(groups) == 3
    tracked = sum(g.procs for g in groups.values())
    assert tracked == (4 if "c0" in groups else 3)  # a second member of an admitted group is admitted
    assert tr.s.limits.hits["groups"] == 6 - tracked  # each refused process, once
    refused = {pid for pid in (10, 11, 12, 13, 14, 20) if pid not in tr.procs}
    assert refused == set(tr.ignored)  # ignored: not named again every collection
    step(tr, gr)
    assert tr.s.limits.hits["groups"] == 6 - tracked


def test_statically_named_groups_are_admitted_past_the_group_limit(fp: FakeProc) -> None:
    config = ('process_names:\n  - name: "fixed"\n    comm: [fixed]\n'
              '  - name: "{{.Comm}}"\n    cmdline: [".+"]\n')
    for i in range(3):
        fp.add(10 + i, comm=f"c{i}")
    fp.add(30, comm="fixed")
    tr, gr = agent(fp.root, config, Limits(max_groups=2))
    groups = step(tr, gr)
    assert groups["fixed"].procs == 1


def test_empty_templated_groups_age_out_static_ones_stay(fp: FakeProc) -> None:
    config = ('process_names:\n  - name: "fixed"\n    comm: [fixed]\n'
              '  - name: "{{.Comm}}"\n    cmdline: [".+"]\n')
    fp.add(10, comm="burst")
    fp.add(11, comm="fixed")
    fp.add(12, comm="stays")
    tr, gr = agent(fp.root, config, Limits(empty_group_age=60))
    assert set(step(tr, gr, now=0)) == {"burst", "fixed", "stays"}
    fp.remove(10)
    fp.remove(11)
    assert set(step(tr, gr, now=10)) == {"burst", "fixed", "stays"}  # empty since 10
    assert set(step(tr, gr, now=69)) == {"burst", "fixed", "stays"}
    assert set(step(tr, gr, now=70)) == {"fixed", "stays"}
    assert tr.s.limits.hits["empty_group_age"] == 1
    # It comes back from zero when a process shows up again, like a new group.
    fp.add(10, comm="burst", starttime=5000, utime=9)
    assert step(tr, gr, now=80)["burst"].counters.utime == 9


def test_a_group_that_refills_restarts_its_empty_clock(fp: FakeProc) -> None:
    fp.add(10, comm="cron")
    tr, gr = agent(fp.root, CATCH_ALL, Limits(empty_group_age=60))
    step(tr, gr, now=0)
    fp.remove(10)
    step(tr, gr, now=10)
    fp.add(10, comm="cron", starttime=500)
    step(tr, gr, now=50)
    fp.remove(10)
    assert "cron" in step(tr, gr, now=100)  # empty since 100, not since 10
    assert "cron" not in step(tr, gr, now=160)


def test_age_out_zero_keeps_empty_groups_forever_as_process_exporter(fp: FakeProc) -> None:
    fp.add(10, comm="burst")
    tr, gr = agent(fp.root, CATCH_ALL, Limits(empty_group_age=0))
    step(tr, gr, now=0)
    fp.remove(10)
    assert "burst" in step(tr, gr, now=1e9)


def test_flags_set_the_limits(fp: FakeProc, tmp_path: Path) -> None:
    for i in range(3):
        fp.add(10 + i, comm=f"c{i}", cmdline=[f"/bin/{i}" + "n" * 300])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(EXE_BASE)
    out = subprocess.run(
        [sys.executable, "-m", "process_monitor_agent", "-config.path", str(cfg), "-procfs", str(fp.root),
         "-limit.name-length", "100", "-limit.groups=2", "-remove-empty-groups.after", "10m",
         "-collection.deadline", "2s", "-once-to-stdout-delay", "10ms"],
        capture_output=True, env=dict(os.environ, PYTHONPATH=str(AGENT_SRC)), timeout=120, check=False)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    text = out.stdout.decode()
    names = [line.split('"')[1] for line in text.splitlines() if line.startswith("namedprocess_namegroup_num_procs{")]
    assert len(names) == 2 and all(len(n.encode()) <= 100 for n in names)
    assert 'process_monitor_agent_limit_hits_total{limit="groups"} 1' in text


def test_thread_names_per_group_are_capped_keeping_the_ones_already_reported(fp: FakeProc) -> None:
    threads = [{"tid": 10, "comm": "main"}] + [{"tid": 100 + i, "comm": f"w{i}"} for i in range(3)]
    fp.add(10, comm="web", threads=threads)
    tr, gr = agent(fp.root, CATCH_ALL, Limits(max_thread_names=4))
    first = {t.name for t in step(tr, gr)["web"].threads}
    assert first == {"main", "w0", "w1", "w2"}
    # 50 more threads with new names: the reported set stays put.
    fp.update(10, threads=threads + [{"tid": 200 + i, "comm": f"x{i}", "runtime": 5} for i in range(50)])
    g = step(tr, gr)["web"]
    assert {t.name for t in g.threads} == first
    assert g.nthreads == 54  # the process and its gauges still count every thread
    assert tr.s.limits.hits["thread_names"] == 50
