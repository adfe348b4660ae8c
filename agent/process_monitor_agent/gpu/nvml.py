"""The only code that calls NVML (through NVIDIA's `nvidia-ml-py` binding, import name `pynvml`).

`NvmlReader.read()` is called once per collection, in gpu/deadline.py's worker thread (never two at once). It
initialises NVML lazily on its first call, discovers the devices (and MIG instances) and rediscovers them every
`rescan_interval`, and per device reads the processes holding a context (compute and graphics lists, merged by
PID) and their utilisation since the previous read (`nvmlDeviceGetProcessUtilization` with the device's last seen
sample timestamp; NOT_FOUND means no process was active since, which is the normal answer of an idle GPU).

Nothing raises out of `read()`: a missing binding or library, a driver that is not loaded, a permission error, a
GPU that fell off the bus or needs a reset all become `(reason, device, message)` entries of the Sample, the other
devices are still read, and errors that invalidate handles (lost GPU, reset, driver reload) make the next read
shut NVML down and initialise it again, at most every `retry_interval` seconds.

MIG: a GPU in MIG mode is read through its MIG device handles, one Device per GPU instance (labelled `GPU_I_ID`).
Where the driver refuses per-instance handles (no permission, vGPU host mode) the whole GPU's handle is read and
processes are split by the GPU instance id NVML reports for them. NVML gives no per-process utilisation on MIG
devices (NOT_SUPPORTED): memory and process counts only there.
"""

from __future__ import annotations

import contextlib
import ctypes
import time
from typing import Any

from ..log import log
from .model import Device, ProcUse, Sample

# NVML return codes (nvml.h) the reader treats specially.
UNINITIALIZED = 1
INVALID_ARGUMENT = 2
NOT_SUPPORTED = 3
NO_PERMISSION = 4
NOT_FOUND = 6
INSUFFICIENT_SIZE = 7
DRIVER_NOT_LOADED = 9
TIMEOUT = 10
LIBRARY_NOT_FOUND = 12
FUNCTION_NOT_FOUND = 13
GPU_IS_LOST = 15
RESET_REQUIRED = 16
LIB_RM_VERSION_MISMATCH = 18
UNKNOWN = 999
NO_INSTANCE = 0xFFFFFFFF  # gpuInstanceId of a process on a GPU that is not in MIG mode

# reason label of process_monitor_agent_gpu_scrape_errors_total: a closed set, so the series count is bounded.
REASONS = {
    LIBRARY_NOT_FOUND: "library_not_found",
    DRIVER_NOT_LOADED: "driver_not_loaded",
    NO_PERMISSION: "no_permission",
    GPU_IS_LOST: "gpu_lost",
    RESET_REQUIRED: "reset_required",
    TIMEOUT: "timeout",
    LIB_RM_VERSION_MISMATCH: "driver_mismatch",
    UNINITIALIZED: "uninitialized",
}
# Errors after which device handles cannot be trusted: shut NVML down and initialise it again.
REINIT = frozenset({UNINITIALIZED, INVALID_ARGUMENT, GPU_IS_LOST, RESET_REQUIRED, LIB_RM_VERSION_MISMATCH, UNKNOWN})


def reason_of(code: int) -> str:
    return REASONS.get(code, "nvml_error")


class _Handle:
    """A device handle to read, and how: `split_by_instance` for a MIG GPU read through its whole-GPU handle."""

    __slots__ = ("device", "handle", "instances", "split_by_instance", "util")

    def __init__(self, device: Device, handle: Any, util: bool, split_by_instance: bool = False) -> None:
        self.device = device
        self.handle = handle
        self.util = util  # per-process utilisation is worth asking for
        self.split_by_instance = split_by_instance
        self.instances: dict[int, Device] = {}


class NvmlReader:
    """NVML state across collections: the binding, device handles, last seen utilisation timestamps."""

    def __init__(self, library: str = "", rescan_interval: float = 60.0, retry_interval: float = 30.0) -> None:
        self.library = library
        self.rescan_interval = rescan_interval
        self.retry_interval = retry_interval
        self._nv: Any = None
        self._preloaded: Any = None
        self._inited = False
        self._next_init = 0.0
        self._init_error: tuple[str, str, str] | None = None
        self._next_scan = 0.0
        self._reinit = False
        self._handles: list[_Handle] = []
        self._devices: list[Device] = []
        self._last_ts: dict[Device, int] = {}
        self._graphics = True  # the library has nvmlDeviceGetGraphicsRunningProcesses_v3
        self._notes: set[str] = set()

    # -- life cycle ------------------------------------------------------------------------------------------
    def _binding(self) -> Any:
        if self._nv is None:
            import pynvml  # lazily: only an agent with -gpu.enabled imports the binding

            self._nv = pynvml
        return self._nv

    def _init(self) -> None:
        """Load the library and initialise NVML. Raises _Failure."""
        try:
            nv = self._binding()
        except ImportError as e:
            raise _Failure("binding_missing", "", f"nvidia-ml-py is not installed ({e}); install the agent's "
                           "`gpu` extra") from None
        if self.library and self._preloaded is None:
            # A library loaded by path whose SONAME is libnvidia-ml.so.1 is what the binding's own
            # CDLL("libnvidia-ml.so.1") then finds: the dynamic loader matches loaded objects by SONAME.
            try:
                self._preloaded = ctypes.CDLL(self.library)
            except OSError as e:
                raise _Failure("library_not_found", "", f"cannot load -gpu.library {self.library}: {e}") from None
        try:
            nv.nvmlInit()
        except nv.NVMLError as e:
            raise _Failure(reason_of(e.value), "", f"NVML initialisation failed: {_text(e)}") from None
        except Exception as e:  # the binding is third-party code: never let it take the agent down
            raise _Failure("nvml_error", "", f"NVML initialisation failed: {type(e).__name__}: {e}") from None
        self._inited = True
        self._next_scan = 0.0

    def _shutdown(self) -> None:
        if self._inited:
            # Nothing to do about a failed shutdown but initialise again.
            with contextlib.suppress(Exception):
                self._nv.nvmlShutdown()
        self._inited = False
        self._handles = []

    def close(self) -> None:
        self._shutdown()

    # -- one read --------------------------------------------------------------------------------------------
    def read(self) -> Sample:
        now = time.monotonic()
        if self._reinit and self._inited and now >= self._next_init:
            self._shutdown()  # the request stays pending until the retry interval allows it
            self._reinit = False
        if not self._inited:
            if now < self._next_init and self._init_error is not None:
                return Sample(errors=[self._init_error], ok=False)
            self._next_init = now + self.retry_interval
            try:
                self._init()
            except _Failure as f:
                self._init_error = f.entry
                return Sample(errors=[f.entry], ok=False)
            self._init_error = None
        sample = Sample()
        if now >= self._next_scan:
            self._next_scan = now + self.rescan_interval
            try:
                self._scan(sample)
            except _Failure as f:
                sample.errors.append(f.entry)
                sample.ok = False
                return sample
        sample.devices = list(self._devices)
        for h in self._handles:
            try:
                self._read_device(h, sample)
            except _Failure as f:
                sample.errors.append(f.entry)
            except Exception as e:  # a binding bug must not fail the scrape
                sample.errors.append(("nvml_error", h.device.name, f"{type(e).__name__}: {e}"))
        return sample

    def _call(self, device: str, what: str, fn: Any, *args: Any) -> Any:
        """One NVML call; NVMLError becomes _Failure (and schedules re-initialisation where handles went bad)."""
        nv = self._nv
        try:
            return fn(*args)
        except nv.NVMLError as e:
            if e.value in REINIT:
                self._reinit = True
            where = f"GPU {device}: " if device else ""
            raise _Failure(reason_of(e.value), device, f"{where}{what}: {_text(e)}", e.value) from None

    def _note(self, key: str, message: str) -> None:
        """Log a fact about the hardware once per agent life (not an error: e.g. MIG without utilisation)."""
        if key not in self._notes:
            self._notes.add(key)
            log.info("%s", message)

    # -- discovery -------------------------------------------------------------------------------------------
    def _scan(self, sample: Sample) -> None:
        nv = self._nv
        count = self._call("", "nvmlDeviceGetCount", nv.nvmlDeviceGetCount)
        handles: list[_Handle] = []
        devices: list[Device] = []
        for i in range(count):
            try:
                h = self._call(str(i), "nvmlDeviceGetHandleByIndex", nv.nvmlDeviceGetHandleByIndex, i)
                uuid = _str(self._call(str(i), "nvmlDeviceGetUUID", nv.nvmlDeviceGetUUID, h))
                try:
                    model = _str(nv.nvmlDeviceGetName(h))
                except nv.NVMLError:
                    model = ""
            except _Failure as f:
                sample.errors.append(f.entry)
                continue
            gpu = Device(str(i), uuid, "", model)
            if self._mig_enabled(h):
                migs = self._mig_handles(i, h, uuid, model)
                if migs is not None:
                    handles.extend(migs)
                    devices.extend(m.device for m in migs)
                    continue
                handles.append(_Handle(gpu, h, util=False, split_by_instance=True))
                devices.append(gpu)
                continue
            handles.append(_Handle(gpu, h, util=True))
            devices.append(gpu)
        self._handles = handles
        self._devices = devices
        self._last_ts = {d: ts for d, ts in self._last_ts.items() if d in devices}

    def _mig_enabled(self, h: Any) -> bool:
        nv = self._nv
        try:
            current, _pending = nv.nvmlDeviceGetMigMode(h)
        except nv.NVMLError:
            return False  # NOT_SUPPORTED: a GPU without MIG
        return bool(current == getattr(nv, "NVML_DEVICE_MIG_ENABLE", 1))

    def _mig_handles(self, index: int, h: Any, uuid: str, model: str) -> list[_Handle] | None:
        """One handle per MIG device, or None where the driver refuses them (then the whole GPU is read)."""
        nv = self._nv
        out: list[_Handle] = []
        try:
            slots = nv.nvmlDeviceGetMaxMigDeviceCount(h)
            for slot in range(slots):
                try:
                    mh = nv.nvmlDeviceGetMigDeviceHandleByIndex(h, slot)
                except nv.NVMLError as e:
                    if e.value == NOT_FOUND:
                        continue  # empty slot
                    raise
                gi = nv.nvmlDeviceGetGpuInstanceId(mh)
                out.append(_Handle(Device(str(index), uuid, str(gi), model), mh, util=False))
        except nv.NVMLError as e:
            self._note(f"mig-{index}", f"GPU {index} is in MIG mode but its per-instance handles are unavailable "
                       f"({_text(e)}): reading the whole GPU and splitting processes by GPU instance")
            return None
        self._note(f"mig-util-{index}", f"GPU {index} is in MIG mode: NVML reports no per-process utilisation on "
                   "MIG devices, only memory and process counts")
        return out

    # -- per device ------------------------------------------------------------------------------------------
    def _running(self, h: _Handle) -> list[Any]:
        nv = self._nv
        name = h.device.name
        try:
            procs = list(self._call(name, "nvmlDeviceGetComputeRunningProcesses",
                                    nv.nvmlDeviceGetComputeRunningProcesses, h.handle))
        except nv.NVMLLibraryMismatchError:
            # A driver older than the binding (no _v3 symbol): its _v2 call has the same structure.
            procs = list(self._call(name, "nvmlDeviceGetComputeRunningProcesses_v2",
                                    nv.nvmlDeviceGetComputeRunningProcesses_v2, h.handle))
        if self._graphics:
            try:
                procs += self._call(name, "nvmlDeviceGetGraphicsRunningProcesses",
                                    nv.nvmlDeviceGetGraphicsRunningProcesses, h.handle)
            except _Failure as f:
                if f.code not in (NOT_SUPPORTED, FUNCTION_NOT_FOUND):
                    raise
            except nv.NVMLLibraryMismatchError:
                self._graphics = False  # a driver without the _v3 call: compute processes only
        return procs

    def _read_device(self, h: _Handle, sample: Sample) -> None:
        uses: dict[int, ProcUse] = {}
        for p in self._running(h):
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
        if h.util and uses:
            self._utilisation(h, uses)
        for pid, u in uses.items():
            lst = sample.procs.get(pid)
            if lst is None:
                sample.procs[pid] = [u]
            else:
                lst.append(u)
        for d in h.instances.values():
            if d not in sample.devices:
                sample.devices.append(d)

    def _utilisation(self, h: _Handle, uses: dict[int, ProcUse]) -> None:
        nv = self._nv
        last = self._last_ts.get(h.device, 0)
        try:
            samples = nv.nvmlDeviceGetProcessUtilization(h.handle, last)
        except nv.NVMLError as e:
            if e.value == NOT_SUPPORTED:
                h.util = False
                self._note(f"util-{h.device.uuid}", f"GPU {h.device.name}: no per-process utilisation "
                           "(NOT_SUPPORTED); memory and process counts only")
                return
            if e.value not in (NOT_FOUND, 0, INSUFFICIENT_SIZE):
                if e.value in REINIT:
                    self._reinit = True
                raise _Failure(reason_of(e.value), h.device.name,
                               f"GPU {h.device.name}: nvmlDeviceGetProcessUtilization: {_text(e)}", e.value) from None
            samples = []  # NOT_FOUND: nothing ran since the last read (0/INSUFFICIENT_SIZE: a race, same answer)
        newest: dict[int, tuple[int, int, int, int, int]] = {}
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
        self._last_ts[h.device] = int(top)
        for pid, u in uses.items():
            v = newest.get(pid)
            if v is None:
                u.sm = u.mem = u.enc = u.dec = 0.0  # holds a context but did not run since the last read
            else:
                u.sm, u.mem, u.enc, u.dec = v[1] / 100, v[2] / 100, v[3] / 100, v[4] / 100


class _Failure(Exception):
    def __init__(self, reason: str, device: str, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.entry = (reason, device, message)
        self.code = code


def _text(e: Exception) -> str:
    try:
        return str(e)
    except Exception:  # NVMLError.__str__ calls into the library, which may be the broken part
        return f"NVML error {getattr(e, 'value', '?')}"


def _str(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
