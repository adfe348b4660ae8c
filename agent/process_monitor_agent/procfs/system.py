"""Host-wide procfs values (tracker.py at start-up): boot time from /proc/stat, clock ticks, page size."""

from __future__ import annotations

import os


def parse_boot_time(data: bytes) -> int:
    """`btime` line of /proc/stat, seconds since the epoch."""
    i = data.find(b"\nbtime ")
    if i < 0:
        if data.startswith(b"btime "):
            i = -1
        else:
            raise ValueError("no btime in /proc/stat")
    return int(data[i + 7 : data.find(b"\n", i + 7)])


def clock_ticks() -> int:
    """USER_HZ; process-exporter hard-codes 100, which is what every Linux build reports."""
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError):
        return 100


def page_size() -> int:
    return int(os.sysconf("SC_PAGESIZE"))
