"""Parser for /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat: the one place that knows the line's layout.

Called by track/ on every PID of every collection (the agent's hot path: the walk, threads, the children pass, the
GPU re-match). Field numbers follow proc(5); the comm field may contain spaces and
parentheses, so the split starts after the LAST ')'. The hot path builds no record per PID: `parse_stat` (a Stat of
11 fields) costs ~5.5 us a line, `split_stat` plus one int() ~1.5 us (CPython 3, this machine), and an ignored
process needs only its start time (an idle tracked one is not split at all). So the walk splits once and indexes the
fields with the offsets below, named here and nowhere else.
"""

from __future__ import annotations

from typing import NamedTuple

from . import read_file

# A stat line is ~300 bytes (comm is at most 64); one read of this size is the whole file.
STAT_SIZE = 1024

# Offsets into split_stat()'s fields, which start at proc(5)'s field 3: field n is at n - 3.
STATE = 0  # (3) state: R, S, D, Z, ...
PPID = 1  # (4)
MINFLT = 7  # (10) minor faults
MAJFLT = 9  # (12) major faults
UTIME = 11  # (14) clock ticks
STIME = 12  # (15) clock ticks
NUM_THREADS = 17  # (20)
STARTTIME = 19  # (22) clock ticks after boot: with the PID, a process's identity
VSIZE = 20  # (23) bytes
RSS = 21  # (24) pages
# Fields 3..24 (state .. rss) are all the agent uses: split off no more than these, not the other 28.
_SPLITS = RSS + 1


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


def read_stat(path: str) -> bytes:
    """The stat file at `path`: read_file with one read of STAT_SIZE (the walk does this for every PID; a fake
    tree's comm can be any length, and a longer file is read on to EOF). Raises OSError
    (FileNotFoundError/ProcessLookupError when the process is gone), FileTooLarge past MAX_FILE."""
    return read_file(path, STAT_SIZE)


def split_stat(data: bytes) -> tuple[int, list[bytes]]:
    """Hot-path split: (offset of the last ')', fields from field 3 on, up to rss). Index the fields with the
    offsets above; a short or malformed line raises IndexError/ValueError there."""
    rp = data.rfind(b")")
    return rp, data[rp + 2 :].split(None, _SPLITS)


def comm_of(data: bytes, rp: int) -> str:
    """The comm between the first '(' and the last ')' (rp, from split_stat)."""
    return data[data.find(b"(") + 1 : rp].decode("utf-8", "replace")


def parse_stat(data: bytes) -> Stat:
    """Parse the whole stat line into a Stat (off the hot path). Raises ValueError on a malformed line."""
    lp = data.find(b"(")
    rp = data.rfind(b")")
    if lp < 0 or rp < lp:
        raise ValueError("malformed stat: no (comm)")
    f = data[rp + 2 :].split()
    return Stat(
        data[lp + 1 : rp].decode("utf-8", "replace"),
        f[STATE].decode(),
        int(f[PPID]),
        int(f[MINFLT]),
        int(f[MAJFLT]),
        int(f[UTIME]),
        int(f[STIME]),
        int(f[NUM_THREADS]),
        int(f[STARTTIME]),
        int(f[VSIZE]),
        int(f[RSS]),
    )
