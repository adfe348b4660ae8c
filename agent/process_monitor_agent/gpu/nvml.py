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
from .nvml_codes import (
    FUNCTION_NOT_FOUND,
    INSUFFICIENT_SIZE,
    NOT_FOUND,
    NOT_SUPPORTED,
    REINIT,
    Failure,
    decode,
    reason_of,
    text,
)
from .nvml_records import Handle, apply_utilisation, newest_utilisation, process_uses


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
        self._handles: list[Handle] = []
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
        """Load the library and initialise NVML. Raises Failure."""
        try:
            nv = self._binding()
        except ImportError as e:
            raise Failure("binding_missing", "", f"nvidia-ml-py is not installed ({e}); install the agent's "
                          "`gpu` extra") from None
        if self.library and self._preloaded is None:
            # A library loaded by path whose SONAME is libnvidia-ml.so.1 is what the binding's own
            # CDLL("libnvidia-ml.so.1") then finds: the dynamic loader matches loaded objects by SONAME.
            try:
                self._preloaded = ctypes.CDLL(self.library)
            except OSError as e:
                raise Failure("library_not_found", "", f"cannot load -gpu.library {self.library}: {e}") from None
        try:
            nv.nvmlInit()
        except nv.NVMLError as e:
            raise Failure(reason_of(e.value), "", f"NVML initialisation failed: {text(e)}") from None
        except Exception as e:  # the binding is third-party code: never let it take the agent down
            raise Failure("nvml_error", "", f"NVML initialisation failed: {type(e).__name__}: {e}") from None
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
            except Failure as f:
                self._init_error = f.entry
                return Sample(errors=[f.entry], ok=False)
            self._init_error = None
        sample = Sample()
        if now >= self._next_scan:
            self._next_scan = now + self.rescan_interval
            try:
                self._scan(sample)
            except Failure as f:
                sample.errors.append(f.entry)
                sample.ok = False
                return sample
        sample.devices = list(self._devices)
        for h in self._handles:
            try:
                self._read_device(h, sample)
            except Failure as f:
                sample.errors.append(f.entry)
            except Exception as e:  # a binding bug must not fail the scrape
                sample.errors.append(("nvml_error", h.device.name, f"{type(e).__name__}: {e}"))
        return sample

    def _call(self, device: str, what: str, fn: Any, *args: Any) -> Any:
        """One NVML call; NVMLError becomes Failure (and schedules re-initialisation where handles went bad)."""
        nv = self._nv
        try:
            return fn(*args)
        except nv.NVMLError as e:
            if e.value in REINIT:
                self._reinit = True
            where = f"GPU {device}: " if device else ""
            raise Failure(reason_of(e.value), device, f"{where}{what}: {text(e)}", e.value) from None

    def _note(self, key: str, message: str) -> None:
        """Log a fact about the hardware once per agent life (not an error: e.g. MIG without utilisation)."""
        if key not in self._notes:
            self._notes.add(key)
            log.info("%s", message)

    # -- discovery -------------------------------------------------------------------------------------------
    def _scan(self, sample: Sample) -> None:
        nv = self._nv
        count = self._call("", "nvmlDeviceGetCount", nv.nvmlDeviceGetCount)
        handles: list[Handle] = []
        devices: list[Device] = []
        for i in range(count):
            try:
                h = self._call(str(i), "nvmlDeviceGetHandleByIndex", nv.nvmlDeviceGetHandleByIndex, i)
                uuid = decode(self._call(str(i), "nvmlDeviceGetUUID", nv.nvmlDeviceGetUUID, h))
                try:
                    model = decode(nv.nvmlDeviceGetName(h))
                except nv.NVMLError:
                    model = ""
            except Failure as f:
                sample.errors.append(f.entry)
                continue
            gpu = Device(str(i), uuid, "", model)
            if self._mig_enabled(h):
                migs = self._mig_handles(i, h, uuid, model)
                if migs is not None:
                    handles.extend(migs)
                    devices.extend(m.device for m in migs)
                    continue
                handles.append(Handle(gpu, h, util=False, split_by_instance=True))
                devices.append(gpu)
                continue
            handles.append(Handle(gpu, h, util=True))
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

    def _mig_handles(self, index: int, h: Any, uuid: str, model: str) -> list[Handle] | None:
        """One handle per MIG device, or None where the driver refuses them (then the whole GPU is read)."""
        nv = self._nv
        out: list[Handle] = []
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
                out.append(Handle(Device(str(index), uuid, str(gi), model), mh, util=False))
        except nv.NVMLError as e:
            self._note(f"mig-{index}", f"GPU {index} is in MIG mode but its per-instance handles are unavailable "
                       f"({text(e)}): reading the whole GPU and splitting processes by GPU instance")
            return None
        self._note(f"mig-util-{index}", f"GPU {index} is in MIG mode: NVML reports no per-process utilisation on "
                   "MIG devices, only memory and process counts")
        return out

    # -- per device ------------------------------------------------------------------------------------------
    def _running(self, h: Handle) -> list[Any]:
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
            except Failure as f:
                if f.code not in (NOT_SUPPORTED, FUNCTION_NOT_FOUND):
                    raise
            except nv.NVMLLibraryMismatchError:
                self._graphics = False  # a driver without the _v3 call: compute processes only
        return procs

    def _read_device(self, h: Handle, sample: Sample) -> None:
        uses = process_uses(h, self._running(h))
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

    def _utilisation(self, h: Handle, uses: dict[int, ProcUse]) -> None:
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
                raise Failure(reason_of(e.value), h.device.name,
                              f"GPU {h.device.name}: nvmlDeviceGetProcessUtilization: {text(e)}", e.value) from None
            samples = []  # NOT_FOUND: nothing ran since the last read (0/INSUFFICIENT_SIZE: a race, same answer)
        newest, top = newest_utilisation(samples, last)
        self._last_ts[h.device] = int(top)
        apply_utilisation(uses, newest)
