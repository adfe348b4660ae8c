"""Pure parsers for the /proc/<pid>/* files the agent reads, plus the small read helpers they share.

This package is the only agent code that opens files under /proc (track/ and kube/attribution.py read through it;
the agent's own /proc/self is read by prometheus_client's ProcessCollector, export/process.py). One module per
file kind (stat, status, io, limits, fd, smaps, cgroup, cmdline, task, schedstat, wchan, system). Parsers take
the raw bytes of a file and return plain values, so tests feed them fixture bytes and track/ feeds them what
`read_file` returned; the two files read for every PID (stat, schedstat) also have a one-read reader of their
own in their module. Every path is built from one procfs root
(`-procfs`), so a fake tree under tests/fixtures/ and the host's /host/proc work the same way.
"""

from __future__ import annotations

import os

_O_RDONLY = os.O_RDONLY | os.O_CLOEXEC


# Upper bound of any one procfs file the agent reads whole (status with 65,536 supplementary groups is ~720 KB;
# /proc/stat on a large machine some hundred KB): a file that keeps growing past it is an error, not a memory sink.
MAX_FILE = 8 << 20


class FileTooLarge(ValueError):
    """A procfs file longer than the caller's limit (counted as a read error of that process, never raised out)."""


def read_file(path: str, size: int = 4096, limit: int = MAX_FILE) -> bytes:
    """Read a whole procfs file: one open/read/close when it fits in `size` (the hot path: no file object).

    The files read through this (stat, status, io, limits, smaps_rollup, schedstat, wchan, /proc/stat) are
    single-record seq files: a read shorter than asked is the end of the file. A read that fills `size` goes on
    until EOF, so a `status` with thousands of supplementary groups is read whole instead of losing its last
    lines (VmSwap, context switches). More than `limit` bytes raises FileTooLarge. Raises OSError
    (FileNotFoundError/ProcessLookupError when the process is gone).
    """
    fd = os.open(path, _O_RDONLY)
    try:
        data = os.read(fd, size)
        if len(data) < size:
            return data
        return _read_rest(fd, data, limit, path, truncate=False)
    finally:
        os.close(fd)


def read_file_all(path: str, chunk: int = 8192, limit: int = MAX_FILE) -> tuple[bytes, bool]:
    """Read a procfs file of unbounded size (cmdline, cgroup) until EOF or `limit` bytes.

    Returns (data, truncated): past `limit` the rest is not read (a process can make its cmdline as long as its
    memory with PR_SET_MM), and the caller counts the truncation."""
    fd = os.open(path, _O_RDONLY)
    try:
        data = os.read(fd, chunk)
        if not data:
            return data, False
        data = _read_rest(fd, data, limit, path, truncate=True)
        if len(data) > limit:
            return data[:limit], True
        return data, False
    finally:
        os.close(fd)


def _read_rest(fd: int, first: bytes, limit: int, path: str, truncate: bool) -> bytes:
    """Continue a read until EOF; more than `limit` bytes: FileTooLarge, or (truncate) `limit` + 1 bytes."""
    parts = [first]
    total = len(first)
    while True:
        b = os.read(fd, max(65536, total))  # doubling: a 700 KB status costs a handful of reads
        if not b:
            break
        parts.append(b)
        total += len(b)
        if total > limit:
            if truncate:
                break
            raise FileTooLarge(f"{path}: longer than {limit} bytes")
    return b"".join(parts)


def line_after(data: bytes, key: bytes) -> bytes | None:
    """The rest of the line after `key` (which starts with a newline, to anchor it to a line start), or None when
    key is absent. A last line without its newline is taken whole. Shared by the `Key: value` parsers."""
    i = data.find(key)
    if i < 0:
        return None
    i += len(key)
    end = data.find(b"\n", i)
    return data[i:end] if end >= 0 else data[i:]
