"""GPU processes end to end, in process: the real nvidia-ml-py binding over the fake NVML (tools/fakenvml, a test
double for absent hardware), FakeProc processes with the PIDs NVML lists, the real tracker, grouper, collector and
exposition. Covers per-group memory, utilisation and process counts per GPU with dcgm-exporter's labels, the
last-seen timestamp and NOT_FOUND when idle, MIG instances, the `gpu:` matcher with re-matching, and the error
cases (GPU lost, permission, timeout), none of which may fail a scrape."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakenvml import GPU_IS_LOST, NO_PERMISSION, Scenario
from gpu_scene import GpuAgent, build_fake_nvml, fake_tree, series, value
from harness.fakeproc import FakeProc
from process_monitor_agent.log import log

GIB = 1 << 30
U0, U1 = "GPU-00000000-aaaa-bbbb-cccc-000000000000", "GPU-11111111-aaaa-bbbb-cccc-111111111111"
CONFIG = """process_names:
  - name: "train-{{.Comm}}"
    comm: [trainer]
    gpu: true
  - name: "{{.Comm}}"
    cmdline: ['.+']
"""
MEM = "namedprocess_namegroup_gpu_memory_bytes"
PROCS = "namedprocess_namegroup_gpu_num_procs"
UTIL = "namedprocess_namegroup_gpu_utilization_ratio"
ERRORS = "process_monitor_agent_gpu_scrape_errors_total"


@pytest.fixture(scope="session")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One build per session at one path: the binding loads the library once per process.
    return build_fake_nvml(tmp_path_factory.getbasetemp() / "fakenvml")


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    old = log.stream
    log.stream = buf
    try:
        yield buf
    finally:
        log.stream = old


Start = Callable[..., tuple[FakeProc, GpuAgent]]


@pytest.fixture
def start(tmp_path: Path, lib: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """`start({pid: comm or FakeProc.add keywords}, root=, config=, **GpuAgent keywords)`: a fake /proc under
    root/proc with those processes and an agent over it with an empty NVML scene; every agent is closed after the
    test."""
    agents: list[GpuAgent] = []

    def make(procs: dict[int, str | dict[str, Any]], root: Path = tmp_path, config: str = CONFIG,
             **kw: float) -> tuple[FakeProc, GpuAgent]:
        fp = fake_tree(root / "proc")
        for pid, p in procs.items():
            fp.add(pid, **({"comm": p} if isinstance(p, str) else p))
        scenario = root / "nvml-scenario.txt"
        Scenario().write(scenario)
        monkeypatch.setenv("FAKE_NVML_SCENARIO", str(scenario))
        agents.append(GpuAgent(root / "proc", lib, config, scenario, **kw))
        return fp, agents[-1]

    try:
        yield make
    finally:
        for a in agents:
            a.close()


def _wait_idle(a: GpuAgent) -> None:
    """Wait (at most 10 s) until the NVML worker thread has finished the read it was stuck in."""
    deadline = time.monotonic() + 10
    while a.monitor.worker.busy() and time.monotonic() < deadline:
        time.sleep(0.05)


def _two_gpus() -> Scenario:
    return Scenario().device(U0, "NVIDIA H100 80GB HBM3").device(U1, "NVIDIA H100 80GB HBM3")


def test_groups_get_memory_processes_and_utilisation_per_gpu(start: Start) -> None:
    _, a = start({100: {"comm": "trainer", "cmdline": ["python", "train.py"]},
                  101: {"comm": "trainer", "cmdline": ["python", "train.py", "--rank=1"]},
                  200: {"comm": "infer", "cmdline": ["infer"]},
                  300: {"comm": "bash", "cmdline": ["bash"]}})
    a.scene(_two_gpus()
            .proc(0, 100, 1 * GIB).proc(0, 101, 2 * GIB).proc(1, 101, GIB // 2)
            .proc(1, 200, 3 * GIB, graphics=True)
            .util(0, 100, sm=30, mem=10, ts=1000).util(0, 101, sm=45, mem=5, enc=2, dec=1, ts=1001)
            .util(1, 200, sm=7, ts=1002))
    text = a.collect()
    g0 = {"gpu": "0", "UUID": U0}
    g1 = {"gpu": "1", "UUID": U1}
    assert value(text, MEM, groupname="train-trainer", **g0) == 3 * GIB
    assert value(text, MEM, groupname="train-trainer", **g1) == GIB // 2
    assert value(text, PROCS, groupname="train-trainer", **g0) == 2
    assert value(text, PROCS, groupname="train-trainer", **g1) == 1
    assert value(text, UTIL, groupname="train-trainer", engine="sm", **g0) == pytest.approx(0.75)
    assert value(text, UTIL, groupname="train-trainer", engine="memory", **g0) == pytest.approx(0.15)
    assert value(text, UTIL, groupname="train-trainer", engine="encoder", **g0) == pytest.approx(0.02)
    assert value(text, UTIL, groupname="train-trainer", engine="decoder", **g0) == pytest.approx(0.01)
    # infer matched the catch-all (comm is not trainer); its graphics context counts like a compute one.
    assert value(text, MEM, groupname="infer", **g1) == 3 * GIB
    assert value(text, UTIL, groupname="infer", engine="sm", **g1) == pytest.approx(0.07)
    assert not [k for k in series(text, MEM) if ("groupname", "bash") in k]
    # The CPU-side families are all still there for the same groups.
    assert value(text, "namedprocess_namegroup_num_procs", groupname="train-trainer") == 2
    assert value(text, "process_monitor_agent_gpu_up") == 1
    assert value(text, "process_monitor_agent_gpu_processes", state="tracked") == 3
    info = series(text, "process_monitor_agent_gpu_info")
    assert frozenset({**g0, "modelName": "NVIDIA H100 80GB HBM3"}.items()) in info
    # One NVML read per collection: each list call once per device.
    assert a.calls("nvmlDeviceGetComputeRunningProcesses_v3") == 2 * 2  # sizing call + read call, 2 GPUs
    assert a.calls("nvmlDeviceGetProcessUtilization") == 2 * 2


def test_idle_gpu_reads_zero_and_last_seen_timestamp_is_kept_per_device(start: Start) -> None:
    _, a = start({100: "trainer", 200: "infer"})
    base = _two_gpus().proc(0, 100, GIB).proc(1, 200, GIB)
    a.scene(Scenario(list(base.lines)).util(0, 100, sm=50, ts=500).util(1, 200, sm=20, ts=90))
    text = a.collect()
    assert value(text, UTIL, groupname="train-trainer", gpu="0", UUID=U0, engine="sm") == 0.5
    # Nothing newer than each device's last sample: NOT_FOUND, which is "idle", not an error.
    text = a.collect()
    assert value(text, UTIL, groupname="train-trainer", gpu="0", UUID=U0, engine="sm") == 0
    assert value(text, UTIL, groupname="infer", gpu="1", UUID=U1, engine="sm") == 0
    assert value(text, MEM, groupname="train-trainer", gpu="0", UUID=U0) == GIB
    assert not series(text, ERRORS)
    # GPU 1 gets a sample newer than its own last one (90) but older than GPU 0's (500): only a per-device
    # timestamp sees it; GPU 0 gets one older than its last, which must not be read again.
    a.scene(Scenario(list(base.lines)).util(0, 100, sm=50, ts=400).util(1, 200, sm=33, ts=120))
    text = a.collect()
    assert value(text, UTIL, groupname="infer", gpu="1", UUID=U1, engine="sm") == pytest.approx(0.33)
    assert value(text, UTIL, groupname="train-trainer", gpu="0", UUID=U0, engine="sm") == 0


def test_gpu_lost_is_an_error_metric_and_one_log_line_never_a_failed_scrape(logs: io.StringIO,
                                                                             start: Start) -> None:
    _, a = start({100: "trainer", 200: "infer"})
    healthy = _two_gpus().proc(0, 100, GIB).proc(1, 200, 2 * GIB)
    a.scene(healthy)
    a.collect()
    a.scene(Scenario(list(healthy.lines)).fail("nvmlDeviceGetComputeRunningProcesses_v3", GPU_IS_LOST, 1))
    for _ in range(3):
        text = a.collect()
    assert value(text, ERRORS, reason="gpu_lost") == 3
    assert value(text, MEM, groupname="train-trainer", gpu="0", UUID=U0) == GIB  # the other GPU still reads
    assert value(text, MEM, groupname="infer", gpu="1", UUID=U1) is None
    assert value(text, "namedprocess_namegroup_num_procs", groupname="infer") == 1
    assert logs.getvalue().count("GPU is lost") == 1, logs.getvalue()
    # The GPU comes back (after a driver reset): NVML is initialised again, the series return, one info line.
    a.scene(healthy)
    text = a.collect()
    text = a.collect()
    assert value(text, MEM, groupname="infer", gpu="1", UUID=U1) == 2 * GIB
    assert value(text, ERRORS, reason="gpu_lost") == 3
    assert logs.getvalue().count("recovered") == 1
    assert a.calls("nvmlShutdown") >= 1 and a.calls("nvmlInitWithFlags") >= 2


def test_permission_error_at_init_keeps_the_scrape_and_retries(logs: io.StringIO, start: Start) -> None:
    _, a = start({100: "trainer"})
    a.scene(_two_gpus().proc(0, 100, GIB).fail("nvmlInitWithFlags", NO_PERMISSION))
    text = a.collect()
    text = a.collect()
    assert value(text, "process_monitor_agent_gpu_up") == 0
    assert value(text, ERRORS, reason="no_permission") == 2
    assert value(text, "namedprocess_namegroup_num_procs", groupname="trainer") == 1  # catch-all: no GPU seen
    assert not series(text, MEM)
    assert logs.getvalue().count("Insufficient Permissions") == 1
    a.scene(_two_gpus().proc(0, 100, GIB))
    text = a.collect()
    assert value(text, "process_monitor_agent_gpu_up") == 1


def test_a_hanging_nvml_read_times_out_and_is_not_stacked(start: Start) -> None:
    _, a = start({100: "trainer"}, timeout=0.05)
    a.scene(_two_gpus().proc(0, 100, GIB))
    a.collect()  # NVML answered once: from now on a slow read is a timeout, not "still initialising"
    a.scene(_two_gpus().proc(0, 100, GIB).sleep("nvmlDeviceGetComputeRunningProcesses_v3", 700))
    text = a.collect()
    assert value(text, ERRORS, reason="timeout") == 1
    assert value(text, "process_monitor_agent_gpu_up") == 0
    assert value(text, "namedprocess_namegroup_num_procs", groupname="train-trainer") == 1
    assert not series(text, MEM)  # no stale GPU figures while NVML does not answer
    text = a.collect()  # the first read is still stuck: no second read is started behind it
    assert value(text, ERRORS, reason="timeout") == 2
    # First read: 2 calls for GPU 0 (size, fill) and 1 for the empty GPU 1; then the one call stuck in GPU 0.
    assert a.calls("nvmlDeviceGetComputeRunningProcesses_v3") == 3 + 1
    a.scene(_two_gpus().proc(0, 100, GIB))
    _wait_idle(a)
    a.monitor.timeout = 5.0
    text = a.collect()
    assert value(text, "process_monitor_agent_gpu_up") == 1
    assert value(text, MEM, groupname="train-trainer", gpu="0", UUID=U0) == GIB


def test_gpu_matcher_rematches_known_processes_that_gain_a_context(start: Start) -> None:
    config = CONFIG.replace('  - name: "{{.Comm}}"\n    cmdline: [\'.+\']\n', "") + \
        '  - name: "other-gpu:{{.Comm}}@{{.GPUs}}"\n    gpu: true\n  - name: "cpu"\n    comm: [trainer]\n'
    fp, a = start({100: {"comm": "trainer", "utime": 100, "runtime": 1},
                   200: {"comm": "cuda-job", "utime": 50, "runtime": 1}}, config=config)
    a.scene(_two_gpus())
    text = a.collect()
    assert value(text, "namedprocess_namegroup_num_procs", groupname="cpu") == 1  # no GPU yet
    assert value(text, "process_monitor_agent_gpu_processes", state="tracked") == 0
    # Both create contexts: trainer (tracked in "cpu") moves, cuda-job (ignored so far) becomes tracked.
    a.scene(_two_gpus().proc(0, 100, GIB).proc(0, 200, GIB).proc(1, 200, GIB))
    fp.update(100, utime=130, runtime=2)
    text = a.collect()
    assert value(text, "namedprocess_namegroup_num_procs", groupname="train-trainer") == 1
    assert value(text, "namedprocess_namegroup_num_procs", groupname="cpu") == 0
    assert value(text, "namedprocess_namegroup_num_procs", groupname="other-gpu:cuda-job@[0 1]") == 1
    assert value(text, MEM, groupname="other-gpu:cuda-job@[0 1]", gpu="1", UUID=U1) == GIB
    # Counters are continuous across the move, as on a reload: cpu kept what it had, nothing counted twice.
    cpu = value(text, "namedprocess_namegroup_cpu_seconds_total", groupname="cpu", mode="user")
    moved = value(text, "namedprocess_namegroup_cpu_seconds_total", groupname="train-trainer", mode="user")
    assert cpu == 0 and moved == pytest.approx(0.3)


def test_mig_instances_are_labelled_by_gpu_instance_id(tmp_path: Path, start: Start) -> None:
    _, a = start({100: "trainer", 101: "trainer"})
    mig = (_two_gpus().mig(0, 0, "MIG-aaaa", gi=3).mig(0, 1, "MIG-bbbb", gi=5)
           .proc("0:0", 100, GIB).proc("0:1", 101, 2 * GIB).proc(1, 101, 7))
    a.scene(mig)
    text = a.collect()
    assert value(text, MEM, groupname="train-trainer", gpu="0", UUID=U0, GPU_I_ID="3") == GIB
    assert value(text, MEM, groupname="train-trainer", gpu="0", UUID=U0, GPU_I_ID="5") == 2 * GIB
    assert value(text, MEM, groupname="train-trainer", gpu="1", UUID=U1) == 7
    # No per-process utilisation on MIG devices: no such series rather than zeros.
    assert not [k for k in series(text, UTIL) if ("GPU_I_ID", "3") in k]
    assert [k for k in series(text, UTIL) if ("gpu", "1") in k]
    a.close()  # NVML shut down before the second agent initialises it (the fixture's second close is a no-op)
    # A driver that refuses per-instance handles: the whole GPU is read and split by the instance NVML reports.
    _, b = start({100: "trainer", 101: "trainer"}, root=tmp_path / "b")
    b.scene(Scenario(list(mig.lines)).fail("nvmlDeviceGetMigDeviceHandleByIndex", NO_PERMISSION))
    text = b.collect()
    assert value(text, MEM, groupname="train-trainer", gpu="0", UUID=U0, GPU_I_ID="3") == GIB
    assert value(text, MEM, groupname="train-trainer", gpu="0", UUID=U0, GPU_I_ID="5") == 2 * GIB
    assert not series(text, ERRORS)


def test_compute_and_graphics_entries_of_one_process_are_not_counted_twice(start: Start) -> None:
    _, a = start({100: "viz"})
    a.scene(_two_gpus().proc(0, 100, GIB).proc(0, 100, GIB, graphics=True).proc(1, 100, None))
    text = a.collect()
    assert value(text, MEM, groupname="viz", gpu="0", UUID=U0) == GIB
    assert value(text, PROCS, groupname="viz", gpu="0", UUID=U0) == 1
    # NVML_VALUE_NOT_AVAILABLE: the process is counted, its unknown memory adds nothing.
    assert value(text, PROCS, groupname="viz", gpu="1", UUID=U1) == 1
    assert value(text, MEM, groupname="viz", gpu="1", UUID=U1) == 0


def test_reinitialisation_after_a_lost_gpu_waits_for_the_retry_interval(start: Start) -> None:
    _, a = start({100: "trainer"}, retry_interval=3600.0)
    healthy = _two_gpus().proc(1, 100, GIB)
    a.scene(healthy)
    a.collect()
    inits = a.calls("nvmlInitWithFlags")
    a.scene(Scenario(list(healthy.lines)).fail("nvmlDeviceGetComputeRunningProcesses_v3", GPU_IS_LOST, 1))
    a.collect()
    a.collect()
    assert a.calls("nvmlInitWithFlags") == inits  # not before the interval: no re-init storm
    a.reader.retry_interval = 0.0
    a.reader._next_init = 0.0
    a.scene(healthy)
    a.collect()  # the pending request is honoured now
    assert a.calls("nvmlInitWithFlags") == inits + 1 and a.calls("nvmlShutdown") >= 1
    text = a.collect()
    assert value(text, MEM, groupname="train-trainer", gpu="1", UUID=U1) == GIB


def test_a_slow_first_read_is_initialising_not_an_error(
        logs: io.StringIO, monkeypatch: pytest.MonkeyPatch, start: Start) -> None:
    _, a = start({100: "trainer"}, timeout=0.05)
    monkeypatch.setattr("process_monitor_agent.gpu.monitor.FIRST_READ_TIMEOUT", 0.1)
    a.scene(_two_gpus().proc(0, 100, GIB).sleep("nvmlInitWithFlags", 600))
    text = a.collect()
    assert value(text, "process_monitor_agent_gpu_up") == 0
    assert not series(text, ERRORS) and "level=error" not in logs.getvalue()
    assert "still initialising" in logs.getvalue()
    a.scene(_two_gpus().proc(0, 100, GIB))
    _wait_idle(a)
    text = a.collect()
    assert value(text, "process_monitor_agent_gpu_up") == 1
    assert value(text, MEM, groupname="train-trainer", gpu="0", UUID=U0) == GIB

