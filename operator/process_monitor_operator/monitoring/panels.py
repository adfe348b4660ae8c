"""The panels of the process-monitor dashboard (pure): which query each panel runs, section by section.

Every metric name goes through monitoring/metricnames.py (`agent_metric`), CPU and memory panels read the
recording rules of monitoring/recording.py, so the dashboard, the alerts and the agent agree on names. `a` is the
target filter (namespace/node/instance, or node/instance with spec.kubernetes.labels) and `s` adds the group (and
the pod variables). Called by monitoring/dashboard.py.
"""

from __future__ import annotations

from typing import Any

from .grafana import DS, WHERE, row, stat, target, timeseries
from .metricnames import agent_metric
from .recording import RECORD_CPU_PERCENT, RECORD_CPU_PERCENT_BY_MODE, RECORD_RESIDENT_BYTES, RECORD_VIRTUAL_BYTES

G = "namedprocess_namegroup_"
NUM_PROCS = agent_metric(G + "num_procs")
NUM_THREADS = agent_metric(G + "num_threads")
OPEN_FDS = agent_metric(G + "open_filedesc")
WORST_FD_RATIO = agent_metric(G + "worst_fd_ratio")
OLDEST_START = agent_metric(G + "oldest_start_time_seconds")
READ_BYTES = agent_metric(G + "read_bytes_total")
WRITE_BYTES = agent_metric(G + "write_bytes_total")
MEMORY = agent_metric(G + "memory_bytes")
STATES = agent_metric(G + "states")
MAJOR_FAULTS = agent_metric(G + "major_page_faults_total")
MINOR_FAULTS = agent_metric(G + "minor_page_faults_total")
CTX_SWITCHES = agent_metric(G + "context_switches_total")
GPU_MEMORY = agent_metric(G + "gpu_memory_bytes")
GPU_UTIL = agent_metric(G + "gpu_utilization_ratio")
GPU_PROCS = agent_metric(G + "gpu_num_procs")
# The agent's own metrics (design.md: prefix process_monitor_agent_); the agent-cost panels read these, and the
# standard process_* metrics of the agent targets (picked out by the agent's build_info).
AGENT_COLLECTION_CPU = agent_metric("process_monitor_agent_collection_cpu_seconds_total")
AGENT_COLLECTIONS = agent_metric("process_monitor_agent_collections_total")
AGENT_COLLECTION_DURATION = agent_metric("process_monitor_agent_collection_duration_seconds")
AGENT_PROCESSES = agent_metric("process_monitor_agent_processes")
AGENT_BUILD_INFO = agent_metric("process_monitor_agent_build_info")
AGENT_RELOAD_OK = agent_metric("process_monitor_agent_config_last_reload_successful")
AGENT_GPU_UP = agent_metric("process_monitor_agent_gpu_up")
AGENT_GPU_ERRORS = agent_metric("process_monitor_agent_gpu_scrape_errors_total")
PROCESS_CPU = agent_metric("process_cpu_seconds_total")
PROCESS_RESIDENT = agent_metric("process_resident_memory_bytes")

# Target-level filters; the "All" value of namespace/node/instance is `.*` so series without that label (a plain
# static_configs job has no `node`) still match, while groupname's "All" is `.+` as in dashboard 249.
A = 'namespace=~"$namespace",node=~"$node",instance=~"$instance"'
S = A + ',groupname=~"$groupname"'
# spec.kubernetes.labels: namespace/pod/container are the workload's; agents are told apart by node and instance.
KUBE_A = 'node=~"$node",instance=~"$instance"'
KUBE_S = KUBE_A + ',namespace=~"$namespace",pod=~"$pod",container=~"$container",groupname=~"$groupname"'
RATE = "[$__rate_interval]"


def _top_containers(s: str) -> dict[str, Any]:
    return timeseries(
        "Top containers by process CPU",
        "The 10 containers whose processes use the most CPU (sum over their groups), percent of one core; host "
        "processes (no pod) are left out.",
        [target(f'topk(10, sum by (namespace, pod, container) ({RECORD_CPU_PERCENT}{{{s},pod!=""}}))',
                "{{namespace}}/{{pod}}/{{container}}")], "percent")


def _groups_table(s: str) -> dict[str, Any]:
    table_columns = [
        ("procs", f"{NUM_PROCS}{{{s}}}"),
        ("cpu", f"{RECORD_CPU_PERCENT}{{{s}}}"),
        ("resident", f"{RECORD_RESIDENT_BYTES}{{{s}}}"),
        ("threads", f"{NUM_THREADS}{{{s}}}"),
        ("fds", f"{OPEN_FDS}{{{s}}}"),
        ("fdratio", f"{WORST_FD_RATIO}{{{s}}}"),
        ("uptime", f"time() - ({OLDEST_START}{{{s}}} > 0)"),
    ]
    return {
        "type": "table", "title": "Groups now",
        "description": "One row per group and agent: processes, CPU % of one core, resident memory, threads, "
                       "open fds, worst fd ratio and the age of the oldest process.",
        "datasource": DS,
        "fieldConfig": {"defaults": {}, "overrides": [
            {"matcher": {"id": "byName", "options": "Value #cpu"},
             "properties": [{"id": "unit", "value": "percent"}, {"id": "displayName", "value": "CPU %"}]},
            {"matcher": {"id": "byName", "options": "Value #resident"},
             "properties": [{"id": "unit", "value": "bytes"}, {"id": "displayName", "value": "resident"}]},
            {"matcher": {"id": "byName", "options": "Value #fdratio"},
             "properties": [{"id": "unit", "value": "percentunit"}, {"id": "displayName", "value": "fd ratio"}]},
            {"matcher": {"id": "byName", "options": "Value #uptime"},
             "properties": [{"id": "unit", "value": "s"}, {"id": "displayName", "value": "oldest process age"}]},
            {"matcher": {"id": "byName", "options": "Value #procs"},
             "properties": [{"id": "displayName", "value": "processes"}]},
            {"matcher": {"id": "byName", "options": "Value #threads"},
             "properties": [{"id": "displayName", "value": "threads"}]},
            {"matcher": {"id": "byName", "options": "Value #fds"},
             "properties": [{"id": "displayName", "value": "open fds"}]},
        ]},
        "options": {"showHeader": True, "sortBy": [{"displayName": "CPU %", "desc": True}]},
        "targets": [target(expr, "", ref, instant=True) for ref, expr in table_columns],
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True, "__name__": True, "job": True}}},
        ],
    }


def _overview(a: str, s: str, kube_labels: bool) -> list[dict[str, Any]]:
    return [
        row("Overview"),
        stat("Processes", "Processes in the selected groups.", f"sum({NUM_PROCS}{{{s}}})",
             "short"),
        stat("Groups", "Distinct group names with at least one series.",
             f"count(count by (groupname) ({NUM_PROCS}{{{s}}}))", "short"),
        stat("CPU", "CPU of the selected groups, in percent of one core (recording rule).",
             f"sum({RECORD_CPU_PERCENT}{{{s}}})", "percent"),
        stat("Resident memory", "Resident memory of the selected groups (recording rule).",
             f"sum({RECORD_RESIDENT_BYTES}{{{s}}})", "bytes"),
        stat("Worst fd ratio", "The fullest process: open fds over its soft open-files limit.",
             f"max({WORST_FD_RATIO}{{{s}}})", "percentunit"),
        stat("Agents", "Agents (targets) reporting groups.",
             f"count(count by (instance) ({NUM_PROCS}{{{a}}}))", "short"),
        _groups_table(s),
        *([_top_containers(s)] if kube_labels else []),
    ]


def _dashboard_249(s: str) -> list[dict[str, Any]]:
    rate = RATE
    return [
        row("Dashboard 249: processes, CPU, I/O, memory"),
        timeseries("Processes", f"{NUM_PROCS} per group.",
                   [target(f"{NUM_PROCS}{{{s}}}")], "short"),
        timeseries("CPU (% of one core)",
                   "User + system CPU per group; 100 = one full core. The seed's "
                   "increase(...[30s])*100/30 over the recording rule's 2m window.",
                   [target(f"{RECORD_CPU_PERCENT}{{{s}}}")], "percent"),
        timeseries("CPU by mode", "User and system CPU per group, percent of one core.",
                   [target(f"{RECORD_CPU_PERCENT_BY_MODE}{{{s}}}", WHERE + " {{mode}}")], "percent"),
        timeseries("Read bytes", "Bytes read per second (from /proc/PID/io; 0 without read access).",
                   [target(f"rate({READ_BYTES}{{{s}}}{rate})")], "Bps"),
        timeseries("Write bytes", "Bytes written per second (from /proc/PID/io; 0 without read access).",
                   [target(f"rate({WRITE_BYTES}{{{s}}}{rate})")], "Bps"),
        timeseries("Resident memory", "Resident set size per group (recording rule).",
                   [target(f"{RECORD_RESIDENT_BYTES}{{{s}}}")], "bytes"),
        timeseries("Virtual memory", "Virtual memory size per group (recording rule).",
                   [target(f"{RECORD_VIRTUAL_BYTES}{{{s}}}")], "bytes"),
        timeseries("Swap and proportional memory",
                   "Swapped, and with -gather-smaps proportionalResident (PSS) and proportionalSwapped.",
                   [target(f'{MEMORY}{{{s},'
                            f'memtype=~"swapped|proportionalResident|proportionalSwapped"}}',
                            WHERE + " {{memtype}}")], "bytes"),
    ]


def _threads_and_states(s: str) -> list[dict[str, Any]]:
    rate = RATE
    return [
        row("Threads, file descriptors, states, faults, context switches"),
        timeseries("Threads", "Threads per group.", [target(f"{NUM_THREADS}{{{s}}}")],
                   "short"),
        timeseries("Open file descriptors", "Open fds per group.",
                   [target(f"{OPEN_FDS}{{{s}}}")], "short"),
        timeseries("Worst fd ratio", "Per group, the fullest process's open fds over its soft limit.",
                   [target(f"{WORST_FD_RATIO}{{{s}}}")], "percentunit", max_value=1),
        timeseries("Thread states", "Threads per scheduler state (Running, Sleeping, Waiting, Zombie, Other).",
                   [target(f"sum by (groupname, state) ({STATES}{{{s}}})",
                            "{{groupname}} {{state}}")], "short", stack=True),
        timeseries("Page faults", "Major and minor page faults per second.",
                   [target(f"rate({MAJOR_FAULTS}{{{s}}}{rate})",
                            WHERE + " major", "A"),
                     target(f"rate({MINOR_FAULTS}{{{s}}}{rate})",
                            WHERE + " minor", "B")], "ops"),
        timeseries("Context switches", "Voluntary and nonvoluntary context switches per second.",
                   [target(f"rate({CTX_SWITCHES}{{{s}}}{rate})",
                            WHERE + " {{ctxswitchtype}}")], "ops"),
    ]


def _agent_cost(a: str) -> list[dict[str, Any]]:
    rate = RATE
    return [
        row("Agent cost"),
        timeseries("Agent CPU per collection",
                   "CPU seconds the agent spends on one walk of /proc (concurrent scrapes share one): the figure "
                   "process-monitor exists to keep low.",
                   [target(f"rate({AGENT_COLLECTION_CPU}{{{a}}}{rate}) / rate({AGENT_COLLECTIONS}{{{a}}}{rate})",
                            "{{instance}}")], "s"),
        timeseries("Agent CPU", "CPU of the agent process, percent of one core.",
                   [target(f"rate({PROCESS_CPU}{{{a}}}{rate}) * 100 "
                            f"and on (instance) {AGENT_BUILD_INFO}{{{a}}}", "{{instance}}")], "percent"),
        timeseries("Agent collection duration", "Wall time of the last collection.",
                   [target(f"{AGENT_COLLECTION_DURATION}{{{a}}}", "{{instance}}")], "s"),
        timeseries("Processes seen by the agent", "Live processes, tracked by a group or ignored.",
                   [target(f"{AGENT_PROCESSES}{{{a}}}", "{{instance}} {{state}}")], "short", stack=True),
        timeseries("Agent resident memory", "The agent process's own resident memory.",
                   [target(f"{PROCESS_RESIDENT}{{{a}}} and on (instance) {AGENT_BUILD_INFO}{{{a}}}",
                            "{{instance}}")], "bytes"),
        stat("Config reloads OK", "Agents whose last config reload succeeded / all agents.",
             f"sum({AGENT_RELOAD_OK}{{{a}}}) / count({AGENT_RELOAD_OK}{{{a}}})", "percentunit"),
    ]


def group_panels(kube_labels: bool = False) -> list[dict[str, Any]]:
    """Every panel of the dashboard without the GPU row, in display order."""
    a, s = (KUBE_A, KUBE_S) if kube_labels else (A, S)
    return [*_overview(a, s, kube_labels), *_dashboard_249(s), *_threads_and_states(s), *_agent_cost(a)]


def gpu_panels() -> list[dict[str, Any]]:
    rate = "[$__rate_interval]"
    on_gpu = WHERE + " GPU {{gpu}}{{GPU_I_ID}}"
    return [
        row("GPU processes"),
        timeseries("GPU memory", "GPU memory used by each group's processes, per GPU (NVML).",
                   [target(f"{GPU_MEMORY}{{{S}}}", on_gpu)], "bytes", stack=True),
        timeseries("GPU SM utilisation",
                   "Share of the GPU's time its SMs ran each group's kernels since the previous collection (NVML "
                   "per-process utilisation; none on MIG instances).",
                   [target(f'{GPU_UTIL}{{{S},engine="sm"}}', on_gpu)], "percentunit", stack=True, max_value=1),
        timeseries("GPU memory-controller utilisation",
                   "Share of time the GPU's memory controller served each group (reads and writes).",
                   [target(f'{GPU_UTIL}{{{S},engine="memory"}}', on_gpu)], "percentunit", stack=True),
        timeseries("GPU encoder / decoder", "Video encoder and decoder utilisation per group.",
                   [target(f'{GPU_UTIL}{{{S},engine=~"encoder|decoder"}}', on_gpu + " {{engine}}")],
                   "percentunit"),
        timeseries("Processes on GPUs", "Processes of each group holding a context on each GPU.",
                   [target(f"{GPU_PROCS}{{{S}}}", on_gpu)], "short", stack=True),
        timeseries("Agent NVML errors", "Failed NVML reads per second by reason (a GPU error never fails a scrape).",
                   [target(f"sum by (instance, reason) (rate({AGENT_GPU_ERRORS}{{{A}}}{rate}))",
                            "{{instance}} {{reason}}")], "ops"),
        stat("Agents reading NVML", "Agents whose last NVML read answered / agents with GPU metrics on.",
             f"sum({AGENT_GPU_UP}{{{A}}}) / count({AGENT_GPU_UP}{{{A}}})", "percentunit"),
    ]

