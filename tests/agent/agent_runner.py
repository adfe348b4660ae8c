"""Run the agent as a subprocess on a fake procfs tree (nginx pid 10, redis pid 11), serving HTTP on 127.0.0.1,
for the reload tests (test_reload.py, test_reload_hostile.py). Every wait is bounded; the agent is stopped by its
PID."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests
from harness.fakeproc import FakeProc
from localcluster.ports import free_port


def metrics(base: str) -> dict[str, float]:
    out = {}
    for line in requests.get(base + "/metrics", timeout=10).text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


CPU_WEB = 'namedprocess_namegroup_cpu_seconds_total{groupname="web",mode="user"}'
PROCS_CACHE = 'namedprocess_namegroup_num_procs{groupname="cache"}'
OK = "process_monitor_agent_config_last_reload_successful"
SUCCESS = 'process_monitor_agent_config_reloads_total{result="success"}'
FAILURE = 'process_monitor_agent_config_reloads_total{result="failure"}'
REQUESTS = "process_monitor_agent_config_reload_requests_total"
FILE_UNCHANGED = REQUESTS + '{outcome="unchanged",trigger="file"}'
FILE_REFUSED = REQUESTS + '{outcome="refused",trigger="file"}'


class Running:
    def __init__(self, proc: subprocess.Popen, base: str, fp: FakeProc, log: Path) -> None:
        self.proc, self.base, self.fp, self.log = proc, base, fp, log

    def m(self) -> dict[str, float]:
        time.sleep(0.15)  # results younger than 100 ms are shared by design
        return metrics(self.base)

    def burn(self, ticks: int) -> None:
        """nginx uses CPU: its utime and run time move."""
        v = self.fp.procs[10]
        self.fp.update(10, utime=v["utime"] + ticks, runtime=v["runtime"] + 1)


@contextlib.contextmanager
def start(tmp_path: Path, config_path: Path, *extra: str) -> Iterator[Running]:
    fp = FakeProc(tmp_path / "proc")
    fp.add(10, comm="nginx", utime=100, runtime=1)
    fp.add(11, comm="redis", utime=50, runtime=1)
    port = free_port()
    log = tmp_path / "agent.log"
    with open(log, "w") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "process_monitor_agent", "-procfs", str(fp.root), "-config.path",
             str(config_path), "-web.listen-address", f"127.0.0.1:{port}", *extra],
            stderr=logf,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return requests.get(base + "/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(up, "agent to listen", 30)
        yield Running(proc, base, fp, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
