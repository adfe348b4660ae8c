"""The agent's own families, declared once: upstream's three `namedprocess_scrape_*` error counters and every
`process_monitor_agent_*` family (collection, reload, HTTP server, GPU monitor, pod attribution).

Values belong to their owners, which write them with `Family.write` at each scrape: collector.py (scrape errors,
collection, reload state, limits), http/server.py (connections), reload.py (reload requests), gpu/monitor.py
(-gpu.enabled), kube/attribution.py (pod attribution in use). The standard process_*/python_* metrics are
in export/process.py. A leaf besides textformat.
"""

from __future__ import annotations

from .textformat import Family

A = "process_monitor_agent_"

# -- upstream's error counters (collector.py) ---------------------------------------------------------------------
SCRAPE_ERRORS = Family("namedprocess_scrape_errors",
                       "general scrape errors: no proc metrics collected during a cycle", "counter")
SCRAPE_PARTIAL_ERRORS = Family(
    "namedprocess_scrape_partial_errors",
    "incremented each time a tracked proc's metrics collection fails partially, e.g. unreadable I/O stats", "counter")
SCRAPE_PROCREAD_ERRORS = Family("namedprocess_scrape_procread_errors",
                                "incremented each time a proc's metrics collection fails", "counter")

# -- collection (collector.py) -----------------------------------------------------------------------------------
BUILD_INFO = Family(A + "build_info", "Version of the agent; value 1.", "gauge", ("version",))
COLLECTION_DURATION_SECONDS = Family(
    A + "collection_duration_seconds",
    "Wall time of the last collection (walk /proc, group, format), excluding waiting for the lock.", "gauge")
COLLECTION_CPU_SECONDS = Family(A + "collection_cpu_seconds", "CPU time (user+system) of the last collection.",
                                "gauge")
COLLECTION_CPU_SECONDS_TOTAL = Family(A + "collection_cpu_seconds_total",
                                      "CPU time (user+system) of all collections since start.", "counter")
COLLECTIONS_TOTAL = Family(A + "collections_total", "Collections of /proc since start.", "counter")
SCRAPES_TOTAL = Family(A + "scrapes_total", "Scrapes served; scrapes arriving together share one collection.",
                       "counter")
PROCESSES = Family(
    A + "processes",
    "Live processes known to the agent at the last collection, by whether a group tracks them (blocked: "
    "skipped after a cmdline read timed out).", "gauge", ("state",))
READ_ERRORS_TOTAL = Family(
    A + "read_errors_total",
    "Failed reads of a live process's /proc files since start, by file; without root or SYS_PTRACE and "
    "DAC_READ_SEARCH, io, fd, smaps_rollup (and for other users' processes limits) cannot be read.", "counter",
    ("file",))
COLLECTION_AGE_SECONDS = Family(
    A + "collection_age_seconds",
    "Age of the served group metrics: time since the collection they come from ended (since start-up before "
    "the first one). Grows while collections overrun -collection.deadline.", "gauge")
COLLECTION_DEADLINE_EXCEEDED_TOTAL = Family(
    A + "collection_deadline_exceeded_total",
    "Scrapes answered with an older result because the collection they asked for did not finish within "
    "-collection.deadline (or failed).", "counter")
READ_TIMEOUTS_TOTAL = Family(
    A + "read_timeouts_total",
    "Reads of a process's cmdline or smaps_rollup abandoned after -collection.deadline/5 (the target's mmap "
    "lock was held); a process whose cmdline read hung is skipped for 60 s.", "counter", ("file",))
STUCK_READS = Family(A + "stuck_reads",
                     "Abandoned reads still blocked in the kernel (at most 8; past that, such reads fail at once).",
                     "gauge")
GROUPS = Family(A + "groups", "Groups in the last collection's output (with members or kept empty).", "gauge")
LIMIT_HITS_TOTAL = Family(
    A + "limit_hits_total",
    "Times an output bound bit: group_name_length and thread_name_length (names cut, -limit.name-length), "
    "groups (processes not tracked, -limit.groups), empty_group_age (templated groups forgotten, "
    "-remove-empty-groups.after), thread_names (threads left out of the thread_* series per collection, "
    "-limit.thread-names), cmdline_size (cmdline reads cut at 2 MiB).", "counter", ("limit",))
CONFIG_LAST_RELOAD_SUCCESSFUL = Family(A + "config_last_reload_successful",
                                       "Whether the last configuration reload attempt was successful.", "gauge")
CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS = Family(
    A + "config_last_reload_success_timestamp_seconds",
    "Timestamp of the last successful configuration load (start-up counts).", "gauge")
CONFIG_RELOADS_TOTAL = Family(A + "config_reloads_total", "Configuration reload attempts by result.", "counter",
                              ("result",))

# -- reload requests (reload.py) ----------------------------------------------------------------------------------
CONFIG_RELOAD_REQUESTS_TOTAL = Family(
    A + "config_reload_requests_total",
    "Config reload requests by trigger and outcome; only the outcomes applied and refused read and parsed the file.",
    "counter", ("outcome", "trigger"))

# -- HTTP server (http/server.py) ---------------------------------------------------------------------------------
HTTP_CONNECTIONS = Family(A + "http_connections", "HTTP connections open now.", "gauge")
HTTP_CONNECTIONS_MAX = Family(A + "http_connections_max",
                              "Most HTTP connections served at once (-web.max-connections).", "gauge")
HTTP_IDLE_CONNECTIONS_CLOSED_TOTAL = Family(
    A + "http_idle_connections_closed_total",
    "Idle keep-alive connections closed to make room at -web.max-connections.", "counter")
HTTP_REQUESTS_REFUSED_TOTAL = Family(
    A + "http_requests_refused_total",
    "Malformed, oversized or too slow requests, by the status they were answered with.", "counter", ("code",))

# -- GPU monitor (gpu/monitor.py, -gpu.enabled) -------------------------------------------------------------------
GPU_UP = Family(A + "gpu_up",
                "Whether the last NVML read answered (1) or failed or timed out (0); with -gpu.enabled only.", "gauge")
GPU_INFO = Family(A + "gpu_info",
                  "GPUs (and MIG GPU instances) NVML reported at the last read; value 1. Labels as dcgm-exporter's.",
                  "gauge", ("gpu", "UUID", "GPU_I_ID", "modelName"))
GPU_PROCESSES = Family(A + "gpu_processes",
                       "Processes holding a GPU context at the last read, by whether a group tracks them.", "gauge",
                       ("state",))
GPU_READ_DURATION_SECONDS = Family(
    A + "gpu_read_duration_seconds",
    "Wall time of the last NVML read, including waiting for it (at most -gpu.timeout).", "gauge")
GPU_SCRAPE_ERRORS_TOTAL = Family(
    A + "gpu_scrape_errors_total",
    "Failed NVML reads by reason (library_not_found, driver_not_loaded, no_permission, gpu_lost, "
    "reset_required, timeout, ...); a GPU error never fails the scrape.", "counter", ("reason",))

# -- pod attribution (kube/attribution.py) ------------------------------------------------------------------------
K = A + "kubernetes_"
KUBERNETES_LOG_DIR_SCANS_TOTAL = Family(
    K + "log_dir_scans_total",
    "Listings of the kubelet's pod and container log directories (on unknown pods/containers).", "counter")
KUBERNETES_LOG_DIR_SKIPPED_ENTRIES = Family(
    K + "log_dir_skipped_entries", "Entries of the last listing that fit no kubelet naming rule (ignored).", "gauge")
KUBERNETES_WORKLOADS = Family(
    K + "workloads", "Pod cgroups (containers, sandboxes, ...) known to the agent; pending: names not found yet.",
    "gauge", ("state",))

# Every declaration above, in declaration order (collected, not listed, so a new one cannot be left out).
ALL: tuple[Family, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Family))
