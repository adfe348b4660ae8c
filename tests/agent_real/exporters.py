"""Start process-exporter (Debian's or upstream v0.8.7) or our agent on a free 127.0.0.1 port, and scrape it.

Called by the side-by-side tests (conftest.py fixtures) and by `bench/`. All three take the same flags
(`-config.path`, `-web.listen-address`, ...), so a test runs "the same config" simply by giving each the same args.
HTTP goes through http.client straight to 127.0.0.1 (no proxy settings can redirect it). Every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import pathlib
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import yaml
from localcluster.ports import free_port  # re-exported: tests call exporters.free_port()

from . import procs

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEBIAN_BINARY = pathlib.Path("/usr/bin/prometheus-process-exporter")

# The agent serves a collection younger than this again instead of collecting anew (documented in README.md);
# a test that changes processes and then wants a scrape to show it waits a bit longer (see `past_reuse_window`).
AGENT_REUSE_WINDOW_S = 0.1

# Names used in test ids and benchmark tables.
DEBIAN = "process-exporter-debian"
UPSTREAM = "process-exporter-v0.8.7"
AGENT = "agent"


@dataclass(frozen=True)
class Implementation:
    """How to start one exporter: the argv prefix the flags are appended to."""

    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


class Unavailable(Exception):
    """An implementation that cannot run here; the message says why (used as a skip reason)."""


def debian() -> Implementation:
    if not os.access(DEBIAN_BINARY, os.X_OK):
        raise Unavailable(f"{DEBIAN_BINARY} missing: run tools/setup.sh (apt-get install prometheus-process-exporter)")
    return Implementation(DEBIAN, (str(DEBIAN_BINARY),))


def upstream() -> Implementation:
    try:
        from localcluster import tools  # type: ignore[import-not-found]

        path = tools.binary("process-exporter")
    except Exception as e:  # not built yet, or the tools package has not landed: say so
        raise Unavailable(f"upstream process-exporter v0.8.7 not available: {e}") from None
    return Implementation(UPSTREAM, (str(path),))


def agent() -> Implementation:
    # PM_AGENT_SRC (a directory holding process_monitor_agent/) lets a bench or test run another tree's agent.
    src = pathlib.Path(os.environ.get("PM_AGENT_SRC") or ROOT / "agent")
    pythonpath = os.pathsep.join([str(src), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    # Only this checkout's agent counts (an editable install elsewhere may point at another tree).
    if not (src / "process_monitor_agent" / "__main__.py").exists():
        raise Unavailable(f"agent package process_monitor_agent (with __main__) not in {src} yet")
    return Implementation(AGENT, (sys.executable, "-m", "process_monitor_agent"), (("PYTHONPATH", pythonpath),))


FACTORIES = {DEBIAN: debian, UPSTREAM: upstream, AGENT: agent}


def available() -> dict[str, Implementation | Unavailable]:
    """Every known implementation, or the reason it is unavailable."""
    out: dict[str, Implementation | Unavailable] = {}
    for name, factory in FACTORIES.items():
        try:
            out[name] = factory()
        except Unavailable as e:
            out[name] = e
    return out


def env_of(impl: Implementation) -> dict[str, str]:
    """The environment to run `impl` in (ours plus its own, e.g. PYTHONPATH for the agent)."""
    return {**os.environ, **dict(impl.env)}


def past_reuse_window() -> None:
    """Sleep past the agent's collection-reuse window, so the next scrape collects after what we just changed."""
    time.sleep(2 * AGENT_REUSE_WINDOW_S)



def write_config(path: pathlib.Path, process_names: list[dict[str, object]]) -> pathlib.Path:
    path.write_text(yaml.safe_dump({"process_names": process_names}, sort_keys=False))
    return path


def http_request(port: int, path: str, method: str = "GET", timeout: float = 30.0,
                 auth: tuple[str, str] | None = None) -> tuple[int, str]:
    """One request to 127.0.0.1:`port`; `auth` adds a basic-auth header. Returns (status, body)."""
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


class ExporterError(RuntimeError):
    """An exporter failed to start or to answer; carries the tail of its log."""


class Exporter(contextlib.AbstractContextManager["Exporter"]):
    """One running exporter process. `args` are the flags after the listen address, e.g. ['-config.path', p]."""

    def __init__(
        self,
        impl: Implementation,
        args: list[str],
        logdir: pathlib.Path,
        *,
        telemetry_path: str = "/metrics",
        start_timeout: float = 120.0,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.impl = impl
        self.telemetry_path = telemetry_path
        self.auth = auth
        self.port = free_port()
        self.log = logdir / f"{impl.name}-{self.port}.log"
        self.argv = [*impl.argv, "-web.listen-address", f"127.0.0.1:{self.port}", *args]
        env = env_of(impl)
        with self.log.open("wb") as logf:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=procs.die_with_parent,  # killed even if we are SIGKILLed
            )
        self.started = time.monotonic()
        try:
            self._wait_ready(start_timeout)
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ExporterError(
                    f"{self.impl.name} exited with {self.popen.returncode}: {' '.join(self.argv)}\n{self.log_tail()}"
                )
            try:
                status, _ = http_request(self.port, self.telemetry_path, timeout=max(1.0, deadline - time.monotonic()),
                                         auth=self.auth)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        raise ExporterError(f"{self.impl.name} not ready after {timeout}s ({last}): {' '.join(self.argv)}\n"
                            f"{self.log_tail()}")

    def scrape(self, timeout: float = 60.0) -> str:
        """GET the telemetry path; raises ExporterError on a non-200 answer."""
        status, body = http_request(self.port, self.telemetry_path, timeout=timeout, auth=self.auth)
        if status != 200:
            raise ExporterError(f"{self.impl.name} answered HTTP {status}: {body[:500]}")
        return body

    def cpu_seconds(self) -> float:
        return procs.cpu_seconds(self.pid)

    def peak_rss_bytes(self) -> int:
        return procs.vm_hwm_bytes(self.pid)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=8)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=8)
