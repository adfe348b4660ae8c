"""Running the operator on the host against a cluster: `python -m process_monitor_operator` as a supervised
subprocess with its liveness and /metrics on free 127.0.0.1 ports.

The one implementation used by the operator integration tests (tests/operator/operator_harness.py adds the
namespace, short intervals and the apply log) and the operator benchmarks (bench/operator_common.py). The cluster
is anything with `.env()` giving the environment its clients need (KUBECONFIG): localcluster's Cluster or a
bench's ExistingCluster. Start-up waits for /healthz, failing at once (with the end of the log) if the operator
exits; stop() is SIGTERM -> bounded wait -> SIGKILL.
"""

from __future__ import annotations

import contextlib
import pathlib
import sys
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from localcluster.ports import free_port

from . import exposition, realprocs
from .supervise import Supervised

API_CALLS = "process_monitor_operator_api_calls_total"


class HasEnv(Protocol):
    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]: ...


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)


class OperatorOnHost(contextlib.AbstractContextManager["OperatorOnHost"]):
    """The operator process; `args` are its flags after the two listen addresses. start() may follow stop()
    (a restart): the log is appended to and the ports stay the same."""

    def __init__(self, cluster: HasEnv, log: pathlib.Path, args: Sequence[str] = (), *,
                 env: Mapping[str, str] | None = None, start_timeout: float = 60.0, grace: float = 20.0) -> None:
        self.cluster = cluster
        self.log = log
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.start_timeout = start_timeout
        self.grace = grace
        self.live_port, self.metrics_port = free_port(), free_port()
        self.proc: Supervised | None = None

    def start(self) -> OperatorOnHost:
        argv = [sys.executable, "-m", "process_monitor_operator", "--liveness-address", f"127.0.0.1:{self.live_port}",
                "--metrics-address", f"127.0.0.1:{self.metrics_port}", *self.args]
        self.proc = Supervised("operator", argv, self.log, env=self.cluster.env(self.extra_env), grace=self.grace,
                               append=True)
        try:
            self.proc.wait_ready("liveness /healthz", lambda: _http_ok(f"http://127.0.0.1:{self.live_port}/healthz"),
                                 self.start_timeout, interval=0.2)
        except BaseException:
            self.stop()
            raise
        return self

    __enter__ = start

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        self.proc = None

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the operator is not running"
        return self.proc.pid

    def metrics(self, timeout: float = 10.0) -> dict[str, float]:
        """The operator's /metrics as {'name{labels}': value} (harness.exposition.flat)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=timeout) as resp:
            return exposition.flat(resp.read().decode())

    def calls(self, verbs: Iterable[str]) -> float:
        """API calls the operator counted with one of `verbs` (all kinds)."""
        wanted = tuple(f'verb="{v}"' for v in verbs)
        return sum(v for k, v in self.metrics().items() if k.startswith(API_CALLS) and any(w in k for w in wanted))

    def rss_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the operator process in KiB."""
        return (int(realprocs.status_field(self.pid, "VmRSS").split()[0]),
                int(realprocs.status_field(self.pid, "VmHWM").split()[0]))

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

