"""Per-group GPU families, declared as export.families declares the others (selected only with -gpu.enabled).

Each family's samples are, for one group, one series per GPU the group uses, labelled as dcgm-exporter labels
the device (`gpu`, `UUID`, and `GPU_I_ID` for a MIG instance only) so that `* on (gpu, UUID) group_left` joins
with DCGM_FI_* series. A group with no process on any GPU has no GPU series. Utilisation is a gauge of ratios
(NVML's per-process percent / 100, summed over the group's processes on that GPU); README.md ("GPU processes")
says why it is not a counter. Pure data: importing this loads no NVML (export/families.py imports it for BY_NAME).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..export.textformat import Family, Sample

P = "namedprocess_namegroup_"
DEVICE_LABELS = ("gpu", "UUID", "GPU_I_ID")


def _uses(g: Any) -> list[Any]:
    gpus = g.gpus
    if not gpus:
        return []
    return [gpus[d] for d in sorted(gpus, key=lambda d: d.sort_key)]


def _memory(g: Any, o: Any) -> Iterator[Sample]:
    for u in _uses(g):
        yield u.device.label_values, u.memory


def _procs(g: Any, o: Any) -> Iterator[Sample]:
    for u in _uses(g):
        yield u.device.label_values, u.procs


def _utilisation(g: Any, o: Any) -> Iterator[Sample]:
    for u in _uses(g):
        if not u.util:
            continue  # MIG instances and GPUs without per-process utilisation
        d = u.device.label_values
        yield (*d, "decoder"), u.dec
        yield (*d, "encoder"), u.enc
        yield (*d, "memory"), u.mem
        yield (*d, "sm"), u.sm


GPU_MEMORY_BYTES = Family(P + "gpu_memory_bytes",
                          "GPU memory used by this group's processes on each GPU (NVML used GPU memory)", "gauge",
                          DEVICE_LABELS, _memory)
GPU_NUM_PROCS = Family(P + "gpu_num_procs", "number of processes in this group holding a context on each GPU",
                       "gauge", DEVICE_LABELS, _procs)
GPU_UTILIZATION_RATIO = Family(
    P + "gpu_utilization_ratio",
    "GPU engine busy ratio of this group's processes on each GPU since the previous collection (NVML "
    "per-process utilisation: sm, memory, encoder, decoder)", "gauge", (*DEVICE_LABELS, "engine"), _utilisation)

GPU_FAMILIES: tuple[Family, ...] = (GPU_MEMORY_BYTES, GPU_NUM_PROCS, GPU_UTILIZATION_RATIO)
