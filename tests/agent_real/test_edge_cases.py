"""Side by side on the real /proc, the corners of process-exporter's semantics a drop-in must reproduce:
label escaping, 15-byte comm truncation, setproctitle-style argv[0], {{.Username}} (known and unknown uid),
a missing named capture, {{.StartTime}}, {{.Cgroups}}, the default name, zombies, grandchildren under -children,
-threads=false and -gather-smaps=false. Each implementation against the expected answer, then the agent against
each process-exporter.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Iterator

import pytest
from harness import exporters, realprocs
from harness import exposition as ex

from agent_real import scene as scenes
from agent_real.conftest import require, unique_prefix

pytestmark = [pytest.mark.realproc, pytest.mark.peer, pytest.mark.timeout(300)]

IMPLS = [exporters.DEBIAN, exporters.UPSTREAM, exporters.AGENT]
PEERS = [exporters.DEBIAN, exporters.UPSTREAM]
GO_TIME = re.compile(r"^st-\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$")


@pytest.fixture(scope="module")
def edge(procset: realprocs.ProcSet) -> Iterator[scenes.Scene]:
    ps, p = procset, unique_prefix()
    members: dict[str, list[int]] = {}
    odd = p + '-"\\ x'  # quote, backslash and space in a comm (and so in a groupname label)
    members[odd] = [ps.worker(odd).pid]
    long_name = f"{p}-verylongname"  # the kernel keeps 15 bytes of comm
    members["long-trunc"] = [ps.sleeper(long_name).pid]
    members[f"ngx-{p}-ngxd"] = [ps.sleeper(f"{p}-ngx", argv0=f"{p}-ngx: master process /usr/sbin/{p}-ngxd").pid]
    members["user-nobody"] = [ps.sleeper(f"{p}-u1", user=65534).pid]
    members["user-54321"] = [ps.sleeper(f"{p}-u2", user=54321).pid]
    members["nv-<no value>"] = [ps.worker(f"{p}-nv", tokens=[f"{p}-nvtok"]).pid]
    ps.sleeper(f"{p}-st")  # named from its start time: checked by shape, see dynamic_group
    ps.sleeper(f"{p}-cg")
    members[f"{p}-dfltexe"] = [ps.sleeper(f"{p}-dflt", argv0=f"/x/y/{p}-dfltexe").pid]
    zmb = ps.worker(f"{p}-zmb", zombies=2)
    members[f"{p}-zmb"] = [zmb.pid, *zmb.children]
    mid = [sys.executable, str(realprocs.WORKER), "--comm", f"{p}-mid", "--ttl", "600",
           "--child", json.dumps(ps.child_argv(f"{p}-gkid")), "--child", json.dumps(ps.child_argv(f"{p}-gkid"))]
    gp = ps.worker(f"{p}-gp", children=[mid])
    members["gp"] = [gp.pid, *gp.children, *ps.wait_for_comm_count(f"{p}-gkid", 2)]
    stopped = ps.sleeper(f"{p}-stop")
    os.kill(stopped.pid, signal.SIGSTOP)  # state T: process-exporter's "Other"
    members[f"{p}-stop"] = [stopped.pid]
    config = exporters.write_config(ps.workdir / "edge.yaml", [
        {"name": "{{.Comm}}", "comm": [odd]},
        {"name": "long-full", "comm": [long_name]},
        {"name": "long-trunc", "comm": [long_name[:15]]},
        {"name": "ngx-{{.ExeBase}}", "exe": [f"{p}-ngxd"]},
        {"name": "user-{{.Username}}", "comm": [f"{p}-u1", f"{p}-u2"]},
        {"name": "nv-{{.Matches.nope}}", "cmdline": [f"{p}-nvtok"]},
        {"name": "st-{{.StartTime}}", "comm": [f"{p}-st"]},
        {"name": "cg-{{.Cgroups}}", "comm": [f"{p}-cg"]},
        {"comm": [f"{p}-dflt"]},
        {"name": "{{.Comm}}", "comm": [f"{p}-zmb"]},
        {"name": "gp", "comm": [f"{p}-gp"]},
        {"name": "{{.Comm}}", "comm": [f"{p}-stop"]},
    ])
    scene = scenes.Scene(prefix=p, ps=ps, workdir=ps.workdir, config=config, members=members,
                         multi_threaded=set(), absent={"long-full"})
    yield scene


def run(scene: scenes.Scene, name: str, *flags: str) -> list[ex.Sample]:
    return scene.ours(scene.run(require(name), tuple(flags)))


def dynamic_group(groups: set[str], prefix: str) -> str:
    found = [g for g in groups if g.startswith(prefix)]
    assert len(found) == 1, f"expected one group starting {prefix!r}, got {found}"
    return found[0]


@pytest.mark.parametrize("impl", IMPLS)
def test_edge_groups_and_num_procs(edge: scenes.Scene, impl: str) -> None:
    num_procs = ex.by_group(run(edge, impl), "num_procs")
    st = dynamic_group(set(num_procs), "st-")
    cg = dynamic_group(set(num_procs), "cg-[")
    assert GO_TIME.match(st), st
    want = {g: float(len(pids)) for g, pids in edge.members.items()} | {st: 1.0, cg: 1.0}
    assert num_procs == want


@pytest.mark.parametrize("impl", IMPLS)
def test_zombies_count_in_states(edge: scenes.Scene, impl: str) -> None:
    group = f"{edge.prefix}-zmb"
    states = {s.labels["state"]: s.value
              for s in ex.select(run(edge, impl), ex.GROUP_PREFIX + "states", groupname=group)}
    assert states.get("Zombie") == 2
    assert states.get("Sleeping") == 1


@pytest.mark.parametrize("impl", IMPLS)
def test_stopped_process_counts_as_other(edge: scenes.Scene, impl: str) -> None:
    group = f"{edge.prefix}-stop"
    assert realprocs.read_stat(edge.members[group][0])[2] == "T"
    states = {s.labels["state"]: s.value
              for s in ex.select(run(edge, impl), ex.GROUP_PREFIX + "states", groupname=group)}
    assert states == {"Running": 0, "Sleeping": 0, "Waiting": 0, "Zombie": 0, "Other": 1}


@pytest.mark.parametrize("impl", IMPLS)
def test_threads_false_emits_no_per_thread_metrics(edge: scenes.Scene, impl: str) -> None:
    names = {s.name for s in run(edge, impl, "-threads=false")}
    assert not {n for n in names if n.startswith(ex.GROUP_PREFIX + "thread_")}
    assert ex.GROUP_PREFIX + "num_threads" in names


@pytest.mark.parametrize("impl", IMPLS)
def test_threads_false_emits_no_threads_wchan_unlike_upstream_172(edge: scenes.Scene, impl: str) -> None:
    """process-exporter still reads every thread's wchan and emits threads_wchan with -threads=false (#172, open);
    the agent reads no per-thread file then, and emits none. The process-exporter case asserts the bug."""
    wchan = ex.select(run(edge, impl, "-threads=false"), ex.GROUP_PREFIX + "threads_wchan")
    if impl == exporters.AGENT:
        assert wchan == []
    else:
        assert wchan


@pytest.mark.parametrize("impl", IMPLS)
def test_gather_smaps_false_drops_proportional_memory(edge: scenes.Scene, impl: str) -> None:
    memtypes = {s.labels["memtype"] for s in ex.select(run(edge, impl, "-gather-smaps=false"),
                                                        ex.GROUP_PREFIX + "memory_bytes")}
    assert memtypes == {"resident", "virtual", "swapped"}
    with_smaps = {s.labels["memtype"] for s in ex.select(run(edge, impl), ex.GROUP_PREFIX + "memory_bytes")}
    assert with_smaps == memtypes | {"proportionalResident", "proportionalSwapped"}


@pytest.mark.parametrize("flags", [(), ("-threads=false",)], ids=["default", "threads-false"])
@pytest.mark.parametrize("peer", PEERS)
def test_agent_edge_samples_match_process_exporter(edge: scenes.Scene, peer: str, flags: tuple[str, ...]) -> None:
    """Same group names to the byte (escaping, templates), same values, with and without -threads."""
    agent, other = run(edge, exporters.AGENT, *flags), run(edge, peer, *flags)
    assert ex.groups(agent) == ex.groups(other)
    problems = []
    for group in sorted(ex.groups(other)):
        problems += scenes.diff_group(agent, other, group, skip_states=False)
    assert not problems, "\n".join(problems)
