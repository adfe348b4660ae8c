"""Parser for /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat (called by tracker.py on every tracked process).

Field numbers follow proc(5); the comm field may contain spaces and parentheses, so the split starts after the
LAST ')'.
"""

from __future__ import annotations

from typing import NamedTuple


class Stat(NamedTuple):
    comm: str
    state: str
    ppid: int
    minflt: int
    majflt: int
    utime: int  # clock ticks
    stime: int  # clock ticks
    num_threads: int
    starttime: int  # clock ticks after boot
    vsize: int  # bytes
    rss: int  # pages


def parse_stat(data: bytes) -> Stat:
    """Parse the whole stat line. Raises ValueError on a malformed line."""
    lp = data.find(b"(")
    rp = data.rfind(b")")
    if lp < 0 or rp < lp:
        raise ValueError("malformed stat: no (comm)")
    f = data[rp + 2 :].split()
    # f[0] is field 3 (state): field n is f[n - 3].
    return Stat(
        data[lp + 1 : rp].decode("utf-8", "replace"),
        f[0].decode(),
        int(f[1]),
        int(f[7]),
        int(f[9]),
        int(f[11]),
        int(f[12]),
        int(f[17]),
        int(f[19]),
        int(f[20]),
        int(f[21]),
    )


def stat_fields(data: bytes) -> tuple[bytes, list[bytes]]:
    """Hot-path split: (comm bytes, fields from field 3 on). The tracker indexes fields itself to avoid building
    a Stat for processes it only needs the start time of."""
    rp = data.rfind(b")")
    if rp < 0:
        raise ValueError("malformed stat: no (comm)")
    return data[data.find(b"(") + 1 : rp], data[rp + 2 :].split()
