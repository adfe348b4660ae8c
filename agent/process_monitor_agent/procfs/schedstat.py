"""Parser for /proc/<pid>/schedstat (track/: has a process or thread run since the last collection?).

The first field is the task's sum_exec_runtime in nanoseconds; it grows whenever the task runs at all, so an
unchanged value proves the process did not run: its I/O, context switches, fds and wait channel cannot have moved.
"""

from __future__ import annotations

from . import read_file

SCHEDSTAT_SIZE = 256  # three numbers


def parse_runtime_ns(data: bytes) -> int:
    return int(data.split(None, 1)[0])


def read_runtime_ns(path: str) -> int:
    """sum_exec_runtime of the schedstat file at `path` (read for every idle tracked process on the fast path).
    Raises OSError, or ValueError/IndexError on a malformed file."""
    return parse_runtime_ns(read_file(path, SCHEDSTAT_SIZE))
