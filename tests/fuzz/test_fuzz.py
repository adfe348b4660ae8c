"""Fuzz the agent's input parsers for a bounded time each (atheris; targets in fuzz_agent.py): zero crashes, where
a crash is any exception but the documented one, a hang, or runaway memory. Seeds are under tests/fuzz/corpus/;
what libFuzzer finds new goes to a temporary directory, so a run never changes the checkout. Each target runs
FUZZ_SECONDS (environment PM_FUZZ_SECONDS, default 6; the five targets and the self-check take ~45 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris (the test extra) has wheels for CPython 3.11 on x86_64 Linux only")

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(300)]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FUZZ_SECONDS = int(os.environ.get("PM_FUZZ_SECONDS", "6"))


def fuzz(target: str, seeds: Path, tmp_path: Path, seconds: int) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run one target; (the process, names of the crash/timeout/oom artifacts it wrote)."""
    work = tmp_path / "corpus"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("agent", "operator", "tools")))
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz_agent.py"), target, f"-max_total_time={seconds}", "-timeout=10",
         "-rss_limit_mb=2048", "-max_len=16384", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1",
         str(work), str(seeds)],
        capture_output=True, text=True, timeout=seconds + 120, env=env, cwd=tmp_path,
    )
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-")))
    return proc, crashes


@pytest.mark.parametrize("target", ["config", "template", "procfs", "http", "webconfig"])
def test_fuzz_target_finds_no_crash(target: str, tmp_path: Path) -> None:
    seeds = HERE / "corpus" / target
    assert any(seeds.iterdir()), f"no seeds in {seeds}"
    proc, crashes = fuzz(target, seeds, tmp_path, FUZZ_SECONDS)
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
    assert proc.returncode == 0 and not crashes, f"{target}: exit {proc.returncode}, artifacts {crashes}\n{tail}"
    runs = [ln for ln in proc.stderr.splitlines() if ln.startswith("stat::number_of_executed_units")]
    assert runs and int(runs[0].split(":")[-1]) > 100, f"{target}: the fuzzer barely ran\n{tail}"


def test_the_harness_reports_a_crash(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "boom").write_bytes(b"crash")
    proc, crashes = fuzz("selfcheck", seeds, tmp_path, 5)
    assert proc.returncode != 0 and crashes and "selfcheck crash" in proc.stdout + proc.stderr
