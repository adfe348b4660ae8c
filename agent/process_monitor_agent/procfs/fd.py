"""Open file descriptor count of a process (track/refresh.py).

Linux >= 6.2 reports the number of open descriptors as the st_size of /proc/<pid>/fd, which costs one stat()
instead of open+getdents+close; older kernels report 0, and then the directory is listed.
"""

from __future__ import annotations

import os


def count_fds(fd_dir: str, size_is_count: bool = True) -> int:
    """Number of entries in fd_dir. Raises OSError when unreadable (permission) or gone.

    `size_is_count` must only be True for a real procfs (see `fd_size_is_count`): on an ordinary file system a
    directory's st_size is not its entry count."""
    if size_is_count:
        n = os.stat(fd_dir).st_size
        if n > 0:
            return n
    return len(os.listdir(fd_dir))


def fd_size_is_count(procfs: str) -> bool:
    """Does this procfs report fd counts as st_size? Checked once on our own process under that root."""
    own = f"{procfs}/{os.getpid()}/fd"
    try:
        size = os.stat(own).st_size
        listed = len(os.listdir(own))  # includes the descriptor listdir itself holds open
    except OSError:
        return False
    return size > 0 and abs(size - listed) <= 1
