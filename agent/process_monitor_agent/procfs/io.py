"""Parser for /proc/<pid>/io and task io (track/: read_bytes/write_bytes, storage-layer bytes)."""

from __future__ import annotations

from . import line_after

READ_BYTES = b"\nread_bytes:"
WRITE_BYTES = b"\nwrite_bytes:"


def parse_io(data: bytes) -> tuple[int, int]:
    """Return (read_bytes, write_bytes). Missing lines read as 0."""
    rb = line_after(data, READ_BYTES)
    wb = line_after(data, WRITE_BYTES)
    return (int(rb) if rb is not None else 0), (int(wb) if wb is not None else 0)
