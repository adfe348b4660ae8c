"""Parser for /proc/<pid>/io and task io (tracker.py: read_bytes/write_bytes, storage-layer bytes)."""

from __future__ import annotations


def parse_io(data: bytes) -> tuple[int, int]:
    """Return (read_bytes, write_bytes). Missing lines read as 0."""
    rb = wb = 0
    i = data.find(b"\nread_bytes:")
    if i >= 0:
        rb = int(data[i + 12 : data.find(b"\n", i + 12)])
    i = data.find(b"\nwrite_bytes:")
    if i >= 0:
        end = data.find(b"\n", i + 13)
        wb = int(data[i + 13 : end if end >= 0 else len(data)])
    return rb, wb
