"""Attacker-sized /proc content on the real kernel, against the agent (no peer needed).

- 20 processes whose argv[0] is 128 KiB (the kernel's MAX_ARG_STRLEN) under process-exporter's default name
  `{{.ExeBase}}`: each becomes its own group with a name of at most -limit.name-length bytes, and one scrape stays
  under a megabyte (it was 63 MB before the limit).
- A process with 3,000 supplementary groups (root only): its status is ~20 KB, so the context switches at its end
  were lost by an 8 KiB read and read as 0.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from harness import exporters, realprocs
from harness import exposition as ex

from agent_real.conftest import require, unique_prefix

pytestmark = [pytest.mark.realproc, pytest.mark.timeout(300)]
ARG_MAX_STRLEN = 128 << 10  # includes the terminating NUL
BORN_LATER_GAP_S = 1.5  # see test_counters.py: a process meant to be new to the exporter starts this much later


def test_twenty_128k_argv0_under_exebase_give_bounded_distinct_names_and_a_small_scrape(
        procset: realprocs.ProcSet) -> None:
    p = unique_prefix()
    started = []
    for i in range(20):
        argv0 = f"{p}{i:02d}" + "x" * (ARG_MAX_STRLEN - 1 - len(p) - 2)
        started.append(procset.sleeper(f"{p}-long", argv0=argv0))
    config = exporters.write_config(procset.workdir / f"long-{p}.yaml", [{"cmdline": [f"^{p}[0-9]{{2}}x"]}])
    agent = require(exporters.AGENT)
    with exporters.Exporter(agent, ["-config.path", str(config)], procset.workdir) as exp:
        body = exp.scrape()
    assert len(body.encode()) < 1 << 20, len(body.encode())
    num_procs = ex.by_group(ex.parse(body), "num_procs")
    ours = {name: n for name, n in num_procs.items() if name.startswith(p)}
    assert len(ours) == 20 and set(ours.values()) == {1.0}
    assert all(len(name.encode()) <= 1024 for name in ours)
    # Each name starts with its own argv[0] (the distinct prefixes survive the cut).
    assert {name[: len(p) + 2] for name in ours} == {f"{p}{i:02d}" for i in range(20)}
    hits = ex.select(ex.parse(body), "process_monitor_agent_limit_hits_total")
    assert {s.labels["limit"]: s.value for s in hits}["group_name_length"] >= 20
    for proc in started:
        procset.kill(proc)


@pytest.mark.skipif(os.geteuid() != 0, reason="setgroups() needs root")
def test_context_switches_of_a_process_with_many_groups_are_read_from_its_whole_status(
        procset: realprocs.ProcSet) -> None:
    p = unique_prefix()
    comm = f"{p}-grp"
    config = exporters.write_config(procset.workdir / f"groups-{p}.yaml", [{"name": "{{.Comm}}", "comm": [comm]}])
    agent = require(exporters.AGENT)
    with exporters.Exporter(agent, ["-config.path", str(config)], procset.workdir) as exp:
        time.sleep(BORN_LATER_GAP_S)  # born after the agent's first collection: its whole life counts
        path = procset.link(comm)
        popen = subprocess.Popen([str(path), "600"], executable=str(path), stdin=subprocess.DEVNULL,
                                 start_new_session=True, preexec_fn=realprocs.die_with_parent,
                                 extra_groups=list(range(10000, 13000)))
        proc = realprocs.Proc(popen.pid, popen)
        procset.procs.append(proc)
        # Wait until it runs `sleep` and has gone to sleep at least once (a voluntary context switch).
        deadline = time.monotonic() + 10
        status, want = b"", 0
        while time.monotonic() < deadline:
            with open(f"/proc/{popen.pid}/status", "rb") as f:
                status = f.read()
            want = int(status.split(b"\nvoluntary_ctxt_switches:")[1].split()[0])
            if realprocs.comm_of(popen.pid) == comm[:15] and want >= 1:
                break
            time.sleep(0.01)
        assert len(status) > 16384  # the point of the test: far past the old 8 KiB read
        exporters.past_reuse_window()
        samples = ex.parse(exp.scrape())
    procset.kill(proc)
    ctx = {s.labels["ctxswitchtype"]: s.value
           for s in ex.select(samples, "namedprocess_namegroup_context_switches_total")
           if s.labels.get("groupname") == comm}
    assert want >= 1
    assert ctx["voluntary"] >= want
