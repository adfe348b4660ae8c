"""Parser for /proc/<pid>/schedstat (tracker.py: has a single-threaded process run since the last scrape?).

The first field is the task's sum_exec_runtime in nanoseconds; it grows whenever the task runs at all, so an
unchanged value proves the process did not run: its I/O, context switches, fds and wait channel cannot have moved.
"""

from __future__ import annotations


def parse_runtime_ns(data: bytes) -> int:
    return int(data.split(None, 1)[0])
