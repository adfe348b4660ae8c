"""Reproduces exactly how the kubelet updates a ConfigMap volume (pkg/volume/util/atomic_writer.go):

    <dir>/..2026_11_21_16_00_00.123456789/config.yaml   the payload, in a fresh timestamped directory
    <dir>/..data -> ..2026_11_21_16_00_00.123456789      the one symlink that is swapped
    <dir>/config.yaml -> ..data/config.yaml              user-visible path; never changes

An update writes a new timestamped directory, creates the symlink `..data_tmp` pointing at it, renames
`..data_tmp` over `..data` (atomic), then removes the old directory. Used by the reload tests.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path


class KubeletVolume:
    def __init__(self, directory: Path, filename: str = "config.yaml") -> None:
        self.dir = directory
        self.filename = filename
        self.dir.mkdir(parents=True, exist_ok=True)
        self.current: str | None = None
        self.n = 0

    @property
    def path(self) -> Path:
        return self.dir / self.filename

    def write(self, content: str) -> None:
        self.n += 1
        ts = time.strftime("..%Y_%m_%d_%H_%M_%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}{self.n}"
        new = self.dir / ts
        new.mkdir()
        (new / self.filename).write_text(content)
        tmp = self.dir / "..data_tmp"
        os.symlink(ts, tmp)
        os.rename(tmp, self.dir / "..data")
        if not self.path.is_symlink():
            os.symlink(os.path.join("..data", self.filename), self.path)
        if self.current is not None:
            shutil.rmtree(self.dir / self.current)
        self.current = ts
