"""Dry run of bench/gpu_check.py (the device check for a real NVIDIA GPU) on doubles for absent hardware: the fake
CUDA driver and the fake NVML from tools/fakenvml. The fake driver's allocations and copies append what a real
driver would report for these processes to the fake NVML's scenario, so the script's whole flow (children with
chosen names, agent with -gpu.enabled, memory and utilisation checks, exit status) runs here; what it cannot show
is that the real driver reports those figures, which only a machine with a GPU can."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fakenvml
import pytest
from fakenvml import Scenario
from gpu_scene import build_fake_nvml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def libdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lib = build_fake_nvml(tmp_path_factory.getbasetemp() / "fakenvml")
    fakenvml.build_cuda(lib.parent)
    return lib.parent


def _run(tmp_path: Path, libdir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    scenario = Scenario().device("GPU-dryrun-0", "NVIDIA Fake H200").write(tmp_path / "s.txt")
    env = {**os.environ, "LD_LIBRARY_PATH": str(libdir), "FAKE_NVML_SCENARIO": str(scenario)}
    return subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--busy", "3",
                           "--deps", str(tmp_path / "no-deps-folder"), *flags],
                          capture_output=True, text=True, timeout=120, env=env, check=False)


def test_check_passes_when_the_driver_reports_what_was_allocated(tmp_path: Path, libdir: Path) -> None:
    p = _run(tmp_path, libdir)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "PASS group pm-gpucheck-b: GPU memory 1600 MiB >= 1536 MiB allocated" in p.stdout
    assert "PASS utilisation moved" in p.stdout and "all GPU checks passed" in p.stdout


def test_check_fails_on_a_mismatch(tmp_path: Path, libdir: Path) -> None:
    # Demands more utilisation than the fake driver reports (0.85 on the memory engine): a mismatch, exit 1.
    p = _run(tmp_path, libdir, "--min-util", "0.9")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "FAIL utilisation moved" in p.stdout and "1 check(s) failed" in p.stdout


def test_check_says_skip_without_a_driver(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "LD_LIBRARY_PATH": str(empty)}
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py")], capture_output=True, text=True,
                       timeout=60, env=env, check=False)
    if "SKIP: no NVIDIA driver" not in p.stdout:
        pytest.skip("this machine has a real libcuda.so.1")
    assert p.returncode == 2
