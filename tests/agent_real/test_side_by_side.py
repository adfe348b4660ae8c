"""Side by side on the real /proc: the same cast of processes and the same config for process-exporter (Debian's,
upstream v0.8.7) and our agent. Each implementation is checked against /proc itself, and the agent against each
process-exporter sample for sample. Where we deliberately differ, the test is named after the upstream bug.

The cast sleeps, so every gauge is still and every counter stays at 0 (counters of processes that existed before
the exporter started begin at 0 in both): comparisons can be exact except memory (PSS moves as sharers come and go).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import exporters, realprocs
from harness import exposition as ex

from agent_real import scene as scenes
from agent_real.conftest import require, unique_prefix

pytestmark = [pytest.mark.realproc, pytest.mark.peer, pytest.mark.timeout(300)]

IMPLS = [exporters.DEBIAN, exporters.UPSTREAM, exporters.AGENT]
PEERS = [exporters.DEBIAN, exporters.UPSTREAM]


@pytest.fixture(scope="module")
def scene(procset: realprocs.ProcSet) -> Iterator[scenes.Scene]:
    yield scenes.build(procset, unique_prefix())


def run(scene: scenes.Scene, name: str, *flags: str) -> list[ex.Sample]:
    return scene.ours(scene.run(require(name), tuple(flags)))


@pytest.mark.parametrize("impl", IMPLS)
def test_groups_are_exactly_the_expected_ones(scene: scenes.Scene, impl: str) -> None:
    """comm/exe/cmdline matching, templates (.Comm .ExeBase .ExeFull .Matches .Username .PID), first match wins,
    AND of selectors inside an entry."""
    got = ex.groups(run(scene, impl))
    assert got == set(scene.members), f"missing {set(scene.members) - got}, unexpected {got - set(scene.members)}"
    assert not got & scene.absent


@pytest.mark.parametrize("metric", ["num_procs", "num_threads", "open_filedesc"])
@pytest.mark.parametrize("impl", IMPLS)
def test_gauges_match_proc(scene: scenes.Scene, impl: str, metric: str) -> None:
    """num_procs counts -children attribution (the `par` group has its two kids); threads and fds sum /proc."""
    assert ex.by_group(run(scene, impl), metric) == scenes.truth_by_group(scene, metric)


@pytest.mark.parametrize("impl", IMPLS)
def test_memory_matches_proc(scene: scenes.Scene, impl: str) -> None:
    samples = run(scene, impl)
    for memtype in ("resident", "virtual"):
        got = ex.by_group(samples, "memory_bytes", memtype=memtype)
        want = scenes.truth_by_group(scene, memtype)
        assert set(got) == set(want)
        for group, value in want.items():
            assert got[group] == pytest.approx(value, rel=0.01), (memtype, group)


@pytest.mark.parametrize("impl", IMPLS)
def test_counters_start_at_zero_for_processes_older_than_the_exporter(scene: scenes.Scene, impl: str) -> None:
    samples = run(scene, impl)
    for metric in ("cpu_seconds_total", "major_page_faults_total", "context_switches_total"):
        values = ex.by_group(samples, metric)
        assert set(values) == set(scene.members), metric
        assert all(v <= 0.02 for v in values.values()), (metric, values)


@pytest.mark.parametrize("impl", IMPLS)
def test_single_threaded_states_match_proc(scene: scenes.Scene, impl: str) -> None:
    samples = run(scene, impl)
    for group in set(scene.members) - scene.multi_threaded:
        assert ex.by_group(samples, "states", state="Sleeping")[group] == len(scene.members[group]), group
        assert ex.by_group(samples, "states")[group] == len(scene.members[group]), group


@pytest.mark.parametrize("impl", IMPLS)
def test_states_counts_each_thread_once_unlike_upstream_338(scene: scenes.Scene, impl: str) -> None:
    """process-exporter adds a multi-threaded process's own state to the states of all its threads (#338, open):
    4 threads show as 5. The agent counts each thread once. The process-exporter case asserts the bug, so a fixed
    upstream would show up here."""
    group = f"{scene.prefix}-thr"
    threads = scenes.truth_by_group(scene, "threads_once")[group]
    assert threads == 4
    got = ex.by_group(run(scene, impl), "states")[group]
    expected = threads if impl == exporters.AGENT else threads + 1
    assert got == expected


@pytest.mark.parametrize("impl", IMPLS)
def test_thread_names_counted(scene: scenes.Scene, impl: str) -> None:
    samples = run(scene, impl)
    group = f"{scene.prefix}-thr"
    counts = {s.labels["threadname"]: s.value
              for s in ex.select(samples, ex.GROUP_PREFIX + "thread_count", groupname=group)}
    assert counts == {f"{scene.prefix}-thr": 1, f"{scene.prefix}-t": 3}


@pytest.mark.parametrize("impl", IMPLS)
def test_children_false_keeps_children_out(scene: scenes.Scene, impl: str) -> None:
    procs_by_group = ex.by_group(run(scene, impl, "-children=false"), "num_procs")
    assert procs_by_group["par"] == 1
    # A child that matches its own entry never depended on -children.
    assert procs_by_group[f"{scene.prefix}-alpha"] == 4


@pytest.mark.parametrize("impl", IMPLS)
def test_procnames_flag(scene: scenes.Scene, impl: str) -> None:
    p = scene.prefix
    got = ex.by_group(run(scene, impl, "-procnames", f"{p}-alpha,{p}-thr"), "num_procs")
    assert got == {f"{p}-alpha": 4, f"{p}-thr": 1}


@pytest.mark.parametrize("impl", IMPLS)
def test_namemapping_flag(scene: scenes.Scene, impl: str) -> None:
    """-namemapping name,regex: group `name:<first non-empty capture>` for processes whose comm is `name`."""
    p = scene.prefix
    got = ex.by_group(run(scene, impl, "--namemapping", f"{p}-cmd,--role=([a-z]+)"), "num_procs")
    assert got == {f"{p}-cmd:ingest": 1, f"{p}-cmd:egest": 1}


# --- the agent against each process-exporter, sample for sample ----------------------------------------------

@pytest.mark.parametrize("peer", PEERS)
def test_agent_same_samples_as_process_exporter(scene: scenes.Scene, peer: str) -> None:
    agent, other = run(scene, exporters.AGENT), run(scene, peer)
    assert ex.groups(agent) == ex.groups(other)
    problems = []
    for group in sorted(ex.groups(other)):
        problems += scenes.diff_group(agent, other, group, skip_states=group in scene.multi_threaded)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("peer", PEERS)
def test_agent_same_families_types_and_label_names_as_process_exporter(scene: scenes.Scene, peer: str) -> None:
    def shape(samples: list[ex.Sample]) -> dict[str, set[tuple[str, ...]]]:
        out: dict[str, set[tuple[str, ...]]] = {}
        for s in samples:
            if s.name.startswith("namedprocess_"):
                out.setdefault(s.name, set()).add(tuple(sorted(s.labels)))
        return out

    agent = scene.run(require(exporters.AGENT))
    other = scene.run(require(peer))
    assert shape(agent) == shape(other)
