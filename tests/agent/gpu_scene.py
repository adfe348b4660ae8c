"""Shared pieces of the agent's GPU tests (tests/agent/test_gpu*.py): the fake NVML library, a collector over a
fake procfs tree with GPU metrics on, and the exposition reader (harness.exposition).

The fake NVML (tools/fakenvml) is a test double for absent hardware: a C library built here with gcc that the real
`nvidia-ml-py` binding loads as libnvidia-ml.so.1, so the binding's own code runs; the processes NVML lists are
FakeProc processes with the same PIDs, so matching, grouping and exposition run unchanged.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import fakenvml
import pytest
from harness import exposition
from harness.fakeproc import FakeProc
from process_monitor_agent.collector import Collector
from process_monitor_agent.config import parse_config
from process_monitor_agent.gpu.monitor import GpuMonitor
from process_monitor_agent.gpu.nvml import NvmlReader
from process_monitor_agent.track import Settings


def build_fake_nvml(directory: Path) -> Path:
    try:
        return fakenvml.build(directory)
    except fakenvml.BuildError as e:
        pytest.skip(f"cannot build the fake NVML: {e}")


def series(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """{frozenset of label pairs: value} of every sample of `name` in an exposition (harness.exposition)."""
    return exposition.labelsets(exposition.parse(text), name)


def value(text: str, name: str, **labels: str) -> float | None:
    """The one sample of `name` whose labels are exactly `labels`, or None."""
    return series(text, name).get(frozenset(labels.items()))


class GpuAgent:
    """A Collector with -gpu.enabled over a FakeProc tree and the fake NVML scripted by `scene` writes."""

    def __init__(self, root: Path, lib: Path, config: str, scenario: Path, timeout: float = 2.0,
                 retry_interval: float = 0.0) -> None:
        self.config = parse_config(config)
        self.scenario = scenario
        self.reader = NvmlReader(str(lib), retry_interval=retry_interval)
        self.monitor = GpuMonitor(self.reader, timeout=timeout)
        self.collector = Collector(Settings(procfs=str(root), threads=False), self.config, self_metrics=False,
                                   max_age=0.0, gpu=self.monitor)
        self.lib = ctypes.CDLL(str(lib))  # the same object the binding loaded (matched by SONAME)
        self.lib.fake_nvml_calls.restype = ctypes.c_long
        self.lib.fake_nvml_calls.argtypes = [ctypes.c_char_p]
        self.lib.fake_nvml_reset()

    def scene(self, s: fakenvml.Scenario) -> None:
        s.write(self.scenario)

    def collect(self) -> str:
        return self.collector.collect().decode()

    def calls(self, func: str) -> int:
        return int(self.lib.fake_nvml_calls(func.encode()))

    def close(self) -> None:
        self.monitor.close()


def fake_tree(root: Path) -> FakeProc:
    return FakeProc(root)
