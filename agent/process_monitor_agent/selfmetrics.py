"""The agent's own standard process and Python metrics, as prometheus_client's default collectors name them.

Called by collector.py once per collection. Read from /proc/self directly (no client library import, to keep
start-up and RSS small): process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
process_start_time_seconds, process_open_fds, process_max_fds, python_info and python_gc_*.
"""

from __future__ import annotations

import gc
import resource
import sys

from .export.textformat import Family, fmt_value
from .procfs import read_file
from .procfs.fd import count_fds
from .procfs.stat import parse_stat
from .procfs.system import clock_ticks, page_size, parse_boot_time


def write_family(out: list[str], name: str, help_text: str, kind: str, samples: list[tuple[str, float]]) -> None:
    """One family with pre-rendered label text (`a="x"`)."""
    out.append(Family(name, help_text, kind).header)
    out.extend(f"{name}{{{lt}}} {fmt_value(v)}\n" if lt else f"{name} {fmt_value(v)}\n" for lt, v in samples)


class SelfMetrics:
    def __init__(self) -> None:
        self.hz = clock_ticks()
        self.pagesize = page_size()
        try:
            self.boot = parse_boot_time(read_file("/proc/stat", 65536))
        except (OSError, ValueError):
            self.boot = 0
        v = sys.version_info
        impl = {"cpython": "CPython", "pypy": "PyPy"}.get(sys.implementation.name, sys.implementation.name)
        self.info = (
            f'implementation="{impl}",major="{v.major}",minor="{v.minor}",'
            f'patchlevel="{v.micro}",version="{v.major}.{v.minor}.{v.micro}"'
        )

    def write(self, out: list[str]) -> None:
        try:
            st = parse_stat(read_file("/proc/self/stat", 1024))
        except (OSError, ValueError):
            st = None
        if st is not None:
            write_family(
                out,
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                "counter",
                [("", (st.utime + st.stime) / self.hz)],
            )
        try:
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            write_family(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge", [("", soft)])
        except (OSError, ValueError):
            pass
        try:
            n = count_fds("/proc/self/fd")
            write_family(out, "process_open_fds", "Number of open file descriptors.", "gauge", [("", n)])
        except OSError:
            pass
        if st is not None:
            write_family(
                out,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
                [("", st.rss * self.pagesize)],
            )
            write_family(
                out,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                "gauge",
                [("", self.boot + st.starttime / self.hz)],
            )
            write_family(
                out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", [("", st.vsize)]
            )
        stats = gc.get_stats()
        write_family(
            out,
            "python_gc_collections_total",
            "Number of times this generation was collected",
            "counter",
            [(f'generation="{i}"', s.get("collections", 0)) for i, s in enumerate(stats)],
        )
        write_family(
            out,
            "python_gc_objects_collected_total",
            "Objects collected during gc",
            "counter",
            [(f'generation="{i}"', s.get("collected", 0)) for i, s in enumerate(stats)],
        )
        write_family(
            out,
            "python_gc_objects_uncollectable_total",
            "Uncollectable objects found during GC",
            "counter",
            [(f'generation="{i}"', s.get("uncollectable", 0)) for i, s in enumerate(stats)],
        )
        write_family(out, "python_info", "Python platform information", "gauge", [(self.info, 1)])


