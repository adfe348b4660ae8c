"""Per-group GPU families, as rows of exposition.group_families' table (added only with -gpu.enabled).

Each row's function yields, for one GroupSnapshot, one sample per GPU the group uses, labelled as dcgm-exporter
labels the device (`gpu`, `UUID`, and `GPU_I_ID` for a MIG instance) so that `* on (gpu, UUID) group_left`
joins with DCGM_FI_* series. A group with no process on any GPU has no GPU series. Utilisation is a gauge of
ratios (NVML's per-process percent / 100, summed over the group's processes on that GPU); README.md ("GPU
processes") says why it is not a counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

P = "namedprocess_namegroup_"
Sample = tuple[str, float | int]


def _uses(g: Any) -> list[Any]:
    gpus = g.gpus
    if not gpus:
        return []
    return [gpus[d] for d in sorted(gpus, key=lambda d: d.sort_key)]


def _memory(g: Any, hz: float) -> Iterator[Sample]:
    for u in _uses(g):
        yield u.device.labels, u.memory


def _procs(g: Any, hz: float) -> Iterator[Sample]:
    for u in _uses(g):
        yield u.device.labels, u.procs


def _utilisation(g: Any, hz: float) -> Iterator[Sample]:
    for u in _uses(g):
        if not u.util:
            continue  # MIG instances and GPUs without per-process utilisation
        labels = u.device.labels
        yield labels + ',engine="decoder"', u.dec
        yield labels + ',engine="encoder"', u.enc
        yield labels + ',engine="memory"', u.mem
        yield labels + ',engine="sm"', u.sm


GPU_FAMILIES = [
    (P + "gpu_memory_bytes",
     "GPU memory used by this group's processes on each GPU (NVML used GPU memory)", "gauge", _memory),
    (P + "gpu_num_procs", "number of processes in this group holding a context on each GPU", "gauge", _procs),
    (P + "gpu_utilization_ratio",
     "GPU engine busy ratio of this group's processes on each GPU since the previous collection (NVML "
     "per-process utilisation: sm, memory, encoder, decoder)", "gauge", _utilisation),
]
