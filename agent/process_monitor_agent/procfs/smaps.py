"""Parser for /proc/<pid>/smaps_rollup (tracker.py, rate-limited by -gather-smaps.interval)."""

from __future__ import annotations


def parse_smaps_rollup(data: bytes) -> tuple[int, int]:
    """Return (Pss bytes, SwapPss bytes); kernel threads have an empty file and read as (0, 0)."""
    pss = swappss = 0
    i = data.find(b"\nPss:")
    if i >= 0:
        pss = int(data[i + 5 : data.find(b"\n", i + 5)].split()[0]) * 1024
    i = data.find(b"\nSwapPss:")
    if i >= 0:
        end = data.find(b"\n", i + 9)
        swappss = int(data[i + 9 : end if end >= 0 else len(data)].split()[0]) * 1024
    return pss, swappss
