"""The agent's standard process and Python metrics, declared once as `Family` rows and read through procfs/.

Called by collector.py at each scrape (unless `self_metrics=False`, as tests over fake trees do). The families are
the ones prometheus_client's default collectors serve (ProcessCollector, PlatformCollector, GCCollector), with
their names, help texts, types and labels; tests/agent/test_export_process.py runs those collectors in the test
process and checks that every family here matches theirs and that the values agree.

Why not prometheus_client itself (README.md, "Dependencies"): importing it loads its exposition module and with it
http.server, wsgiref, urllib and ssl, +7.5 MiB peak RSS, which takes the agent at 10,000 processes from 0.58x to
0.70x Debian process-exporter's (design target: at most 0.6x); `python bench/agent_scrape.py --procs 10000
--scrapes 10` reproduces both rows with PM_AGENT_SRC pointing at a tree with and without it (bench/README.md).
"""

from __future__ import annotations

import contextlib
import gc
import resource
import sys

from ..procfs import read_file
from ..procfs.fd import count_fds
from ..procfs.stat import STAT_SIZE, parse_stat
from ..procfs.system import clock_ticks, page_size, parse_boot_time
from .textformat import Family

CPU_SECONDS_TOTAL = Family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                           "counter")
MAX_FDS = Family("process_max_fds", "Maximum number of open file descriptors.", "gauge")
OPEN_FDS = Family("process_open_fds", "Number of open file descriptors.", "gauge")
RESIDENT_MEMORY_BYTES = Family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge")
START_TIME_SECONDS = Family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                            "gauge")
VIRTUAL_MEMORY_BYTES = Family("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge")
GC_COLLECTIONS_TOTAL = Family("python_gc_collections_total", "Number of times this generation was collected",
                              "counter", ("generation",))
GC_OBJECTS_COLLECTED_TOTAL = Family("python_gc_objects_collected_total", "Objects collected during gc", "counter",
                                    ("generation",))
GC_OBJECTS_UNCOLLECTABLE_TOTAL = Family("python_gc_objects_uncollectable_total",
                                        "Uncollectable objects found during GC", "counter", ("generation",))
PYTHON_INFO = Family("python_info", "Python platform information", "gauge",
                     ("implementation", "major", "minor", "patchlevel", "version"))

# In output order (the order of the hand-written block this replaced; names sorted within process_ and python_).
ALL = (CPU_SECONDS_TOTAL, MAX_FDS, OPEN_FDS, RESIDENT_MEMORY_BYTES, START_TIME_SECONDS, VIRTUAL_MEMORY_BYTES,
       GC_COLLECTIONS_TOTAL, GC_OBJECTS_COLLECTED_TOTAL, GC_OBJECTS_UNCOLLECTABLE_TOTAL, PYTHON_INFO)


class StandardMetrics:
    """process_* of /proc/self and python_* of this interpreter, written at each scrape."""

    def __init__(self, procfs: str = "/proc") -> None:
        self.self_dir = f"{procfs}/self"
        self.hz = clock_ticks()
        self.pagesize = page_size()
        try:
            self.boot = parse_boot_time(read_file(f"{procfs}/stat", 65536))
        except (OSError, ValueError):
            self.boot = 0
        v = sys.version_info
        impl = {"cpython": "CPython", "pypy": "PyPy"}.get(sys.implementation.name, sys.implementation.name)
        self.info = (impl, str(v.major), str(v.minor), str(v.micro), f"{v.major}.{v.minor}.{v.micro}")

    def write(self, out: list[str]) -> None:
        """Append the families; one that cannot be read this time (e.g. /proc/self/stat) is left out whole."""
        try:
            st = parse_stat(read_file(f"{self.self_dir}/stat", STAT_SIZE))
        except (OSError, ValueError):
            st = None
        if st is not None:
            CPU_SECONDS_TOTAL.write(out, [((), (st.utime + st.stime) / self.hz)])
        # the value is read before `write` is called, so a failed read appends nothing
        with contextlib.suppress(OSError, ValueError):
            MAX_FDS.write(out, [((), resource.getrlimit(resource.RLIMIT_NOFILE)[0])])
        with contextlib.suppress(OSError):
            OPEN_FDS.write(out, [((), count_fds(f"{self.self_dir}/fd"))])
        if st is not None:
            RESIDENT_MEMORY_BYTES.write(out, [((), st.rss * self.pagesize)])
            START_TIME_SECONDS.write(out, [((), self.boot + st.starttime / self.hz)])
            VIRTUAL_MEMORY_BYTES.write(out, [((), st.vsize)])
        stats = gc.get_stats()
        for family, key in ((GC_COLLECTIONS_TOTAL, "collections"), (GC_OBJECTS_COLLECTED_TOTAL, "collected"),
                            (GC_OBJECTS_UNCOLLECTABLE_TOTAL, "uncollectable")):
            family.write(out, [((str(i),), s.get(key, 0)) for i, s in enumerate(stats)])
        PYTHON_INFO.write(out, [(self.info, 1)])
