"""Command line of the agent (`process-monitor-agent`, `python -m process_monitor_agent`).

Every process-exporter flag, spelled as it spells them, in both `-flag` and `--flag` forms (flags.py), plus ours
in the same dotted style: -gather-smaps.interval, -report.missing-groups, -collection.deadline, -limit.name-length,
-limit.groups, -limit.thread-names, -remove-empty-groups.after, -gpu.* (GPU processes, off by default), the
-kubernetes.* attribution flags (docs/attribution.md), and Prometheus' -web.enable-lifecycle and
-web.max-connections. Start-up: parse flags, take SIGHUP at once (its default action would kill the agent), load
rules (config errors: one line on stderr, exit status 2, no traceback), prime one collection, then either print a
second collection after -once-to-stdout-delay and exit, or serve HTTP and watch the config for reloads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence

from . import __version__
from .flags import Flag, FlagError, FlagSet, HelpRequested
from .limits import (
    DEFAULT_EMPTY_GROUP_AGE,
    DEFAULT_MAX_GROUPS,
    DEFAULT_MAX_THREAD_NAMES,
    DEFAULT_NAME_LENGTH,
    Limits,
)
from .log import log

PROG = "process-monitor-agent"

FLAGS = [
    Flag("config.path", "string", "", "path to YAML config file (process-exporter format); reloaded on change"),
    Flag("web.listen-address", "string", ":9256", "Address on which to expose metrics and web interface."),
    Flag("web.telemetry-path", "string", "/metrics", "Path under which to expose metrics."),
    Flag("web.config.file", "string", "",
         "[EXPERIMENTAL] Path to configuration file that can enable TLS or authentication."),
    Flag("web.enable-lifecycle", "bool", False,
         "Enable reload via HTTP request (POST or PUT /-/reload); the file watch and SIGHUP reload without it."),
    Flag("web.max-connections", "int", 64,
         "Maximum number of simultaneous HTTP connections; more wait in the listen backlog, idle ones are closed."),
    Flag("procfs", "string", "/proc", "path to read proc data from"),
    Flag("children", "bool", True,
         "if a proc is tracked, track with it any children that aren't part of their own group"),
    Flag("threads", "bool", True, "report on per-threadname metrics as well (off: no per-thread file is read)"),
    Flag("gather-smaps", "bool", True,
         "gather metrics from smaps_rollup file, which contains proportional resident memory size"),
    Flag("gather-smaps.interval", "duration", 300.0,
         "read each process's smaps_rollup at most once per this interval and report the cached values in between\n"
         "(0: every scrape, as process-exporter)"),
    Flag("collection.deadline", "duration", 5.0,
         "answer a scrape with the last good result when its collection takes longer than this (the age is\n"
         "exported); each cmdline/smaps_rollup read is abandoned after a fifth of it (0: wait, no timeouts)"),
    Flag("limit.name-length", "int", DEFAULT_NAME_LENGTH,
         "longest group or thread name in bytes; longer ones are cut and end in a hash of the whole\n"
         "name (0: no limit)"),
    Flag("limit.groups", "int", DEFAULT_MAX_GROUPS,
         "most groups; processes that would make a new group past it are not tracked (0: no limit)"),
    Flag("limit.thread-names", "int", DEFAULT_MAX_THREAD_NAMES,
         "most distinct thread names per group in the thread_* series; names already reported are kept first\n"
         "(0: no limit)"),
    Flag("remove-empty-groups.after", "duration", DEFAULT_EMPTY_GROUP_AGE,
         "forget a group named by a template once it has had no process for this long; statically named groups\n"
         "stay (0: keep them forever, as process-exporter)"),
    Flag("recheck", "bool", False, "recheck process names on each scrape"),
    Flag("recheck-with-time-limit", "duration", 0.0,
         "recheck processes only this much time after their start, but no longer (non-zero turns on -recheck)"),
    Flag("remove-empty-groups", "bool", False, "forget empty groups"),
    Flag("report.missing-groups", "bool", False,
         "report every statically named group (a name without {{) with num_procs 0 from start-up"),
    Flag("gpu.enabled", "bool", False,
         "export per-group GPU memory and utilisation from NVIDIA's NVML (needs nvidia-ml-py and\n"
         "libnvidia-ml.so.1) and let rules use gpu: and {{.GPUs}}"),
    Flag("gpu.timeout", "duration", 1.0, "longest wait for one NVML read per collection (-gpu.enabled)"),
    Flag("gpu.library", "string", "",
         "path of libnvidia-ml.so.1 to load instead of the dynamic loader's search (-gpu.enabled)"),
    Flag("kubernetes.labels", "bool", False,
         "add namespace, pod and container labels (cAdvisor's names) to every namedprocess_namegroup_* series;\n"
         "groups split by container, host processes carry empty values"),
    Flag("kubernetes.pod-logs-dir", "string", "/var/log/pods",
         "the kubelet's podLogsDir (<namespace>_<pod>_<uid>/ directories): pod names for attribution"),
    Flag("kubernetes.container-logs-dir", "string", "/var/log/containers",
         "the kubelet's container log symlinks (<pod>_<namespace>_<container>-<id>.log): container names"),
    Flag("kubernetes.empty-series-ttl", "duration", 300.0,
         "with -kubernetes.labels, drop a pod's empty group (pod deleted, container replaced) after this long\n"
         "or -remove-empty-groups.after, whichever is shorter (0: -remove-empty-groups.after alone)"),
    Flag("procnames", "string", "", "comma-separated list of process names to monitor"),
    Flag("namemapping", "string", "",
         "comma-separated list, alternating process name and capturing regex to apply to cmdline"),
    Flag("once-to-stdout-delay", "duration", 0.0,
         "Don't bind, just wait this much time, print the metrics once to stdout, and exit"),
    Flag("debug", "bool", False, "log debugging information to stdout"),
    Flag("man", "bool", False, "print manual"),
    Flag("version", "bool", False, "print version information and exit"),
]

MAN = """process-monitor-agent: a drop-in successor of process-exporter (same config, flags and metrics).

Config (-config.path) is process-exporter's YAML:

  process_names:
    - name: "{{.Comm}}"        # Go template: .Comm .ExeBase .ExeFull .Username .PID .StartTime .Cgroups .Matches.X
                               # and ours: .Namespace .Pod .Container .PodUID .ContainerID (empty outside pods)
      cmdline: ['.+']          # AND of RE2 regexes over argv joined by spaces (named captures -> .Matches)
    - comm: [bash]             # OR of exact comm names
    - exe: [/usr/bin/python3]  # OR; without '/', matches the basename of argv[0]

The first entry that matches a process names its group; the name is fixed for the life of the process.
The config reloads without a restart when the file changes (including a Kubernetes ConfigMap update), on
SIGHUP, and (with -web.enable-lifecycle) on POST /-/reload; group counters are kept across reloads.
"""


def main(argv: Sequence[str] | None = None) -> int:
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
    log.setup(opts["debug"])
    if opts["web.max-connections"] < 1:
        sys.stderr.write(f"{PROG}: -web.max-connections must be at least 1\n")
        return 2
    # The main thread sleeps until a signal arrives (no periodic wake-ups: idle CPU stays at zero). Handlers only
    # set flags; the work happens in the loop below. SIGHUP is taken before the config is even read: its
    # default action terminates the process, and a reload request during a slow start-up must not do that.
    # The wake-up is a self-pipe, not a threading.Event: a Python signal handler runs on the main thread between
    # bytecodes, possibly while that thread holds the Event's non-reentrant lock inside wait() or clear(), and
    # Event.set() there deadlocks the loop for good (a burst of SIGHUPs did it: no reload by SIGHUP ever again).
    # os.write takes no Python lock; a full pipe means a wake-up is already pending.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    flags = {"stop": False, "hup": False}

    def wake() -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(wake_w, b"!")

    def on_term(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        flags["stop"] = True
        wake()

    def on_hup(_signum: int, _frame: object) -> None:
        flags["hup"] = True
        wake()

    signal.signal(signal.SIGHUP, on_hup)
    if rest:
        log.warning("ignoring non-flag arguments: %s", " ".join(rest))

    # Imported here so `-version` / `-h` stay instant.
    from .collector import Collector
    from .config import ConfigError, from_flags, parse_config, read_config_bytes
    from .track import Settings

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
        sys.stderr.write(f"{PROG}: config error: {e}\n")
        return 2
    for w in config.warnings:
        log.warning("%s", w)

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
        sys.stderr.write(f"{PROG}: -procfs {settings.procfs}: not a directory\n")
        return 2
    gpu = None
    if opts["gpu.enabled"] and opts["gpu.timeout"] <= 0:
        sys.stderr.write(f"{PROG}: -gpu.timeout must be positive, got {opts['gpu.timeout']:g}s\n")
        return 2
    if opts["gpu.enabled"]:
        from .gpu.monitor import GpuMonitor

        gpu = GpuMonitor(timeout=opts["gpu.timeout"], library=opts["gpu.library"])
    elif config.rules.needs_gpu:
        log.warning("the config uses gpu: or {{.GPUs}} but -gpu.enabled is off: no process holds a GPU for it")
    collector = Collector(
        settings,
        config,
        remove_empty_groups=opts["remove-empty-groups"],
        report_missing_groups=opts["report.missing-groups"],
        deadline=max(opts["collection.deadline"], 0.0),
        gpu=gpu,
        empty_label_ttl=opts["kubernetes.empty-series-ttl"],
    )
    # Prime the state (as process-exporter does): counters of processes already running start from here.
    if not collector.prime():
        log.warning("the first collection is still running after -collection.deadline %gs; serving meanwhile",
                    collector.deadline)

    delay = opts["once-to-stdout-delay"]
    if delay > 0:
        time.sleep(delay)
        sys.stdout.write(collector.collect().decode("utf-8"))
        sys.stdout.flush()
        return 0

    from .http.routes import WebConfigError, load_web_config, make_server, serve_in_thread
    from .reload import Reloader

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
        sys.stderr.write(f"{PROG}: {e}\n")
        return 1

    collector.extra_writers.append(srv.write_metrics)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
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
    while not flags["stop"]:
        os.read(wake_r, 4096)  # blocks until a handler writes; drains a burst in one read
        if flags["hup"]:
            flags["hup"] = False
            if reloader is not None:
                reloader.reload("sighup")  # never raises: the one guarded reload path
            else:
                log.warning("SIGHUP ignored: no -config.path to reload")
    srv.shutdown()
    srv.server_close()
    if watcher is not None:
        watcher.stop()
    return 0
