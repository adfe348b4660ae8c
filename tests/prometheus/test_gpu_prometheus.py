"""The dashboard's GPU row against Debian's real Prometheus scraping a real agent with -gpu.enabled over the fake
NVML (tools/fakenvml, a test double for absent hardware, loaded through the real nvidia-ml-py binding): every GPU
panel query parses and returns data, and the memory series joins on dcgm-exporter's labels as README.md shows."""

from __future__ import annotations

import contextlib
import pathlib
import sys
import time

import fakenvml
import pytest
import yaml
from localcluster.ports import free_port
from process_monitor_operator.monitoring import dashboard
from test_real_prometheus import SCRAPE, Prom, _process, _prometheus, _substitute, _wait_http

pytestmark = [pytest.mark.prometheus, pytest.mark.realproc]

UUID0, UUID1 = "GPU-0000aaaa-0000-4000-8000-000000000000", "GPU-1111bbbb-0000-4000-8000-000000000001"


def test_gpu_row_queries_return_data(prometheus_bin: str, tmp_path: pathlib.Path) -> None:
    try:
        lib = fakenvml.build(tmp_path / "lib")
    except fakenvml.BuildError as e:
        pytest.skip(str(e))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"process_names": [{"name": "trainer", "gpu": True},
                                                        {"name": "{{.Comm}}", "cmdline": [".+"]}]}))
    agent_port, prom_port = free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": f"{SCRAPE}s", "scrape_timeout": f"{SCRAPE}s"},
        "scrape_configs": [{"job_name": "process-monitor", "static_configs": [{
            "targets": [f"127.0.0.1:{agent_port}"],
            "labels": {"namespace": "pm-test", "processmonitor": "gpu", "node": "gpu-node"}}]}],
    }))
    with contextlib.ExitStack() as stack:
        sleeper = stack.enter_context(_process([sys.executable, "-c", "import time; time.sleep(300)"],
                                               tmp_path / "sleeper.log"))
        # GPU 0 runs the sleeper (memory, utilisation stamped "now"); GPU 1 has fallen off the bus.
        scene = (fakenvml.Scenario().device(UUID0, "NVIDIA H100 80GB HBM3").device(UUID1, "NVIDIA H100 80GB HBM3")
                 .proc(0, sleeper.pid, 3 << 30).util(0, sleeper.pid, sm=40, mem=20, enc=1, dec=2, ts="now")
                 .fail("nvmlDeviceGetComputeRunningProcesses_v3", fakenvml.GPU_IS_LOST, 1))
        scene_path = scene.write(tmp_path / "scene.txt")
        env_prefix = ["env", f"FAKE_NVML_SCENARIO={scene_path}"]  # _process passes our environment on
        agent = stack.enter_context(_process(
            [*env_prefix, sys.executable, "-m", "process_monitor_agent", f"-config.path={config}",
             f"-web.listen-address=127.0.0.1:{agent_port}", "-gpu.enabled", f"-gpu.library={lib}"],
            tmp_path / "agent.log"))
        prom_proc = _prometheus(stack, prometheus_bin, tmp_path, prom_port)
        _wait_http(agent_port, "/metrics", agent)
        _wait_http(prom_port, "/-/ready", prom_proc)
        prom = Prom(prom_port)
        gpu_titles = {p["title"] for p in dashboard.dashboard(gpu=True)["panels"]} - \
            {p["title"] for p in dashboard.dashboard()["panels"]}
        queries = [(t, _substitute(e)) for t, e in dashboard.panel_queries(dashboard.dashboard(gpu=True))
                   if t in gpu_titles]
        assert len(queries) >= 6
        empty = queries
        deadline = time.monotonic() + 90
        while empty and time.monotonic() < deadline:
            empty = [(t, e) for t, e in queries if not prom.query(e)]
            time.sleep(1)
        assert not empty, "GPU panel queries without data:\n" + "\n".join(f"{t}: {e}" for t, e in empty)
        mem = prom.query('namedprocess_namegroup_gpu_memory_bytes{groupname="trainer"}')
        assert [(r["metric"]["gpu"], r["metric"]["UUID"], float(r["value"][1])) for r in mem] == [
            ("0", UUID0, float(3 << 30))]
        # The README's join with a DCGM-style series: here the agent's own gpu_info stands in for DCGM_FI_*.
        joined = prom.query('namedprocess_namegroup_gpu_memory_bytes * on (gpu, UUID) group_left (modelName) '
                            'process_monitor_agent_gpu_info')
        assert joined and joined[0]["metric"]["modelName"] == "NVIDIA H100 80GB HBM3"
        errors = prom.query('process_monitor_agent_gpu_scrape_errors_total{reason="gpu_lost"}')
        assert errors and float(errors[0]["value"][1]) >= 1
