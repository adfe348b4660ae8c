"""Parser for /proc/<pid>/status (tracker.py: effective UID for .Username, VmSwap, context switches)."""

from __future__ import annotations

from typing import NamedTuple


class Status(NamedTuple):
    euid: int  # -1 when absent
    vmswap_bytes: int
    voluntary_ctxt_switches: int
    nonvoluntary_ctxt_switches: int


def parse_status(data: bytes) -> Status:
    """Pick the four values the agent needs. A missing VmSwap reads as 0 (kernel threads have none); missing
    context switch lines (every task has them: the file was cut short) read as -1, so that the tracker keeps its
    baseline instead of taking 0 and adding the whole count again at the next complete read."""
    euid = -1
    swap = 0
    vcs = nvcs = -1
    i = data.find(b"\nUid:")
    if i >= 0:
        line = data[i + 5 : data.find(b"\n", i + 5)].split()
        if len(line) > 1:
            euid = int(line[1])
    i = data.find(b"\nVmSwap:")
    if i >= 0:
        swap = int(data[i + 8 : data.find(b"\n", i + 8)].split()[0]) * 1024
    i = data.find(b"\nvoluntary_ctxt_switches:")
    if i >= 0:
        vcs = int(data[i + 25 : data.find(b"\n", i + 25)])
    i = data.find(b"\nnonvoluntary_ctxt_switches:")
    if i >= 0:
        end = data.find(b"\n", i + 28)
        nvcs = int(data[i + 28 : end if end >= 0 else len(data)])
    return Status(euid, swap, vcs, nvcs)
