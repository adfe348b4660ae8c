"""Supervising one process: start it with its output in a log file, wait until it is ready while watching that it
has not exited, and stop it (SIGTERM -> bounded wait -> SIGKILL) when the `with` block ends.

Used by harness.exporters, harness.operator_host, and the tests that run the agent, Prometheus or
prometheus-operator as subprocesses. Stopping is localcluster.procs.stop (the control plane's supervisor, which
identifies a process by PID and kernel start time, so a recycled PID is never signalled); this module adds the
Popen handle (env, cwd, reaping, the exit code) and the readiness wait.
"""

from __future__ import annotations

import contextlib
import ctypes
import pathlib
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from localcluster import procs

from .wait import wait_for

T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """preexec_fn: the kernel SIGKILLs the child when the thread that started it dies (nothing outlives a killed
    test run)."""
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class ProcessExited(RuntimeError):
    """A supervised process exited while we waited for it; the message has its exit code and the end of its log."""


class Supervised(contextlib.AbstractContextManager["Supervised"]):
    """One running process whose stdout and stderr go to `log`. `grace`: seconds between SIGTERM and SIGKILL.

    `append` keeps an existing log (a restarted process writes after its previous run).
    """

    def __init__(self, name: str, argv: Sequence[str], log: pathlib.Path, *, env: Mapping[str, str] | None = None,
                 cwd: pathlib.Path | None = None, grace: float = 10.0, append: bool = False) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.grace = grace
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab" if append else "wb") as out:
            # Own session: a Ctrl-C meant for pytest does not reach it half-way; stop() ends it by PID.
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                          env=None if env is None else dict(env), cwd=cwd, start_new_session=True,
                                          preexec_fn=die_with_parent)
        started = procs.proc_starttime(self.popen.pid)
        self._entry: dict[str, Any] = {"pid": self.popen.pid, "starttime": -1 if started is None else started,
                                       "argv": self.argv}

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def check_running(self, during: str) -> None:
        """Raise ProcessExited if the process has exited (`during` says what we were doing)."""
        if self.popen.poll() is not None:
            raise ProcessExited(f"{self.name} exited with {self.popen.returncode} while {during}: "
                                f"{' '.join(self.argv)}\n{self.log_tail()}")

    def wait_ready(self, what: str, check: Callable[[], T], timeout: float, interval: float = 0.1, *,
                   errors: tuple[type[BaseException], ...] = (OSError,)) -> T:
        """wait_for(check), failing at once if the process exits meanwhile; the timeout message ends with its
        log. `errors` (default OSError: connection refused while it starts) mean "not yet"."""
        def probe() -> T:
            self.check_running(f"waiting for {what}")
            return check()

        return wait_for(f"{self.name}: {what}", probe, timeout, interval, errors=errors,
                        details=lambda: f"end of {self.log}:\n{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM, wait up to `grace` s, then SIGKILL; reap it. Returns the exit code (None if it could not be
        reaped, which only an uninterruptible process causes)."""
        if self.popen.poll() is None:
            procs.stop([(self.name, self._entry)], self.grace)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        return self.popen.returncode

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_popen(popen: subprocess.Popen[Any], grace: float = 10.0, name: str = "process") -> int | None:
    """terminate -> wait -> kill for a Popen started elsewhere (e.g. with a stdout pipe), through
    localcluster.procs.stop; returns the exit code once reaped."""
    if popen.poll() is None:
        started = procs.proc_starttime(popen.pid)
        if started is not None:
            procs.stop([(name, {"pid": popen.pid, "starttime": started, "argv": []})], grace)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=10)
    return popen.returncode
