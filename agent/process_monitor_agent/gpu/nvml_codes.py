"""NVML's return codes as the GPU reader (gpu/nvml.py) uses them: the closed set of `reason` labels, the errors
that invalidate device handles, and the Failure that carries one failed call into a Sample's errors.

Kept apart from nvml.py (which calls the library) so that the vocabulary of NVML failures reads in one place.
"""

from __future__ import annotations

from typing import Any

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


class Failure(Exception):
    """One failed NVML call or initialisation, as the `(reason, device, message)` entry of a Sample."""

    def __init__(self, reason: str, device: str, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.entry = (reason, device, message)
        self.code = code


def text(e: Exception) -> str:
    try:
        return str(e)
    except Exception:  # NVMLError.__str__ calls into the library, which may be the broken part
        return f"NVML error {getattr(e, 'value', '?')}"


def decode(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
