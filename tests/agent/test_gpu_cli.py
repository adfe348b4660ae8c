"""The GPU flags from the command line, as subprocesses (each loads NVML its own way): the binding's own search for
libnvidia-ml.so.1 (LD_LIBRARY_PATH) finding the fake NVML (tools/fakenvml, a test double for absent hardware), a
missing library, and the default agent that never imports the binding. The config rules for `gpu:` and `.GPUs`."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakenvml import Scenario
from gpu_scene import build_fake_nvml, series, value
from harness.fakeproc import FakeProc
from process_monitor_agent.config import ConfigError, parse_config
from process_monitor_agent.rules import ProcAttrs

CONFIG = ('process_names:\n  - name: "gpu:{{.Comm}}{{.GPUs}}"\n    gpu: true\n'
          '  - name: "{{.Comm}}"\n    cmdline: [".+"]\n')


@pytest.fixture(scope="session")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fake_nvml(tmp_path_factory.getbasetemp() / "fakenvml")


def _run(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    fp = FakeProc(tmp_path / "proc")
    fp.add(100, comm="trainer", cmdline=["python", "train.py"])
    fp.add(200, comm="sshd", cmdline=["sshd"])
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    argv = [sys.executable, "-m", "process_monitor_agent", f"-procfs={fp.root}", f"-config.path={cfg}",
            "-threads=false", "-once-to-stdout-delay=50ms", *flags]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
                          check=False)


def test_binding_finds_the_library_through_the_loaders_search_path(tmp_path: Path, lib: Path) -> None:
    scenario = Scenario().device("GPU-x", "NVIDIA L4").proc(0, 100, 123456789).util(0, 100, 60, ts=10)
    scenario.write(tmp_path / "s.txt")
    p = _run(tmp_path, "-gpu.enabled", env={"LD_LIBRARY_PATH": str(lib.parent),
                                           "FAKE_NVML_SCENARIO": str(tmp_path / "s.txt")})
    assert p.returncode == 0, p.stderr
    mem = value(p.stdout, "namedprocess_namegroup_gpu_memory_bytes", groupname="gpu:trainer[0]", gpu="0",
                UUID="GPU-x")
    assert mem == 123456789
    assert value(p.stdout, "namedprocess_namegroup_num_procs", groupname="sshd") == 1


def test_missing_library_is_a_metric_and_one_log_line(tmp_path: Path) -> None:
    if ctypes.util.find_library("nvidia-ml"):
        pytest.skip("this machine has a real libnvidia-ml: the missing-library case cannot be staged")
    empty = tmp_path / "empty"
    empty.mkdir()
    p = _run(tmp_path, "-gpu.enabled", env={"LD_LIBRARY_PATH": str(empty)})
    assert p.returncode == 0, p.stderr
    # Two collections (priming + printed): counted twice, logged once.
    assert value(p.stdout, "process_monitor_agent_gpu_scrape_errors_total", reason="library_not_found") == 2
    assert value(p.stdout, "process_monitor_agent_gpu_up") == 0
    assert value(p.stdout, "namedprocess_namegroup_num_procs", groupname="trainer") == 1
    assert p.stderr.count("level=error") == 1, p.stderr
    p = _run(tmp_path / "b", "-gpu.enabled", f"-gpu.library={empty}/libnvidia-ml.so.1")
    assert value(p.stdout, "process_monitor_agent_gpu_scrape_errors_total", reason="library_not_found") == 2
    assert "cannot load -gpu.library" in p.stderr


def test_default_agent_never_imports_the_binding_and_exports_no_gpu_series(tmp_path: Path) -> None:
    code = ("import sys, runpy; sys.argv = sys.argv[1:]; from process_monitor_agent.cli import main; rc = main();"
            " print('PYNVML-IMPORTED' if 'pynvml' in sys.modules else 'PYNVML-ABSENT'); sys.exit(rc)")
    fp = FakeProc(tmp_path / "proc")
    fp.add(100, comm="trainer")
    p = subprocess.run([sys.executable, "-c", code, "agent", f"-procfs={fp.root}", "-procnames=trainer",
                        "-once-to-stdout-delay=10ms"], capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    assert "PYNVML-ABSENT" in p.stdout
    assert "gpu" not in "".join(line for line in p.stdout.splitlines() if not line.startswith("#"))
    exposition = p.stdout.replace("PYNVML-ABSENT\n", "")  # the marker line is ours, not the agent's output
    assert not series(exposition, "process_monitor_agent_gpu_up")


def test_config_without_the_flag_warns(tmp_path: Path) -> None:
    p = _run(tmp_path)
    assert p.returncode == 0
    assert "-gpu.enabled is off" in p.stderr
    assert value(p.stdout, "namedprocess_namegroup_num_procs", groupname="trainer") == 1


@pytest.mark.parametrize("entry, message", [
    ("gpu: yes-please", "gpu must be true or false, got 'yes-please'"),
    ("gpu: 1", "gpu must be true or false, got '1'"),  # scalars load as text, as yaml.v2 reads them
    ("gpu: [true]", "gpu must be true or false"),
])
def test_gpu_matcher_must_be_a_boolean(entry: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(f"process_names:\n  - name: x\n    {entry}\n")


def test_gpu_matcher_alone_or_combined_with_others() -> None:
    rules = parse_config("process_names:\n"
                         "  - {name: 'py-gpu', gpu: true, comm: [python], cmdline: ['train']}\n"
                         "  - {name: 'any-gpu:{{.GPUs}}', gpu: true}\n"
                         "  - {name: 'no-gpu', gpu: false, comm: [python]}\n").rules
    assert rules.needs_gpu and not parse_config("process_names:\n  - comm: [a]\n").rules.needs_gpu

    def attrs(comm: str, argv: list[str], gpus: tuple[str, ...]) -> ProcAttrs:
        a = ProcAttrs(comm, argv)
        a.gpus = gpus
        return a

    assert rules.name_of(attrs("python", ["python", "train.py"], ("0",))) == "py-gpu"
    assert rules.name_of(attrs("python", ["python", "serve.py"], ("0", "1:3"))) == "any-gpu:[0 1:3]"
    assert rules.name_of(attrs("python", ["python", "train.py"], ())) == "no-gpu"
    assert rules.name_of(attrs("bash", ["bash"], ())) is None
