"""Pure parsers for the /proc/<pid>/* files the agent reads, plus the two tiny read helpers they share.

One module per file kind (stat, status, io, limits, fd, smaps, cgroup, cmdline, task, schedstat, wchan, system).
Parsers take the raw bytes of a file and return plain values, so tests feed them fixture bytes and the tracker
(tracker.py, the only hot caller) feeds them what `read_file` returned. Every path is built from one procfs root
(`-procfs`), so a fake tree under tests/fixtures/ and the host's /host/proc work the same way.
"""

from __future__ import annotations

import os

_O_RDONLY = os.O_RDONLY | os.O_CLOEXEC


def read_file(path: str, size: int = 4096) -> bytes:
    """Read a small procfs file with one open/read/close (no Python file object: this is the hot path).

    procfs seq files return their whole content in one read when it fits in `size`; callers pass a size that
    fits the file kind. Raises OSError (FileNotFoundError/ProcessLookupError when the process is gone).
    """
    fd = os.open(path, _O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def read_file_all(path: str, chunk: int = 8192) -> bytes:
    """Read a procfs file of unbounded size (cmdline can be up to ARG_MAX) until EOF."""
    fd = os.open(path, _O_RDONLY)
    try:
        parts = []
        while True:
            b = os.read(fd, chunk)
            if not b:
                break
            parts.append(b)
        return b"".join(parts)
    finally:
        os.close(fd)
