"""Parser for /proc/<pid>/wchan (track/refresh.py and track/threads.py, only with -threads)."""

from __future__ import annotations


def parse_wchan(data: bytes) -> str:
    """Kernel function the task waits in; "" for running tasks ("0"), as process-exporter's procfs library."""
    w = data.decode("ascii", "replace").strip()
    return "" if w == "0" else w
