"""Supervising the local cluster's processes: spawn with a log file, identify by (PID, kernel start time), stop
by SIGTERM -> wait -> SIGKILL, and wait for a condition while watching that nothing we started died.

Used by localcluster.cluster (the control plane) and localcluster.realnode (containerd and the kubelet). A process
is recorded as {"pid", "starttime", "argv"}; `alive()` compares the start time, so a recycled PID is never
signalled. Every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any


class SupervisionError(RuntimeError):
    """A watched process exited, or a wait timed out; the message names it and shows the end of its log."""



def proc_starttime(pid: int) -> int | None:
    """Kernel start time of `pid` (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces/parens: fields after the last ')' start with state (field 3).
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(entry: Mapping[str, Any]) -> bool:
    started = proc_starttime(int(entry["pid"]))
    return started is not None and started == int(entry["starttime"])


# Popen handles of components this process started, so stopped children are reaped (no zombies in pytest).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def spawn(name: str, argv: list[str], log_dir: pathlib.Path, die_with_parent: bool) -> dict[str, Any]:
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{name}.log", "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        log.flush()
        # Own session: Ctrl-C in the terminal that ran `make cluster-up` must not kill the cluster.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_set_pdeathsig if die_with_parent else None)
    _CHILDREN[proc.pid] = proc
    starttime = proc_starttime(proc.pid)
    return {"pid": proc.pid, "starttime": starttime if starttime is not None else -1, "argv": argv}


def reap(pid: int) -> None:
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1)


def poll_children() -> None:
    for proc in list(_CHILDREN.values()):
        proc.poll()  # reaps an exited child so alive() sees it gone


def stop(entries: Sequence[tuple[str, Mapping[str, Any]]], timeout: float) -> list[str]:
    """SIGTERM each live entry, wait up to `timeout`, SIGKILL the rest. Returns one line per component."""
    report = []
    live = [(n, e) for n, e in entries if alive(e)]
    for name, e in entries:
        if not alive(e):
            report.append(f"{name}: not running")
    for _name, e in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(e["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        poll_children()
        if not any(alive(e) for _, e in live):
            break
        time.sleep(0.1)
    for name, e in live:
        pid = int(e["pid"])
        poll_children()
        if alive(e):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 5
            while alive(e) and time.monotonic() < kill_deadline:
                poll_children()
                time.sleep(0.05)
            report.append(f"{name}: killed (pid {pid}, SIGKILL after {timeout:.0f}s)")
        else:
            report.append(f"{name}: stopped (pid {pid})")
        reap(pid)
    return report


def log_tail(log_dir: pathlib.Path, name: str, lines: int = 25) -> str:
    try:
        text = (log_dir / f"{name}.log").read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def wait(what: str, check: Callable[[], bool], timeout: float, *, watch: Sequence[tuple[str, dict[str, Any]]] = (),
          log_dir: pathlib.Path | None = None, interval: float = 0.5) -> None:
    """Poll `check` until true; fail early if a watched component exited; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        poll_children()
        for name, entry in watch:
            if not alive(entry):
                tail = log_tail(log_dir, name) if log_dir else ""
                raise SupervisionError(f"{name} exited while waiting for {what}; end of its log:\n{tail}")
        if check():
            return
        if time.monotonic() >= deadline:
            tails = "\n".join(f"--- {n} ---\n{log_tail(log_dir, n, 10)}" for n, _ in watch) if log_dir else ""
            raise SupervisionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
        time.sleep(interval)
