"""The agent's flag table (every process-exporter flag plus ours) and the -man text.

Kept apart from cli.py, which parses these (flags.py) and starts the agent; test_cli.py checks the table
against process-exporter's flag names through `cli.FLAGS`.
"""

from __future__ import annotations

from .flags import Flag
from .limits import (
    DEFAULT_EMPTY_GROUP_AGE,
    DEFAULT_MAX_GROUPS,
    DEFAULT_MAX_THREAD_NAMES,
    DEFAULT_NAME_LENGTH,
)

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
