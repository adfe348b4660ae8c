"""Thread IDs of a process from /proc/<pid>/task (track/threads.py, only with -threads and num_threads >= 2)."""

from __future__ import annotations

import os


def list_tids(task_dir: str) -> list[str]:
    """Thread IDs as the directory names they are (callers build paths from them). Not filtered: an entry that
    is not a number is not a thread, and the caller's int() rejects the process (skipped and counted). Raises
    OSError when the process is gone or the directory is unreadable."""
    return os.listdir(task_dir)
