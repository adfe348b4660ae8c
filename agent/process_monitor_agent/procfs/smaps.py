"""Parser for /proc/<pid>/smaps_rollup (track/refresh.py, rate-limited by -gather-smaps.interval)."""

from __future__ import annotations

from . import line_after

PSS = b"\nPss:"  # "<n> kB"
SWAP_PSS = b"\nSwapPss:"


def parse_smaps_rollup(data: bytes) -> tuple[int, int]:
    """Return (Pss bytes, SwapPss bytes); kernel threads have an empty file and read as (0, 0)."""
    pss = line_after(data, PSS)
    swappss = line_after(data, SWAP_PSS)
    return ((int(pss.split()[0]) * 1024 if pss is not None else 0),
            (int(swappss.split()[0]) * 1024 if swappss is not None else 0))
