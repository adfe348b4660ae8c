"""Thread IDs of a process from /proc/<pid>/task (tracker.py, only with -threads and num_threads >= 2)."""

from __future__ import annotations

import os


def list_tids(task_dir: str) -> list[int]:
    """Thread IDs; raises OSError when the process is gone or the directory is unreadable."""
    return [int(t) for t in os.listdir(task_dir) if t.isdigit()]
