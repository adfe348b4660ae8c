"""Prometheus text exposition (format 0.0.4) of group snapshots, written by hand (no client library).

Called by collector.py after each collection. Families are declared as a table of
(name, help, type, function) rows, kube-state-metrics style; each function yields (label string, value) pairs for
one group. Names, types, labels and label values are process-exporter's exactly (collector/process_collector.go);
values are formatted as Go's client does (shortest float, exponent from 1e6 on), so the text reads the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

from .grouper import GroupSnapshot

Sample = tuple[str, float | int]
FamilyFn = Callable[[GroupSnapshot, float], Iterable[Sample]]

STATE_NAMES = ("Running", "Sleeping", "Waiting", "Zombie", "Other")


def fmt_value(v: float | int) -> str:
    """Go strconv.FormatFloat(v, 'g', -1, 64), as client_golang's text writer prints sample values: the shortest
    digits that round-trip, in exponent form when the decimal exponent is < -4 or >= 6."""
    if isinstance(v, int) and -1_000_000 < v < 1_000_000:
        return str(v)
    v = float(v)
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    if v.is_integer() and -1e6 < v < 1e6:
        return str(int(v))
    r = repr(v)  # shortest round-trip digits, like Go's
    sign = ""
    if r[0] == "-":
        sign, r = "-", r[1:]
    mant, _, e = r.partition("e")
    exp = int(e) if e else 0
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    dexp = len(ip.lstrip("0")) - 1 + exp if ip.strip("0") else -(len(fp) - len(fp.lstrip("0"))) - 1 + exp
    digits = (ip + fp).lstrip("0").rstrip("0") or "0"
    if dexp < -4 or dexp >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'-' if dexp < 0 else '+'}{abs(dexp):02d}"
    if dexp < 0:
        return sign + "0." + "0" * (-dexp - 1) + digits
    if len(digits) <= dexp + 1:
        return sign + digits + "0" * (dexp + 1 - len(digits))
    return sign + digits[: dexp + 1] + "." + digits[dexp + 1 :]


def escape_label(v: str) -> str:
    if "\\" in v or '"' in v or "\n" in v:
        v = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return v


def escape_help(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n")


# -- per-group family functions (gl = the escaped `groupname="..."` label pair) ----------------------------------


def _num_procs(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield "", g.procs


def _cpu(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield ',mode="system"', g.counters.stime / hz
    yield ',mode="user"', g.counters.utime / hz


def _read_bytes(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield "", g.counters.rb


def _write_bytes(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield "", g.counters.wb


def _major(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield "", g.counters.maj


def _minor(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield "", g.counters.min


def _ctx(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield ',ctxswitchtype="nonvoluntary"', g.counters.nvcs
    yield ',ctxswitchtype="voluntary"', g.counters.vcs


def _memory(smaps: bool) -> FamilyFn:
    def fn(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
        if smaps:
            yield ',memtype="proportionalResident"', g.pss
            yield ',memtype="proportionalSwapped"', g.swappss
        yield ',memtype="resident"', g.rss
        yield ',memtype="swapped"', g.swap
        yield ',memtype="virtual"', g.vsize

    return fn


def _open_fds(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield "", g.fds


def _worst_fd(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield "", g.worst_ratio


def _oldest(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield "", g.oldest


def _num_threads(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    yield "", g.nthreads


def _states(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    st = g.states
    yield ',state="Other"', st[4]
    yield ',state="Running"', st[0]
    yield ',state="Sleeping"', st[1]
    yield ',state="Waiting"', st[2]
    yield ',state="Zombie"', st[3]


def _wchans(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
    for w in sorted(g.wchans):
        yield f',wchan="{escape_label(w)}"', g.wchans[w]


def _thread_fn(pick: Callable[[object], Iterable[Sample]]) -> FamilyFn:
    def fn(g: GroupSnapshot, hz: float) -> Iterator[Sample]:
        for t in g.threads:
            tl = f',threadname="{escape_label(t.name)}"'
            for extra, v in pick(t, hz):  # type: ignore[call-arg]
                yield tl + extra, v

    return fn


P = "namedprocess_namegroup_"


def group_families(smaps: bool, threads: bool, gpu: bool = False) -> list[tuple[str, str, str, FamilyFn]]:
    """The table of per-group families for the given flags, sorted by name as client_golang writes them."""
    rows: list[tuple[str, str, str, FamilyFn]] = [
        (P + "num_procs", "number of processes in this group", "gauge", _num_procs),
        (P + "cpu_seconds_total", "Cpu user usage in seconds", "counter", _cpu),
        (P + "read_bytes_total", "number of bytes read by this group", "counter", _read_bytes),
        (P + "write_bytes_total", "number of bytes written by this group", "counter", _write_bytes),
        (P + "major_page_faults_total", "Major page faults", "counter", _major),
        (P + "minor_page_faults_total", "Minor page faults", "counter", _minor),
        (P + "context_switches_total", "Context switches", "counter", _ctx),
        (P + "memory_bytes", "number of bytes of memory in use", "gauge", _memory(smaps)),
        (P + "open_filedesc", "number of open file descriptors for this group", "gauge", _open_fds),
        (
            P + "worst_fd_ratio",
            "the worst (closest to 1) ratio between open fds and max fds among all procs in this group",
            "gauge",
            _worst_fd,
        ),
        (
            P + "oldest_start_time_seconds",
            "start time in seconds since 1970/01/01 of oldest process in group",
            "gauge",
            _oldest,
        ),
        (P + "num_threads", "Number of threads", "gauge", _num_threads),
        (
            P + "states",
            "Number of processes in states Running, Sleeping, Waiting, Zombie, or Other",
            "gauge",
            _states,
        ),
    ]
    if threads:
        rows += [
            (P + "threads_wchan", "Number of threads in this group waiting on each wchan", "gauge", _wchans),
            (
                P + "thread_count",
                "Number of threads in this group with same threadname",
                "gauge",
                _thread_fn(lambda t, hz: [("", t.count)]),
            ),
            (
                P + "thread_cpu_seconds_total",
                "Cpu user/system usage in seconds",
                "counter",
                _thread_fn(
                    lambda t, hz: [(',mode="system"', t.counters.stime / hz), (',mode="user"', t.counters.utime / hz)]
                ),
            ),
            (
                P + "thread_io_bytes_total",
                "number of bytes read/written by these threads",
                "counter",
                _thread_fn(lambda t, hz: [(',iomode="read"', t.counters.rb), (',iomode="write"', t.counters.wb)]),
            ),
            (
                P + "thread_major_page_faults_total",
                "Major page faults for these threads",
                "counter",
                _thread_fn(lambda t, hz: [("", t.counters.maj)]),
            ),
            (
                P + "thread_minor_page_faults_total",
                "Minor page faults for these threads",
                "counter",
                _thread_fn(lambda t, hz: [("", t.counters.min)]),
            ),
            (
                P + "thread_context_switches_total",
                "Context switches for these threads",
                "counter",
                _thread_fn(
                    lambda t, hz: [
                        (',ctxswitchtype="nonvoluntary"', t.counters.nvcs),
                        (',ctxswitchtype="voluntary"', t.counters.vcs),
                    ]
                ),
            ),
        ]
    if gpu:
        from .gpu.families import GPU_FAMILIES  # -gpu.enabled only

        rows += GPU_FAMILIES
    rows.sort(key=lambda r: r[0])
    return rows


def write_groups(
    out: list[str], groups: list[GroupSnapshot], families: list[tuple[str, str, str, FamilyFn]], hz: float
) -> None:
    """Append the per-group families to `out` (a list of text chunks)."""
    labels = [f'groupname="{escape_label(g.name)}"' + (_kube_labels(g.labels) if g.labels is not None else "")
              for g in groups]
    fv = fmt_value
    for name, help_text, typ, fn in families:
        lines = []
        for g, gl in zip(groups, labels, strict=True):
            for extra, v in fn(g, hz):
                lines.append(f"{name}{{{gl}{extra}}} {fv(v)}\n")
        if not lines:
            continue
        out.append(f"# HELP {name} {escape_help(help_text)}\n# TYPE {name} {typ}\n")
        out.extend(lines)


def _kube_labels(labels: tuple[str, str, str]) -> str:
    """-kubernetes.labels: cAdvisor's label names, so container_* and kube_pod_* series join as they are."""
    ns, pod, container = labels
    return f',namespace="{escape_label(ns)}",pod="{escape_label(pod)}",container="{escape_label(container)}"'


def write_family(out: list[str], name: str, help_text: str, typ: str, samples: Iterable[Sample]) -> None:
    """Append one family given (label string without braces, value) samples."""
    out.append(f"# HELP {name} {escape_help(help_text)}\n# TYPE {name} {typ}\n")
    for labels, v in samples:
        if labels:
            out.append(f"{name}{{{labels}}} {fmt_value(v)}\n")
        else:
            out.append(f"{name} {fmt_value(v)}\n")
