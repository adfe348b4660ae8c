"""Parser for /proc/<pid>/status (track/: effective UID for .Username, VmSwap, context switches).

The keys the agent reads are named here once; everything else in the file is skipped.
"""

from __future__ import annotations

from typing import NamedTuple

from . import line_after

UID = b"\nUid:"  # real, effective, saved, filesystem
VM_SWAP = b"\nVmSwap:"  # "<n> kB"
VOLUNTARY = b"\nvoluntary_ctxt_switches:"
NONVOLUNTARY = b"\nnonvoluntary_ctxt_switches:"


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
    line = line_after(data, UID)
    if line is not None:
        ids = line.split()
        if len(ids) > 1:
            euid = int(ids[1])
    line = line_after(data, VM_SWAP)
    swap = int(line.split()[0]) * 1024 if line is not None else 0
    line = line_after(data, VOLUNTARY)
    vcs = int(line) if line is not None else -1
    line = line_after(data, NONVOLUNTARY)
    nvcs = int(line) if line is not None else -1
    return Status(euid, swap, vcs, nvcs)
