"""Command line of the agent (`process-monitor-agent`, `python -m process_monitor_agent`).

Every process-exporter flag (the table is in flag_table.py), spelled as it spells them, in both `-flag` and
`--flag` forms (flags.py), plus ours in the same dotted style: -gather-smaps.interval, -report.missing-groups,
-collection.deadline, -limit.name-length, -limit.groups, -limit.thread-names, -remove-empty-groups.after, -gpu.*
(GPU processes, off by default), the -kubernetes.* attribution flags (docs/attribution.md), and Prometheus'
-web.enable-lifecycle and -web.max-connections. Start-up: parse flags, take SIGHUP at once (its default action
would kill the agent), load rules (config errors: one line on stderr, exit status 2, no traceback), prime one
collection, then either print a second collection after -once-to-stdout-delay and exit, or serve HTTP and watch
the config for reloads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from .flag_table import FLAGS, MAN
from .flags import FlagError, FlagSet, HelpRequested
from .limits import Limits
from .log import log

if TYPE_CHECKING:  # imported lazily at run time so `-version` / `-h` stay instant
    from .collector import Collector
    from .config import Config
    from .gpu.monitor import GpuMonitor
    from .reload import Reloader
    from .track import Settings

PROG = "process-monitor-agent"

__all__ = ["FLAGS", "MAN", "PROG", "main"]


class _StartError(Exception):
    """A start-up failure: its message goes to stderr as one `PROG: message` line, the agent exits with `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class _Signals:
    """SIGTERM/SIGINT/SIGHUP as flags plus a self-pipe the main thread sleeps on.

    The main thread sleeps until a signal arrives (no periodic wake-ups: idle CPU stays at zero). Handlers only
    set flags; the work happens in the loop of `_serve`. The wake-up is a self-pipe, not a threading.Event: a
    Python signal handler runs on the main thread between bytecodes, possibly while that thread holds the Event's
    non-reentrant lock inside wait() or clear(), and Event.set() there deadlocks the loop for good (a burst of
    SIGHUPs did it: no reload by SIGHUP ever again). os.write takes no Python lock; a full pipe means a wake-up is
    already pending.
    """

    def __init__(self) -> None:
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.stop = False
        self.hup = False

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self.wake_w, b"!")

    def on_term(self, signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        self.stop = True
        self.wake()

    def on_hup(self, _signum: int, _frame: object) -> None:
        self.hup = True
        self.wake()

    def wait(self) -> None:
        os.read(self.wake_r, 4096)  # blocks until a handler writes; drains a burst in one read


def _load_config(opts: dict[str, Any]) -> tuple[Config, bytes | None]:
    """The rules from -config.path or from -procnames/-namemapping, and the file's bytes (None from flags)."""
    from .config import ConfigError, from_flags, parse_config, read_config_bytes

    path = opts["config.path"]
    initial_text: bytes | None = None
    try:
        if path:
            if opts["procnames"] or opts["namemapping"]:
                raise ConfigError("-config.path cannot be used with -namemapping or -procnames")
            initial_text = read_config_bytes(path)
            config = parse_config(initial_text, path)
        else:
            config = from_flags(opts["procnames"], opts["namemapping"])
    except ConfigError as e:
        raise _StartError(f"config error: {e}") from e
    for w in config.warnings:
        log.warning("%s", w)
    return config, initial_text


def _settings(opts: dict[str, Any]) -> Settings:
    """The tracker's settings from the flags; -procfs must be a directory."""
    from .track import Settings

    settings = Settings(
        procfs=opts["procfs"],
        children=opts["children"],
        threads=opts["threads"],
        gather_smaps=opts["gather-smaps"],
        smaps_interval=opts["gather-smaps.interval"],
        recheck=opts["recheck"],
        recheck_time_limit=opts["recheck-with-time-limit"],
        limits=Limits(opts["limit.name-length"], opts["limit.groups"], opts["remove-empty-groups.after"],
                      opts["limit.thread-names"]),
        read_timeout=max(opts["collection.deadline"], 0.0) / 5,
        kube_labels=opts["kubernetes.labels"],
        pod_logs_dir=opts["kubernetes.pod-logs-dir"],
        container_logs_dir=opts["kubernetes.container-logs-dir"],
    )
    if not os.path.isdir(settings.procfs):
        raise _StartError(f"-procfs {settings.procfs}: not a directory")
    return settings


def _gpu_monitor(opts: dict[str, Any], config: Config) -> GpuMonitor | None:
    """The NVML monitor with -gpu.enabled, else None (and a warning when the rules ask for GPUs)."""
    if opts["gpu.enabled"] and opts["gpu.timeout"] <= 0:
        raise _StartError(f"-gpu.timeout must be positive, got {opts['gpu.timeout']:g}s")
    if opts["gpu.enabled"]:
        from .gpu.monitor import GpuMonitor

        return GpuMonitor(timeout=opts["gpu.timeout"], library=opts["gpu.library"])
    if config.rules.needs_gpu:
        log.warning("the config uses gpu: or {{.GPUs}} but -gpu.enabled is off: no process holds a GPU for it")
    return None


def _collector(opts: dict[str, Any], config: Config) -> Collector:
    """Build the collector and prime it (as process-exporter does: counters of running processes start here)."""
    from .collector import Collector

    settings = _settings(opts)
    collector = Collector(
        settings,
        config,
        remove_empty_groups=opts["remove-empty-groups"],
        report_missing_groups=opts["report.missing-groups"],
        deadline=max(opts["collection.deadline"], 0.0),
        gpu=_gpu_monitor(opts, config),
        empty_label_ttl=opts["kubernetes.empty-series-ttl"],
    )
    if not collector.prime():
        log.warning("the first collection is still running after -collection.deadline %gs; serving meanwhile",
                    collector.deadline)
    return collector


def _once_to_stdout(collector: Collector, delay: float) -> int:
    """-once-to-stdout-delay: wait, print one collection, exit 0."""
    time.sleep(delay)
    sys.stdout.write(collector.collect().decode("utf-8"))
    sys.stdout.flush()
    return 0


def _serve(opts: dict[str, Any], collector: Collector, initial_text: bytes | None, sig: _Signals) -> int:
    """Serve HTTP, watch the config file, reload on SIGHUP until SIGTERM/SIGINT; 1 when the server cannot start."""
    from .http.routes import WebConfigError, load_web_config, make_server, serve_in_thread
    from .reload import Reloader

    path = opts["config.path"]
    reloader = Reloader(path, collector, initial_text) if path else None
    if reloader is not None:
        collector.extra_writers.append(reloader.write_metrics)
    try:
        web = load_web_config(opts["web.config.file"])
        srv = make_server(
            opts["web.listen-address"],
            opts["web.telemetry-path"],
            collector.exposition,
            (lambda: reloader.reload("http")) if reloader else None,
            web,
            lifecycle=opts["web.enable-lifecycle"],
            max_connections=opts["web.max-connections"],
        )
    except (WebConfigError, ValueError, OSError) as e:
        raise _StartError(str(e), code=1) from e

    collector.extra_writers.append(srv.write_metrics)
    signal.signal(signal.SIGTERM, sig.on_term)
    signal.signal(signal.SIGINT, sig.on_term)
    watcher = None
    if reloader is not None:
        from .watch import start_watcher

        watcher = start_watcher(path, lambda: reloader.reload("file", only_if_changed=True))
    serve_in_thread(srv)
    log.info(
        "listening on %s, telemetry path %s, config %s",
        opts["web.listen-address"],
        opts["web.telemetry-path"],
        path or "from flags",
    )
    _loop(sig, reloader)
    srv.shutdown()
    srv.server_close()
    if watcher is not None:
        watcher.stop()
    return 0


def _loop(sig: _Signals, reloader: Reloader | None) -> None:
    """The main thread's life after start-up: sleep on the self-pipe, reload on SIGHUP, return on SIGTERM/SIGINT."""
    while not sig.stop:
        sig.wait()
        if sig.hup:
            sig.hup = False
            if reloader is not None:
                reloader.reload("sighup")  # never raises: the one guarded reload path
            else:
                log.warning("SIGHUP ignored: no -config.path to reload")


def _parse(argv: Sequence[str] | None) -> tuple[dict[str, Any], list[str]] | int:
    """Parse the flags; an exit status instead for -h, -version, -man and flag errors."""
    fs = FlagSet(PROG, FLAGS)
    try:
        opts, rest = fs.parse(sys.argv[1:] if argv is None else argv)
    except HelpRequested:
        sys.stderr.write(fs.usage())
        return 0
    except FlagError as e:
        sys.stderr.write(f"{e}\n{fs.usage()}")
        return 2
    if opts["version"]:
        print(f"{PROG}, version {__version__} (python {sys.version.split()[0]})")
        return 0
    if opts["man"]:
        print(MAN)
        sys.stderr.write(fs.usage())
        return 0
    return opts, rest


def main(argv: Sequence[str] | None = None) -> int:
    parsed = _parse(argv)
    if isinstance(parsed, int):
        return parsed
    opts, rest = parsed
    log.setup(opts["debug"])
    try:
        if opts["web.max-connections"] < 1:
            raise _StartError("-web.max-connections must be at least 1")
        sig = _Signals()
        # SIGHUP is taken before the config is even read: its default action terminates the process, and a
        # reload request during a slow start-up must not do that.
        signal.signal(signal.SIGHUP, sig.on_hup)
        if rest:
            log.warning("ignoring non-flag arguments: %s", " ".join(rest))
        config, initial_text = _load_config(opts)
        collector = _collector(opts, config)
        delay = opts["once-to-stdout-delay"]
        if delay > 0:
            return _once_to_stdout(collector, delay)
        return _serve(opts, collector, initial_text, sig)
    except _StartError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return e.code
