"""NVML's per-device records made into the agent's: a device handle to read (Handle), the running-process lists
merged by PID into ProcUse (process_uses), and the newest utilisation sample per process applied to them.

Pure functions over what the binding returned; called by gpu/nvml.py's NvmlReader, the only caller of NVML itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .model import Device, ProcUse
from .nvml_codes import NO_INSTANCE

Utilisation = tuple[int, int, int, int, int]  # timestamp, sm, mem, enc, dec (percent)


class Handle:
    """A device handle to read, and how: `split_by_instance` for a MIG GPU read through its whole-GPU handle."""

    __slots__ = ("device", "handle", "instances", "split_by_instance", "util")

    def __init__(self, device: Device, handle: Any, util: bool, split_by_instance: bool = False) -> None:
        self.device = device
        self.handle = handle
        self.util = util  # per-process utilisation is worth asking for
        self.split_by_instance = split_by_instance
        self.instances: dict[int, Device] = {}


def process_uses(h: Handle, procs: Iterable[Any]) -> dict[int, ProcUse]:
    """The compute and graphics process records of one handle, one ProcUse per PID (its device: the MIG instance
    where the handle is split by instance)."""
    uses: dict[int, ProcUse] = {}
    for p in procs:
        pid = int(p.pid)
        if pid <= 0:
            continue
        mem = p.usedGpuMemory
        memory = int(mem) if mem is not None else -1
        device = h.device
        if h.split_by_instance:
            gi = getattr(p, "gpuInstanceId", NO_INSTANCE)
            if gi is not None and gi != NO_INSTANCE:
                device = h.instances.get(gi) or h.instances.setdefault(
                    gi, Device(h.device.gpu, h.device.uuid, str(gi), h.device.model))
        u = uses.get(pid)
        if u is None:
            uses[pid] = ProcUse(pid, device, memory)
        elif memory > u.memory:
            # A process in both the compute and graphics lists: NVML reports its one allocation in each.
            u.memory = memory
    return uses


def newest_utilisation(samples: Iterable[Any], last: int) -> tuple[dict[int, Utilisation], int]:
    """The newest valid utilisation sample per PID, and the newest timestamp seen (at least `last`)."""
    newest: dict[int, Utilisation] = {}
    top = last
    for s in samples:
        # Each field once: the binding's structures answer attribute reads through a slow __getattribute__.
        pid, ts, sm, mem, enc, dec = s.pid, s.timeStamp, s.smUtil, s.memUtil, s.encUtil, s.decUtil
        # Drivers have been seen returning padding entries (pid 0) and out-of-range values: skip them.
        if pid <= 0 or sm > 100 or mem > 100 or enc > 100 or dec > 100:
            continue
        if ts > top:
            top = ts
        prev = newest.get(pid)
        if prev is None or ts >= prev[0]:
            newest[pid] = (ts, sm, mem, enc, dec)
    return newest, top


def apply_utilisation(uses: dict[int, ProcUse], newest: dict[int, Utilisation]) -> None:
    """Set each process's utilisation fractions; 0 for one that holds a context but did not run since the last
    read."""
    for pid, u in uses.items():
        v = newest.get(pid)
        if v is None:
            u.sm = u.mem = u.enc = u.dec = 0.0
        else:
            u.sm, u.mem, u.enc, u.dec = v[1] / 100, v[2] / 100, v[3] / 100, v[4] / 100
