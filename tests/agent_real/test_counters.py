"""Counter semantics side by side on the real /proc (process-exporter's, which the agent must keep):

(a) a process older than the exporter contributes only its growth since the exporter started;
(b) a process born later has its whole lifetime counted at first sight;
(d) after the last member exits the group stays, counters frozen, gauges 0, oldest start time = Go's zero time.

All available exporters watch the same processes at the same time, so their answers must agree with each other
and with /proc.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from harness import exporters, realprocs
from harness import exposition as ex

from agent_real.conftest import unique_prefix

pytestmark = [pytest.mark.realproc, pytest.mark.peer, pytest.mark.timeout(300)]

IMPLS = [exporters.DEBIAN, exporters.UPSTREAM, exporters.AGENT]
GO_ZERO_TIME = -62135596800.0
BURN = 0.3  # CPU seconds each burner spends before it reports ready
# process-exporter dates a process from /proc/stat's integer btime, up to 1 s before the true boot time, so a
# process born less than a second after the exporter's first collection looks older than the exporter and its
# lifetime CPU is left out. The agent dates it exactly. Processes meant to be "born later" wait this long, so the
# comparison tests the rule, not that rounding.
BORN_LATER_GAP_S = 1.5


@dataclass
class Observed:
    pre: str  # group of the process started before the exporters
    new: str  # group of the process started after them
    new_cpu: float  # /proc utime+stime of the new process (it idles after burning, so this stays put)
    first: dict[str, list[ex.Sample]]  # implementation -> samples while both live
    after_exit: dict[str, list[ex.Sample]]  # implementation -> samples after the new process was killed
    unavailable: dict[str, str]


@pytest.fixture(scope="module")
def observed(procset: realprocs.ProcSet) -> Iterator[Observed]:
    p = unique_prefix()
    pre, new = f"{p}-pre", f"{p}-new"
    procset.worker(pre, burn=BURN)
    config = exporters.write_config(procset.workdir / "counters.yaml", [{"name": "{{.Comm}}", "comm": [pre, new]}])
    with contextlib.ExitStack() as stack:
        running, unavailable = exporters.start_all(stack, ["-config.path", str(config)], procset.workdir)
        # Born after the exporters, with an unmatched child that -children puts in its group.
        time.sleep(BORN_LATER_GAP_S)
        born = procset.worker(new, burn=BURN, children=[procset.child_argv(f"{p}-newkid")])
        new_cpu = realprocs.cpu_seconds(born.pid)
        first = {name: ex.parse(e.scrape()) for name, e in running.items()}
        procset.kill(born)
        exporters.past_reuse_window()
        after = {name: ex.parse(e.scrape()) for name, e in running.items()}
    yield Observed(pre, new, new_cpu, first, after, unavailable)


def samples(seen: dict[str, list[ex.Sample]], obs: Observed, impl: str) -> list[ex.Sample]:
    if impl in obs.unavailable:
        pytest.skip(obs.unavailable[impl])
    return seen[impl]


@pytest.mark.parametrize("impl", IMPLS)
def test_process_older_than_exporter_counts_only_growth(observed: Observed, impl: str) -> None:
    cpu = ex.by_group(samples(observed.first, observed, impl), "cpu_seconds_total")
    assert cpu[observed.pre] <= 0.03


@pytest.mark.parametrize("impl", IMPLS)
def test_process_born_later_counts_whole_lifetime(observed: Observed, impl: str) -> None:
    assert observed.new_cpu >= BURN
    cpu = ex.by_group(samples(observed.first, observed, impl), "cpu_seconds_total")
    assert cpu[observed.new] == pytest.approx(observed.new_cpu, abs=0.03)


@pytest.mark.parametrize("impl", IMPLS)
def test_child_of_a_process_born_later_joins_its_group(observed: Observed, impl: str) -> None:
    assert ex.by_group(samples(observed.first, observed, impl), "num_procs")[observed.new] == 2


@pytest.mark.parametrize("impl", IMPLS)
def test_group_keeps_frozen_counters_after_last_member_exits(observed: Observed, impl: str) -> None:
    before = samples(observed.first, observed, impl)
    after = samples(observed.after_exit, observed, impl)
    assert ex.by_group(after, "num_procs")[observed.new] == 0
    assert ex.by_group(after, "num_threads")[observed.new] == 0
    assert ex.by_group(after, "memory_bytes", memtype="resident")[observed.new] == 0
    assert ex.by_group(after, "cpu_seconds_total")[observed.new] == ex.by_group(before, "cpu_seconds_total")[
        observed.new]
    assert ex.by_group(after, "oldest_start_time_seconds")[observed.new] == GO_ZERO_TIME


@pytest.mark.parametrize("peer", [exporters.DEBIAN, exporters.UPSTREAM])
def test_agent_counters_agree_with_process_exporter(observed: Observed, peer: str) -> None:
    for seen in (observed.first, observed.after_exit):
        agent, other = samples(seen, observed, exporters.AGENT), samples(seen, observed, peer)
        for mode in ("user", "system"):
            a = ex.by_group(agent, "cpu_seconds_total", mode=mode)
            o = ex.by_group(other, "cpu_seconds_total", mode=mode)
            assert set(a) == set(o)
            for group in o:
                assert a[group] == pytest.approx(o[group], abs=0.03), (mode, group)


@dataclass
class Replaced:
    group: str
    burned: float  # /proc CPU of all the members, each read after it burned and before it was killed
    seen: dict[str, list[list[ex.Sample]]]  # implementation -> samples after each round
    unavailable: dict[str, str]


ROUNDS = 3


@pytest.fixture(scope="module")
def replaced(procset: realprocs.ProcSet) -> Iterator[Replaced]:
    """One member at a time: each is born, burns CPU, is scraped by everyone, then killed and replaced."""
    group = f"{unique_prefix()}-rep"
    config = exporters.write_config(procset.workdir / "replaced.yaml", [{"name": "{{.Comm}}", "comm": [group]}])
    burned = 0.0
    with contextlib.ExitStack() as stack:
        running, unavailable = exporters.start_all(stack, ["-config.path", str(config)], procset.workdir)
        seen: dict[str, list[list[ex.Sample]]] = {name: [] for name in running}
        time.sleep(BORN_LATER_GAP_S)
        for _ in range(ROUNDS):
            member = procset.worker(group, burn=0.15)
            burned += realprocs.cpu_seconds(member.pid)
            for name, e in running.items():
                seen[name].append(ex.parse(e.scrape()))
            procset.kill(member)
        exporters.past_reuse_window()
        for name, e in running.items():
            seen[name].append(ex.parse(e.scrape()))
    yield Replaced(group, burned, seen, unavailable)


@pytest.mark.parametrize("impl", IMPLS)
def test_counters_accumulate_across_replaced_members(replaced: Replaced, impl: str) -> None:
    if impl in replaced.unavailable:
        pytest.skip(replaced.unavailable[impl])
    cpu = [ex.by_group(s, "cpu_seconds_total")[replaced.group] for s in replaced.seen[impl]]
    assert cpu == sorted(cpu), f"cpu_seconds_total went down: {cpu}"
    assert cpu[-1] == pytest.approx(replaced.burned, abs=0.05 * ROUNDS)
    assert ex.by_group(replaced.seen[impl][-1], "num_procs")[replaced.group] == 0


@dataclass
class Threaded:
    group: str
    burner: str  # thread name of the thread that burned CPU after the exporters started
    burned: float  # that thread's CPU per /proc (task stat), all of it spent after the exporters started
    seen: dict[str, list[ex.Sample]]
    unavailable: dict[str, str]


@pytest.fixture(scope="module")
def threaded(procset: realprocs.ProcSet) -> Iterator[Threaded]:
    """A 4-thread process older than the exporters; one thread burns CPU while they watch."""
    p = unique_prefix()
    group, burner = f"{p}-mt", f"{p}-burn"
    proc = procset.worker(group, threads=3, thread_name=f"{p}-idle", burner_thread=burner)
    config = exporters.write_config(procset.workdir / "threaded.yaml", [{"name": "{{.Comm}}", "comm": [group]}])
    with contextlib.ExitStack() as stack:
        running, unavailable = exporters.start_all(stack, ["-config.path", str(config)], procset.workdir)
        for e in running.values():
            e.scrape()
        tid = next(int(t) for t in os.listdir(f"/proc/{proc.pid}/task")
                   if realprocs.read_stat_task(proc.pid, int(t))[1] == burner)
        before = _task_cpu(proc.pid, tid)
        procset.burn_in_thread(proc)
        burned = _task_cpu(proc.pid, tid) - before
        seen = {name: ex.parse(e.scrape()) for name, e in running.items()}
    yield Threaded(group, burner, burned, seen, unavailable)


def _task_cpu(pid: int, tid: int) -> float:
    st = realprocs.read_stat_task(pid, tid)
    return (int(st[13]) + int(st[14])) / realprocs.CLK_TCK


@pytest.mark.parametrize("impl", IMPLS)
def test_thread_cpu_counted_in_group_and_by_thread_name(threaded: Threaded, impl: str) -> None:
    if impl in threaded.unavailable:
        pytest.skip(threaded.unavailable[impl])
    samples = threaded.seen[impl]
    assert threaded.burned >= 0.25
    assert ex.by_group(samples, "cpu_seconds_total")[threaded.group] == pytest.approx(threaded.burned, abs=0.05)
    by_thread: dict[str, float] = {}
    for s in ex.select(samples, ex.GROUP_PREFIX + "thread_cpu_seconds_total", groupname=threaded.group):
        by_thread[s.labels["threadname"]] = by_thread.get(s.labels["threadname"], 0.0) + s.value
    assert by_thread[threaded.burner] == pytest.approx(threaded.burned, abs=0.05)
    assert sum(by_thread.values()) == pytest.approx(threaded.burned, abs=0.05)


@pytest.mark.parametrize("peer", [exporters.DEBIAN, exporters.UPSTREAM])
def test_agent_thread_metrics_agree_with_process_exporter(threaded: Threaded, peer: str) -> None:
    for impl in (exporters.AGENT, peer):
        if impl in threaded.unavailable:
            pytest.skip(threaded.unavailable[impl])
    agent, other = threaded.seen[exporters.AGENT], threaded.seen[peer]
    for family in ("thread_count", "thread_cpu_seconds_total", "thread_major_page_faults_total"):
        a = {tuple(sorted(s.labels.items())): s.value for s in ex.select(agent, ex.GROUP_PREFIX + family)}
        o = {tuple(sorted(s.labels.items())): s.value for s in ex.select(other, ex.GROUP_PREFIX + family)}
        assert set(a) == set(o), family
        for key in o:
            assert a[key] == pytest.approx(o[key], abs=0.03), (family, key)
