"""-gpu.enabled with -kubernetes.labels: GPU use lands in the split of the process's own pod and container, not in
another split of the same group name (the fake NVML, tools/fakenvml, is a test double for absent hardware)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakenvml import Scenario
from gpu_scene import GpuAgent, build_fake_nvml, fake_tree, value
from process_monitor_agent.collector import Collector
from process_monitor_agent.track import Settings

GIB = 1 << 30
U0 = "GPU-00000000-aaaa-bbbb-cccc-000000000000"
UID1, UID2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
C1, C2 = "c1" * 32, "c2" * 32
MEM = "namedprocess_namegroup_gpu_memory_bytes"


@pytest.fixture(scope="session")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fake_nvml(tmp_path_factory.getbasetemp() / "fakenvml")  # the path test_gpu.py builds at


def test_gpu_memory_goes_to_the_process_own_pod_split(tmp_path: Path, lib: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fp = fake_tree(tmp_path / "proc")
    fp.add(100, comm="trainer", cgroup=f"0::/kubepods/besteffort/pod{UID1}/{C1}")
    fp.add(200, comm="trainer", cgroup=f"0::/kubepods/besteffort/pod{UID2}/{C2}")
    fp.add(300, comm="trainer", cgroup="0::/system.slice/trainer.service")
    pods, links = tmp_path / "pods", tmp_path / "containers"
    links.mkdir()
    for ns, pod, uid, cid in (("a", "p1", UID1, C1), ("b", "p2", UID2, C2)):
        (pods / f"{ns}_{pod}_{uid}" / "main").mkdir(parents=True)
        (links / f"{pod}_{ns}_main-{cid}.log").symlink_to(pods / f"{ns}_{pod}_{uid}" / "main" / "0.log")
    scenario = tmp_path / "nvml-scenario.txt"
    Scenario().write(scenario)
    monkeypatch.setenv("FAKE_NVML_SCENARIO", str(scenario))
    config = 'process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n'
    a = GpuAgent(tmp_path / "proc", lib, config, scenario)
    a.collector = Collector(Settings(procfs=str(fp.root), threads=False, kube_labels=True, pod_logs_dir=str(pods),
                                     container_logs_dir=str(links)),
                            a.config, self_metrics=False, max_age=0.0, gpu=a.monitor)
    a.scene(Scenario().device(U0, "NVIDIA H100 80GB HBM3").proc(0, 200, 3 * GIB).proc(0, 300, GIB))
    try:
        text = a.collect()
        g0 = {"gpu": "0", "UUID": U0}
        assert value(text, MEM, groupname="trainer", namespace="b", pod="p2", container="main", **g0) == 3 * GIB
        assert value(text, MEM, groupname="trainer", namespace="", pod="", container="", **g0) == GIB
        assert value(text, MEM, groupname="trainer", namespace="a", pod="p1", container="main", **g0) is None
    finally:
        a.close()
