"""Start process-exporter (Debian's or upstream v0.8.7) or our agent on a free 127.0.0.1 port, and scrape it.

Called by the side-by-side tests (tests/agent_real, through its conftest.py fixtures) and by `bench/`. All three
take the same flags (`-config.path`, `-web.listen-address`, ...), so a test runs "the same config" simply by giving
each the same args.
HTTP goes through http.client straight to 127.0.0.1 (no proxy settings can redirect it). Every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import pathlib
import sys
import time
from dataclasses import dataclass

import yaml
from localcluster.ports import free_port  # re-exported: tests call exporters.free_port()

from . import realprocs
from .supervise import Supervised

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


def agent_src(tree: pathlib.Path) -> pathlib.Path:
    """The directory holding process_monitor_agent/ for `tree`: a checkout's root (its agent/) or that directory."""
    return tree / "agent" if (tree / "agent" / "process_monitor_agent").is_dir() else tree


def agent(src: pathlib.Path | None = None, name: str = AGENT) -> Implementation:
    """Our agent from `src` (a checkout or a directory holding process_monitor_agent/; default this checkout, or
    $PM_AGENT_SRC), run as `python -m process_monitor_agent` with that source first on PYTHONPATH."""
    if src is None:
        src = pathlib.Path(os.environ.get("PM_AGENT_SRC") or ROOT / "agent")
    src = agent_src(src.resolve())
    pythonpath = os.pathsep.join([str(src), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    # Only this checkout's agent counts (an editable install elsewhere may point at another tree).
    if not (src / "process_monitor_agent" / "__main__.py").exists():
        raise Unavailable(f"agent package process_monitor_agent (with __main__) not in {src} yet")
    return Implementation(name, (sys.executable, "-m", "process_monitor_agent"), (("PYTHONPATH", pythonpath),))


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
        self.proc = Supervised(impl.name, self.argv, self.log, env=env_of(impl), grace=8.0)
        self.popen = self.proc.popen
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
        return self.proc.log_tail(chars)

    def _wait_ready(self, timeout: float) -> None:
        def answered() -> bool:
            status, _ = http_request(self.port, self.telemetry_path, timeout=5.0, auth=self.auth)
            return status == 200

        try:
            self.proc.wait_ready(f"HTTP 200 on {self.telemetry_path}", answered, timeout, interval=0.05)
        except Exception as e:  # exited or timed out: one error type for callers, with the end of the log
            raise ExporterError(str(e)) from None

    def scrape(self, timeout: float = 60.0) -> str:
        """GET the telemetry path; raises ExporterError on a non-200 answer."""
        status, body = http_request(self.port, self.telemetry_path, timeout=timeout, auth=self.auth)
        if status != 200:
            raise ExporterError(f"{self.impl.name} answered HTTP {status}: {body[:500]}")
        return body

    def cpu_seconds(self) -> float:
        return realprocs.cpu_seconds(self.pid)

    def peak_rss_bytes(self) -> int:
        return realprocs.vm_hwm_bytes(self.pid)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.proc.stop()


def start_all(stack: contextlib.ExitStack, args: list[str],
              logdir: pathlib.Path) -> tuple[dict[str, Exporter], dict[str, str]]:
    """Every available implementation started with the same `args`, each stopped when `stack` closes; and
    {name: why it cannot run here} for the others (tests skip with that reason)."""
    running: dict[str, Exporter] = {}
    unavailable: dict[str, str] = {}
    for name, impl in available().items():
        if isinstance(impl, Unavailable):
            unavailable[name] = str(impl)
        else:
            running[name] = stack.enter_context(Exporter(impl, args, logdir))
    return running, unavailable
