"""Every per-group `namedprocess_namegroup_*` family, declared once as data (kube-state-metrics style), the
selection for the flags in force, the writer of a collection's groups, and `BY_NAME` over every family the agent
declares (these, the GPU ones and the agent's own).

Called by collector.py (`select` once, `write_groups` per collection); read by tests, the operator's dashboard
and alert rules for metric names. Light on purpose: imports no procfs, no prometheus_client, no NVML.
Names, types, labels, label values and series order are process-exporter's exactly
(collector/process_collector.go); families are written sorted by name, as client_golang writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from ..gpu.families import GPU_FAMILIES
from . import own
from .textformat import Family, Sample, escape_label, fmt_value, label_text

P = "namedprocess_namegroup_"
GROUP_LABEL = "groupname"
KUBE_LABELS = ("namespace", "pod", "container")  # -kubernetes.labels: cAdvisor's names, so container_* joins


class Options(NamedTuple):
    """What a family's samples depend on besides the group: clock ticks per second (CPU counters are kept in
    ticks) and -gather-smaps (the proportional memory types)."""

    hz: float
    smaps: bool = False


def _one(value: Any) -> list[Sample]:
    return [((), value)]


def _memory(g: Any, o: Options) -> Iterator[Sample]:
    if o.smaps:
        yield ("proportionalResident",), g.pss
        yield ("proportionalSwapped",), g.swappss
    yield ("resident",), g.rss
    yield ("swapped",), g.swap
    yield ("virtual",), g.vsize


def _states(g: Any, o: Options) -> list[Sample]:
    st = g.states  # indexed Running, Sleeping, Waiting, Zombie, Other; written in name order
    return [(("Other",), st[4]), (("Running",), st[0]), (("Sleeping",), st[1]), (("Waiting",), st[2]),
            (("Zombie",), st[3])]


def _wchans(g: Any, o: Options) -> Iterator[Sample]:
    for w in sorted(g.wchans):
        yield (w,), g.wchans[w]


def _per_thread(pick: Any) -> Any:
    """Samples of a thread family: `pick(thread_group, options)` yields (values after threadname, value)."""

    def samples(g: Any, o: Options) -> Iterator[Sample]:
        for t in g.threads:
            name = t.name
            for values, v in pick(t, o):
                yield (name, *values), v

    return samples


NUM_PROCS = Family(P + "num_procs", "number of processes in this group", "gauge", (),
                   lambda g, o: _one(g.procs))
CPU_SECONDS_TOTAL = Family(P + "cpu_seconds_total", "Cpu user usage in seconds", "counter", ("mode",),
                           lambda g, o: [(("system",), g.counters.stime / o.hz), (("user",), g.counters.utime / o.hz)])
READ_BYTES_TOTAL = Family(P + "read_bytes_total", "number of bytes read by this group", "counter", (),
                          lambda g, o: _one(g.counters.rb))
WRITE_BYTES_TOTAL = Family(P + "write_bytes_total", "number of bytes written by this group", "counter", (),
                           lambda g, o: _one(g.counters.wb))
MAJOR_PAGE_FAULTS_TOTAL = Family(P + "major_page_faults_total", "Major page faults", "counter", (),
                                 lambda g, o: _one(g.counters.maj))
MINOR_PAGE_FAULTS_TOTAL = Family(P + "minor_page_faults_total", "Minor page faults", "counter", (),
                                 lambda g, o: _one(g.counters.min))
CONTEXT_SWITCHES_TOTAL = Family(P + "context_switches_total", "Context switches", "counter", ("ctxswitchtype",),
                                lambda g, o: [(("nonvoluntary",), g.counters.nvcs), (("voluntary",), g.counters.vcs)])
MEMORY_BYTES = Family(P + "memory_bytes", "number of bytes of memory in use", "gauge", ("memtype",), _memory)
OPEN_FILEDESC = Family(P + "open_filedesc", "number of open file descriptors for this group", "gauge", (),
                       lambda g, o: _one(g.fds))
WORST_FD_RATIO = Family(P + "worst_fd_ratio",
                        "the worst (closest to 1) ratio between open fds and max fds among all procs in this group",
                        "gauge", (), lambda g, o: _one(g.worst_ratio))
OLDEST_START_TIME_SECONDS = Family(P + "oldest_start_time_seconds",
                                   "start time in seconds since 1970/01/01 of oldest process in group", "gauge", (),
                                   lambda g, o: _one(g.oldest))
NUM_THREADS = Family(P + "num_threads", "Number of threads", "gauge", (), lambda g, o: _one(g.nthreads))
STATES = Family(P + "states", "Number of processes in states Running, Sleeping, Waiting, Zombie, or Other", "gauge",
                ("state",), _states)

# -threads (on by default): per thread name within a group
THREADS_WCHAN = Family(P + "threads_wchan", "Number of threads in this group waiting on each wchan", "gauge",
                       ("wchan",), _wchans)
THREAD_COUNT = Family(P + "thread_count", "Number of threads in this group with same threadname", "gauge",
                      ("threadname",), _per_thread(lambda t, o: [((), t.count)]))
THREAD_CPU_SECONDS_TOTAL = Family(
    P + "thread_cpu_seconds_total", "Cpu user/system usage in seconds", "counter", ("threadname", "mode"),
    _per_thread(lambda t, o: [(("system",), t.counters.stime / o.hz), (("user",), t.counters.utime / o.hz)]))
THREAD_IO_BYTES_TOTAL = Family(
    P + "thread_io_bytes_total", "number of bytes read/written by these threads", "counter", ("threadname", "iomode"),
    _per_thread(lambda t, o: [(("read",), t.counters.rb), (("write",), t.counters.wb)]))
THREAD_MAJOR_PAGE_FAULTS_TOTAL = Family(
    P + "thread_major_page_faults_total", "Major page faults for these threads", "counter", ("threadname",),
    _per_thread(lambda t, o: [((), t.counters.maj)]))
THREAD_MINOR_PAGE_FAULTS_TOTAL = Family(
    P + "thread_minor_page_faults_total", "Minor page faults for these threads", "counter", ("threadname",),
    _per_thread(lambda t, o: [((), t.counters.min)]))
THREAD_CONTEXT_SWITCHES_TOTAL = Family(
    P + "thread_context_switches_total", "Context switches for these threads", "counter",
    ("threadname", "ctxswitchtype"),
    _per_thread(lambda t, o: [(("nonvoluntary",), t.counters.nvcs), (("voluntary",), t.counters.vcs)]))

GROUP_FAMILIES: tuple[Family, ...] = (
    NUM_PROCS, CPU_SECONDS_TOTAL, READ_BYTES_TOTAL, WRITE_BYTES_TOTAL, MAJOR_PAGE_FAULTS_TOTAL,
    MINOR_PAGE_FAULTS_TOTAL, CONTEXT_SWITCHES_TOTAL, MEMORY_BYTES, OPEN_FILEDESC, WORST_FD_RATIO,
    OLDEST_START_TIME_SECONDS, NUM_THREADS, STATES,
)
THREAD_FAMILIES: tuple[Family, ...] = (
    THREADS_WCHAN, THREAD_COUNT, THREAD_CPU_SECONDS_TOTAL, THREAD_IO_BYTES_TOTAL, THREAD_MAJOR_PAGE_FAULTS_TOTAL,
    THREAD_MINOR_PAGE_FAULTS_TOTAL, THREAD_CONTEXT_SWITCHES_TOTAL,
)

# Every family the agent declares, by full metric name (its standard process_*/python_* families are declared in
# export/process.py, which reads /proc/self and so is not imported here).
BY_NAME: dict[str, Family] = {f.name: f for f in (*GROUP_FAMILIES, *THREAD_FAMILIES, *GPU_FAMILIES, *own.ALL)}


def select(threads: bool, gpu: bool = False) -> tuple[Family, ...]:
    """The per-group families written with these flags, sorted by name as client_golang writes them."""
    rows = list(GROUP_FAMILIES)
    if threads:
        rows += THREAD_FAMILIES
    if gpu:
        rows += GPU_FAMILIES
    return tuple(sorted(rows, key=lambda f: f.name))


def group_labels(g: Any) -> str:
    """`groupname="..."`, plus namespace, pod and container with -kubernetes.labels (`g.labels` not None)."""
    text = f'{GROUP_LABEL}="{escape_label(g.name)}"'
    if g.labels is not None:
        ns, pod, container = g.labels
        text += f',namespace="{escape_label(ns)}",pod="{escape_label(pod)}",container="{escape_label(container)}"'
    return text


def write_groups(out: list[str], groups: Iterable[Any], families: Iterable[Family], opts: Options) -> None:
    """Append the per-group families to `out` (text chunks); a family without any series is left out whole."""
    groups = list(groups)
    labels = [group_labels(g) for g in groups]
    fv = fmt_value
    for fam in families:
        name, fn, prefixes = fam.name, fam.samples, fam.prefixes
        assert fn is not None, fam.name
        lines: list[str] = []
        if not prefixes:
            for g, gl in zip(groups, labels, strict=True):
                for _, v in fn(g, opts):
                    lines.append(f"{name}{{{gl}}} {fv(v)}\n")
        else:
            # Label text by values, for this family and this call only (values come from tenants: never kept):
            # most values repeat (mode="user" in every group, a thread name in every family of its group).
            texts: dict[tuple[Any, ...], str] = {}
            for g, gl in zip(groups, labels, strict=True):
                head = f"{name}{{{gl}"
                for values, v in fn(g, opts):
                    lt = texts.get(values)
                    if lt is None:
                        lt = texts[values] = label_text(prefixes, values)
                    lines.append(f"{head}{lt}}} {fv(v)}\n")
        if lines:
            out.append(fam.header)
            out.extend(lines)
