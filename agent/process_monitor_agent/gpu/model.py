"""Values the GPU code passes around: one device as dcgm-exporter labels it, one process's use of one device, one
group's use of one device. Built by gpu/nvml.py (devices, process use) and gpu/monitor.py (group use); read by
gpu/families.py and the tracker (the `gpu:` matcher and `.GPUs` field).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Device:
    """A GPU, or one MIG GPU instance of it. Labels follow dcgm-exporter so series join with DCGM_FI_* metrics:
    `gpu` is the physical GPU's index and `UUID` its UUID (for a MIG instance too); a MIG instance adds
    `GPU_I_ID`, the GPU instance id."""

    gpu: str
    uuid: str
    instance: str = ""
    model: str = ""

    @property
    def label_values(self) -> tuple[str, str, str | None]:
        """Values of gpu/families.py's DEVICE_LABELS (gpu, UUID, GPU_I_ID); None: no GPU_I_ID (not MIG)."""
        return (self.gpu, self.uuid, self.instance or None)

    @property
    def name(self) -> str:
        """`0` for GPU 0, `0:3` for its GPU instance 3 (NVIDIA_VISIBLE_DEVICES' MIG notation): the `.GPUs` field."""
        return f"{self.gpu}:{self.instance}" if self.instance else self.gpu

    @property
    def sort_key(self) -> tuple[int, int, str]:
        def num(s: str) -> int:
            return int(s) if s.isdigit() else 1 << 30

        return (num(self.gpu), num(self.instance) if self.instance else -1, self.uuid)


class ProcUse:
    """One process's use of one device in one collection. Utilisation is a ratio (NVML percent / 100) or None
    where the device reports no per-process utilisation (MIG instances, old GPUs)."""

    __slots__ = ("dec", "device", "enc", "mem", "memory", "pid", "sm")

    def __init__(self, pid: int, device: Device, memory: int) -> None:
        self.pid = pid
        self.device = device
        self.memory = memory  # bytes; -1 when NVML cannot say (NVML_VALUE_NOT_AVAILABLE)
        self.sm: float | None = None
        self.mem: float | None = None
        self.enc: float | None = None
        self.dec: float | None = None


class GroupUse:
    """One group's use of one device: sums over the group's processes on it."""

    __slots__ = ("dec", "device", "enc", "mem", "memory", "procs", "sm", "util")

    def __init__(self, device: Device) -> None:
        self.device = device
        self.procs = 0
        self.memory = 0
        self.util = False  # some member reported utilisation
        self.sm = self.mem = self.enc = self.dec = 0.0

    def add(self, u: ProcUse) -> None:
        self.procs += 1
        if u.memory > 0:
            self.memory += u.memory
        if u.sm is not None:
            self.util = True
            self.sm += u.sm
            self.mem += u.mem or 0.0
            self.enc += u.enc or 0.0
            self.dec += u.dec or 0.0


@dataclass(slots=True)
class Sample:
    """The result of one NVML read: the devices seen, every process's use by PID, and the errors met
    (reason, device name or "", message)."""

    devices: list[Device] = field(default_factory=list)
    procs: dict[int, list[ProcUse]] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    ok: bool = True  # NVML answered (False: not initialised, timed out, or failed before reading any device)
