"""Fake NVML for machines without an NVIDIA GPU: a TEST DOUBLE for absent hardware, never shipped in an image.

`build(directory)` compiles fake_nvml.c (beside this file) with gcc into `directory/libnvidia-ml.so.1` (SONAME
libnvidia-ml.so.1, so the real `nvidia-ml-py` binding loads it as the driver's library, through the dynamic
loader's own search or the agent's -gpu.library path). `Scenario` writes the text file the library reads (named by
FAKE_NVML_SCENARIO; the format is in fake_nvml.c's header). Used by tests/agent/test_gpu*.py and bench/gpu_scrape.py.
`build_cuda(directory)` compiles fake_cuda.c (libcuda.so.1) for the dry run of bench/gpu_check.py only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = Path(__file__).with_name("fake_nvml.c")
SONAME = "libnvidia-ml.so.1"
CUDA_SOURCE = Path(__file__).with_name("fake_cuda.c")
CUDA_SONAME = "libcuda.so.1"
ENV = "FAKE_NVML_SCENARIO"

# NVML return codes the scenarios use (nvml.h).
NOT_SUPPORTED = 3
NO_PERMISSION = 4
NOT_FOUND = 6
DRIVER_NOT_LOADED = 9
GPU_IS_LOST = 15
RESET_REQUIRED = 16


class BuildError(RuntimeError):
    """gcc is missing or failed; str() says which."""


def build(directory: Path | str) -> Path:
    """Compile the fake NVML into `directory` (reused when the source has not changed); returns the library."""
    return _build(SOURCE, SONAME, Path(directory))


def build_cuda(directory: Path | str) -> Path:
    """Compile the fake CUDA driver (fake_cuda.c, libcuda.so.1) for the dry run of bench/gpu_check.py."""
    return _build(CUDA_SOURCE, CUDA_SONAME, Path(directory))


def _build(source: Path, soname: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / soname
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    stamp = directory / (soname + ".src-sha256")
    if out.exists() and stamp.exists() and stamp.read_text() == digest:
        return out
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise BuildError(f"no C compiler (gcc or cc) on PATH to build {source.name}")
    tmp = directory / (soname + f".tmp{os.getpid()}")
    cmd = [gcc, "-shared", "-fPIC", "-O2", "-Wall", f"-Wl,-soname,{soname}", "-o", str(tmp), str(source)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[:2000]}")
    os.replace(tmp, out)  # atomic: a concurrent loader never sees a half-written library
    stamp.write_text(digest)
    return out


@dataclass
class Scenario:
    """The scripted scene: devices, MIG devices, processes, utilisation samples, failures and delays."""

    lines: list[str] = field(default_factory=list)

    def device(self, uuid: str, name: str = "NVIDIA Fake GPU") -> Scenario:
        self.lines.append(f"device {uuid} {name}")
        return self

    def mig(self, parent: int, slot: int, uuid: str, gi: int, ci: int = 0) -> Scenario:
        self.lines.append(f"mig {parent} {slot} {uuid} {gi} {ci}")
        return self

    def proc(self, dev: int | str, pid: int, used_bytes: int | None, graphics: bool = False) -> Scenario:
        used = "na" if used_bytes is None else str(used_bytes)
        self.lines.append(f"proc {dev} {pid} {used}" + (" graphics" if graphics else ""))
        return self

    def util(self, dev: int | str, pid: int, sm: int, mem: int = 0, enc: int = 0, dec: int = 0,
             ts: int | str = 1) -> Scenario:
        self.lines.append(f"util {dev} {pid} {sm} {mem} {enc} {dec} {ts}")
        return self

    def fail(self, func: str, code: int, dev: int | str | None = None) -> Scenario:
        self.lines.append(f"fail {func} {code}" + ("" if dev is None else f" {dev}"))
        return self

    def sleep(self, func: str, ms: int) -> Scenario:
        self.lines.append(f"sleep {func} {ms}")
        return self

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def write(self, path: Path | str) -> Path:
        """Write atomically with a new mtime, so the library re-reads it on its next call."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.text())
        os.replace(tmp, path)
        # Two same-size writes within one mtime tick would look unchanged: keep mtimes strictly increasing.
        key = str(path)
        mtime = max(path.stat().st_mtime_ns, _LAST_MTIME.get(key, 0) + 1000)
        _LAST_MTIME[key] = mtime
        os.utime(path, ns=(mtime, mtime))
        return path


_LAST_MTIME: dict[str, int] = {}
