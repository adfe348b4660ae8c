"""Open file descriptor count of a process (tracker.py).

Linux >= 6.2 reports the number of open descriptors as the st_size of /proc/<pid>/fd, which costs one stat()
instead of open+getdents+close; older kernels report 0, and then the directory is listed.
"""

from __future__ import annotations

import os


def count_fds(fd_dir: str) -> int:
    """Number of entries in fd_dir. Raises OSError when unreadable (permission) or gone."""
    n = os.stat(fd_dir).st_size
    if n > 0:
        return n
    return len(os.listdir(fd_dir))
