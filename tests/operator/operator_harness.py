"""Helpers for operator integration tests on the local control plane: the operator subprocess, polling, getters.

`pm_crd` installs crds/processmonitor.yaml once per session. `operator` starts the real operator on the host
(harness.operator_host: `python -m process_monitor_operator -n <test namespace>`) against the cluster, with its
liveness and /metrics on free 127.0.0.1 ports, short resync/CRD-check intervals and an apply log of every SSA body
it sent; tests can stop/start it (restart) and read its metrics. Helpers poll with a bound in count and time.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from harness.operator_host import OperatorOnHost
from harness.supervise import ProcessExited
from harness.wait import wait_for as _wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "processmonitor.yaml"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """harness.wait.wait_for with this suite's tighter defaults (the operator reacts within a second or two)."""
    return _wait_for(what, check, timeout, interval)


class OperatorProcess(OperatorOnHost):
    """One operator subprocess watching one namespace, with short resync/CRD-check intervals and an apply log."""

    def __init__(self, cluster: Any, namespace: str, workdir: pathlib.Path, extra: tuple[str, ...] = ()) -> None:
        self.namespace = namespace
        self.apply_log = workdir / "apply.log"
        self.log_path = workdir / "operator.log"
        super().__init__(cluster, self.log_path,
                         ["-n", namespace, "--verbose", "--resync-interval", "2", "--crd-check-interval", "2",
                          "--apply-log", str(self.apply_log), *extra],
                         env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")}, start_timeout=30.0)

    def start(self) -> OperatorProcess:
        try:
            super().start()
        except ProcessExited:
            pytest.fail(f"operator exited early:\n{self.log_tail()}", pytrace=False)
        return self

    def writes(self) -> float:
        return self.calls(("apply", "patch", "delete", "create"))

    def applied(self) -> list[bytes]:
        return self.apply_log.read_bytes().splitlines() if self.apply_log.exists() else []


def get(cluster: Any, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    out = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}
