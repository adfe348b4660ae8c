"""Parser for /proc/<pid>/cmdline (track/identity.py, once per (pid, starttime) or on recheck)."""

from __future__ import annotations


def parse_cmdline(data: bytes) -> list[str]:
    """argv as a list; empty for kernel threads and zombies. A trailing NUL is dropped, as Go's procfs does."""
    if not data:
        return []
    if data.endswith(b"\x00"):
        data = data[:-1]
    return data.decode("utf-8", "replace").split("\x00")
