"""What `spec.gpu` adds to the agent DaemonSet's pod (pure; called by render/daemonset.py only when enabled).

The agent gets --gpu.enabled (and --gpu.timeout), runs only on nodes with `spec.gpu.nodeLabel` (a nodeSelector
when a value is given, else a required node affinity `Exists` added to every term of the user's affinity), gets
the extra tolerations and `runtimeClassName`, and the two variables the NVIDIA container toolkit reads to inject
the driver's utility library (libnvidia-ml.so.1) and device nodes: NVIDIA_VISIBLE_DEVICES=all and
NVIDIA_DRIVER_CAPABILITIES=utility. It never requests `nvidia.com/gpu`: a monitor must not take a GPU from the
workloads it watches (dcgm-exporter runs the same way).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..spec import Source

ENV = [
    {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
    {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "utility"},
]


def enabled(src: Source) -> bool:
    return bool((src.spec.get("gpu") or {}).get("enabled"))


def agent_args(src: Source) -> list[str]:
    if not enabled(src):
        return []
    args = ["--gpu.enabled=true"]
    timeout = src.spec["gpu"].get("timeout")
    if timeout:
        args.append(f"--gpu.timeout={timeout}")
    return args


def apply(src: Source, pod: dict[str, Any], container: dict[str, Any]) -> None:
    """Add the GPU settings to a rendered pod spec and its agent container, in place."""
    if not enabled(src):
        return
    gpu = src.spec["gpu"]
    container["env"] = [*container.get("env", []), *copy.deepcopy(ENV)]
    key, value = gpu.get("nodeLabel") or "", gpu.get("nodeLabelValue") or ""
    if key and value:
        pod["nodeSelector"] = {**pod.get("nodeSelector", {}), key: value}
    elif key:
        affinity = copy.deepcopy(pod.get("affinity") or {})
        required = affinity.setdefault("nodeAffinity", {}).setdefault(
            "requiredDuringSchedulingIgnoredDuringExecution", {})
        terms = required.get("nodeSelectorTerms") or [{}]
        for term in terms:  # terms are ORed: the label must hold in each of them
            term.setdefault("matchExpressions", []).append({"key": key, "operator": "Exists"})
        required["nodeSelectorTerms"] = terms
        pod["affinity"] = affinity
    if gpu.get("tolerations"):
        pod["tolerations"] = [*pod.get("tolerations", []), *copy.deepcopy(gpu["tolerations"])]
    if gpu.get("runtimeClassName"):
        pod["runtimeClassName"] = gpu["runtimeClassName"]
