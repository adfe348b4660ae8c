"""Hostile process names on the real /proc: what any local user can do with prctl(PR_SET_NAME) must not take the
exporter down. process-exporter (Debian 0.7.10 and upstream v0.8.7 alike) panics and exits on the first scrape
when a grouped process's comm is not valid UTF-8 and the group name uses {{.Comm}} (client_golang's
MustNewConstMetric refuses the label value); the agent keeps serving. Also a comm that looks like the end of the
stat comm field (`x) Z 1 (`), which naive parsers of /proc/<pid>/stat get wrong.

The offending process lives only for this module (other exporters on a shared machine would die too).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import exporters, realprocs
from harness import exposition as ex

from agent_real.conftest import require, unique_prefix

pytestmark = [pytest.mark.realproc, pytest.mark.peer, pytest.mark.timeout(300)]


@pytest.fixture
def hostile(procset: realprocs.ProcSet) -> Iterator[tuple[str, bytes]]:
    p = unique_prefix()
    bad = p.encode() + b"-\xff\xfe"
    proc = procset.worker(bad, tokens=[f"{p}-hostile"])
    try:
        yield p, bad
    finally:
        procset.kill(proc)


def config_for(procset: realprocs.ProcSet, prefix: str) -> str:
    # The file name must not match the regex: the exporter's own cmdline holds it.
    return str(exporters.write_config(procset.workdir / f"robust-{prefix}.yaml",
                                      [{"name": "{{.Comm}}", "cmdline": [f"{prefix}-hostile"]}]))


@pytest.mark.parametrize("peer", [exporters.DEBIAN, exporters.UPSTREAM])
def test_process_exporter_dies_on_a_comm_that_is_not_utf8(procset: realprocs.ProcSet, hostile: tuple[str, bytes],
                                                          peer: str) -> None:
    """Documents the upstream crash this agent does not copy (so a fixed upstream shows up here)."""
    prefix, _ = hostile
    impl = require(peer)
    with pytest.raises(exporters.ExporterError, match="not valid UTF-8"):
        # The first GET (the readiness probe) is the first scrape: it panics, so start-up fails with its log.
        exporters.Exporter(impl, ["-config.path", config_for(procset, prefix)], procset.workdir).close()


def test_agent_serves_a_comm_that_is_not_utf8_unlike_process_exporter(procset: realprocs.ProcSet,
                                                                      hostile: tuple[str, bytes]) -> None:
    prefix, bad = hostile
    agent = require(exporters.AGENT)
    with exporters.Exporter(agent, ["-config.path", config_for(procset, prefix)], procset.workdir) as exp:
        first = exp.scrape()
        second = exp.scrape()
        assert exp.popen.poll() is None
    num_procs = ex.by_group(ex.parse(second), "num_procs")
    assert num_procs == {bad.decode("utf-8", "replace"): 1}, num_procs
    assert first.encode("utf-8")  # served text is valid UTF-8 (http_request decoded it with replacement)


@pytest.mark.parametrize("impl", [exporters.DEBIAN, exporters.UPSTREAM, exporters.AGENT])
def test_comm_that_mimics_the_stat_field_end(procset: realprocs.ProcSet, impl: str) -> None:
    p = unique_prefix()
    tricky = f"{p}) Z 1 ("  # 15 bytes: the kernel keeps all of it
    proc = procset.worker(tricky, threads=2, tokens=[f"{p}-tricky"])
    try:
        cfg = exporters.write_config(procset.workdir / f"tricky-{p}.yaml",
                                     [{"name": "{{.Comm}}", "cmdline": [f"{p}-tricky"]}])
        with exporters.Exporter(require(impl), ["-config.path", str(cfg)], procset.workdir) as exp:
            samples = ex.parse(exp.scrape())
    finally:
        procset.kill(proc)
    assert ex.by_group(samples, "num_procs") == {tricky: 1}
    assert ex.by_group(samples, "num_threads") == {tricky: 2}
    assert ex.by_group(samples, "states", state="Zombie") == {tricky: 0}
