"""Host-wide procfs values: the PID list (track/, every collection); boot time from /proc/stat, clock ticks and
page size (track/ at start-up)."""

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


def list_pids(procfs: str) -> list[str]:
    """PIDs under the procfs root, as the directory names they are (the walk builds paths from them).
    Raises OSError when the root cannot be listed."""
    return [name for name in os.listdir(procfs) if name.isdigit()]


def parse_uptime(data: bytes) -> float:
    """Seconds since boot, the first field of /proc/uptime (the -recheck-with-time-limit clock)."""
    return float(data.split()[0])
