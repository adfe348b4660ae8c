"""Side by side on the real /proc, behaviour over time: exec wrappers and -recheck / -recheck-with-time-limit
(upstream #29, #229), -remove-empty-groups (upstream 0.8.3+), and -once-to-stdout-delay.

All exporters (each implementation with each flag set) watch the same processes at the same time: a wrapper that
execs into the target name after the exporters first saw it, and a process that exits. Debian's 0.7.10 lacks
-recheck-with-time-limit, -remove-empty-groups and -once-to-stdout-delay, so those run against upstream v0.8.7.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from harness import exporters, realprocs
from harness import exposition as ex

from agent_real.conftest import require, unique_prefix

pytestmark = [pytest.mark.realproc, pytest.mark.peer, pytest.mark.timeout(300)]

PLAIN, RECHECK = (), ("-recheck",)
LIMIT_LONG = ("-recheck-with-time-limit=1h",)
LIMIT_SHORT_REMOVE = ("-recheck-with-time-limit=1ms", "-remove-empty-groups")
VARIANTS = {
    exporters.DEBIAN: [PLAIN, RECHECK],
    exporters.UPSTREAM: [PLAIN, RECHECK, LIMIT_LONG, LIMIT_SHORT_REMOVE],
    exporters.AGENT: [PLAIN, RECHECK, LIMIT_LONG, LIMIT_SHORT_REMOVE],
}


@dataclass
class Timeline:
    prefix: str
    config: str
    after: dict[tuple[str, tuple[str, ...]], list[ex.Sample]]  # (impl, flags) -> samples after exec and exit
    unavailable: dict[str, str]


@pytest.fixture(scope="module")
def timeline(procset: realprocs.ProcSet) -> Iterator[Timeline]:
    p = unique_prefix()
    target = [str(procset.link(f"{p}-tgt")), "600"]
    # The wrapper burns CPU before any exporter starts: that CPU predates them, so it must never be counted.
    wrapper = procset.worker(f"{p}-wrap", exec_on_usr1=target, burn=0.3)
    gone = procset.sleeper(f"{p}-gone")
    procset.sleeper(f"{p}-stay")
    config = exporters.write_config(procset.workdir / "dynamic.yaml", [
        {"name": "tgt", "comm": [f"{p}-tgt"]},
        {"name": "{{.Comm}}", "comm": [f"{p}-gone", f"{p}-stay"]},
    ])
    impls = exporters.available()
    unavailable = {k: str(v) for k, v in impls.items() if isinstance(v, exporters.Unavailable)}
    with contextlib.ExitStack() as stack:
        running = {
            (name, flags): stack.enter_context(
                exporters.Exporter(impl, ["-config.path", str(config), *flags], procset.workdir))
            for name, impl in impls.items() if isinstance(impl, exporters.Implementation)
            for flags in VARIANTS[name]
        }
        for exp in running.values():  # everyone has seen (and ignored) the wrapper, and seen `gone` alive
            assert ex.by_group(ex.parse(exp.scrape()), "num_procs").get(f"{p}-gone") == 1
        wrapper.popen.send_signal(signal.SIGUSR1)  # type: ignore[union-attr]
        procset._wait_comm(wrapper.pid, f"{p}-tgt")
        procset.kill(gone)
        exporters.past_reuse_window()
        after = {key: ex.parse(exp.scrape()) for key, exp in running.items()}
    yield Timeline(p, str(config), after, unavailable)


def samples(tl: Timeline, impl: str, flags: tuple[str, ...]) -> list[ex.Sample]:
    if impl in tl.unavailable:
        pytest.skip(tl.unavailable[impl])
    return tl.after[(impl, flags)]


CASES = [(impl, flags) for impl, variants in VARIANTS.items() for flags in variants]


def case_id(case: tuple[str, tuple[str, ...]]) -> str:
    return f"{case[0]}{''.join(case[1]) or '-plain'}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_exec_wrapper_is_found_only_when_rechecked_like_upstream_29(timeline: Timeline, case: tuple) -> None:
    """A process first seen under another name stays ignored after exec, unless rechecked (while young enough)."""
    impl, flags = case
    num_procs = ex.by_group(samples(timeline, impl, flags), "num_procs")
    rechecked = flags in (RECHECK, LIMIT_LONG)
    assert num_procs.get("tgt", 0) == (1 if rechecked else 0)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] in (RECHECK, LIMIT_LONG)], ids=case_id)
def test_rechecked_process_older_than_exporter_counts_only_growth(timeline: Timeline, case: tuple) -> None:
    """Matched late (after exec, by -recheck), yet started before the exporter: upstream's tracker counts a
    process's whole lifetime only if it started after the exporter's first collection, so its 0.3 s of CPU burnt
    before the exporters started stays out."""
    impl, flags = case
    cpu = ex.by_group(samples(timeline, impl, flags), "cpu_seconds_total")
    assert cpu["tgt"] <= 0.03


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_empty_group_kept_unless_remove_empty_groups(timeline: Timeline, case: tuple) -> None:
    impl, flags = case
    num_procs = ex.by_group(samples(timeline, impl, flags), "num_procs")
    p = timeline.prefix
    assert num_procs[f"{p}-stay"] == 1
    if "-remove-empty-groups" in flags:
        assert f"{p}-gone" not in num_procs
    else:
        assert num_procs[f"{p}-gone"] == 0


@pytest.mark.parametrize("impl", [exporters.UPSTREAM, exporters.AGENT])
def test_once_to_stdout_delay_prints_one_exposition(timeline: Timeline, impl: str) -> None:
    runner = require(impl)
    proc = subprocess.run([*runner.argv, "-config.path", timeline.config, "-once-to-stdout-delay=200ms"],
                          capture_output=True, text=True, timeout=120, env=exporters.env_of(runner))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("# TYPE namedprocess_namegroup_num_procs gauge") == 1
    num_procs = ex.by_group(ex.parse(proc.stdout), "num_procs")
    # A fresh exporter sees the exec'd wrapper under its new name; `gone` has exited before it started.
    assert num_procs == {f"{timeline.prefix}-stay": 1, "tgt": 1}
