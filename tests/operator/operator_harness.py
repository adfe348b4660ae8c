"""Helpers for operator integration tests on the local control plane: the operator subprocess, polling, getters.

`pm_crd` installs crds/processmonitor.yaml once per session. `operator` starts the real operator as a subprocess
(`python -m process_monitor_operator -n <test namespace>`) against the cluster, with its liveness and /metrics on
free 127.0.0.1 ports, short resync/CRD-check intervals and an apply log of every SSA body it sent; tests can
stop/start it (restart) and read its metrics. Helpers poll with a bound in count and time.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from localcluster.ports import free_port
from localcluster.pytest_plugin import wait_for as cluster_wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "processmonitor.yaml"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """The cluster plugin's poller with this suite's tighter defaults (the operator reacts within a second or two)."""
    return cluster_wait_for(what, check, timeout, interval)





class OperatorProcess:
    """One operator subprocess watching one namespace."""

    def __init__(self, cluster: Any, namespace: str, workdir: pathlib.Path, extra: tuple[str, ...] = ()) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.apply_log = workdir / "apply.log"
        self.log_path = workdir / "operator.log"
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = 0

    def start(self) -> None:
        live, self.metrics_port = free_port(), free_port()
        argv = [sys.executable, "-m", "process_monitor_operator", "-n", self.namespace, "--verbose",
                "--liveness-address", f"127.0.0.1:{live}", "--metrics-address", f"127.0.0.1:{self.metrics_port}",
                "--resync-interval", "2", "--crd-check-interval", "2", "--apply-log", str(self.apply_log),
                *self.extra]
        log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        env = self.cluster.env({"PYTHONPATH": os.environ.get("PYTHONPATH", "")})
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self._log = log
        wait_for("operator liveness", lambda: self._ok(f"http://127.0.0.1:{live}/healthz") or self._died(), 30)
        if self.proc.poll() is not None:
            pytest.fail(f"operator exited early:\n{self.log_tail()}", pytrace=False)

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    @staticmethod
    def _ok(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()

    def metrics(self) -> dict[str, float]:
        """The operator's /metrics as {'name{labels}': value}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def writes(self) -> float:
        return sum(v for k, v in self.metrics().items() if k.startswith("process_monitor_operator_api_calls_total")
                   and any(f'verb="{w}"' in k for w in ("apply", "patch", "delete", "create")))

    def applied(self) -> list[bytes]:
        return self.apply_log.read_bytes().splitlines() if self.apply_log.exists() else []

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def get(cluster: Any, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    out = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}
