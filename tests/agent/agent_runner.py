"""Run the agent as a subprocess on a fake procfs tree (nginx pid 10, redis pid 11), serving HTTP on 127.0.0.1,
for the reload tests (test_reload.py, test_reload_hostile.py). Every wait is bounded (harness.wait); the agent is
supervised by harness.supervise (stopped by its PID: SIGTERM, then SIGKILL)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests
from harness import exposition
from harness.fakeproc import FakeProc
from harness.supervise import Supervised
from harness.wait import wait_for as _wait_for
from localcluster.ports import free_port


def metrics(base: str) -> dict[str, float]:
    """The agent's /metrics as {'name{labels}': value}."""
    return exposition.flat(requests.get(base + "/metrics", timeout=10).text)


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """harness.wait.wait_for, condition first (as the reload tests call it), polling every 50 ms."""
    _wait_for(what, cond, timeout, 0.05)


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
    base = f"http://127.0.0.1:{port}"
    with Supervised("agent", [sys.executable, "-m", "process_monitor_agent", "-procfs", str(fp.root),
                              "-config.path", str(config_path), "-web.listen-address", f"127.0.0.1:{port}", *extra],
                    log) as agent:
        agent.wait_ready("/healthz", lambda: requests.get(base + "/healthz", timeout=2).status_code == 200, 30,
                         errors=(requests.ConnectionError,))
        yield Running(agent.popen, base, fp, log)
