"""Parser for /proc/<pid>/limits (track/refresh.py: soft "Max open files" for worst_fd_ratio)."""

from __future__ import annotations


def parse_max_open_files(data: bytes) -> int:
    """Soft limit of open files; 0 when unlimited or absent (the ratio is then not computed)."""
    i = data.find(b"Max open files")
    if i < 0:
        return 0
    soft = data[i + 14 : data.find(b"\n", i)].split()[0]
    return 0 if soft == b"unlimited" else int(soft)
