"""Watch the config file for changes with inotify (ctypes on libc), falling back to a cheap stat poll.

Called by cli.py; calls back into reload.Reloader. The DIRECTORY holding -config.path is watched, not the file:
a Kubernetes ConfigMap volume updates by writing a new timestamped directory, pointing a temporary `..data_tmp`
symlink at it and renaming that over `..data` (config.yaml -> ..data/config.yaml stays put), so the file's own
inode never changes and a watch on it would never fire. The directory of the resolved file is watched too, so
an in-place edit of a file reached through a symlink is seen. The watcher thread blocks in select() on the
inotify descriptor (no busy loop; zero CPU while idle), collects a burst of events for 50 ms, then calls back
once. Without inotify, os.stat() of the path is compared every 1.5 s.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import struct
import threading
from collections.abc import Callable

from .log import log

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_IGNORED = 0x00008000
IN_CLOEXEC = 0o2000000
IN_NONBLOCK = 0o4000
MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
    | IN_MOVE_SELF
)
_EVENT = struct.Struct("iIII")
DEBOUNCE = 0.05
POLL_INTERVAL = 1.5


class _Inotify:
    def __init__(self) -> None:
        # The interpreter is linked against libc: CDLL(None) finds inotify_* without ctypes.util (which imports
        # subprocess and costs ~0.6 MB).
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.inotify_init1.argtypes = [ctypes.c_int]
        self.libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        fd = self.libc.inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        self.fd = fd
        self.watches: dict[str, int] = {}

    def add(self, directory: str) -> bool:
        if directory in self.watches:
            return True
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(directory), MASK)
        if wd < 0:
            return False
        self.watches[directory] = wd
        return True

    def drain(self) -> bool:
        """Read pending events; True if any arrived (names are not needed: any change triggers a check)."""
        got = False
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return got
            if not buf:
                return got
            got = True
            off = 0
            while off + _EVENT.size <= len(buf):
                wd, mask, _cookie, length = _EVENT.unpack_from(buf, off)
                off += _EVENT.size + length
                if mask & IN_IGNORED:
                    for d, w in list(self.watches.items()):
                        if w == wd:
                            del self.watches[d]

    def close(self) -> None:
        os.close(self.fd)


class Watcher:
    """Background thread calling `on_change` after the config file (or its directory) changed."""

    def __init__(self, path: str, on_change: Callable[[], object]) -> None:
        self.path = os.path.abspath(path)
        self.on_change = on_change
        self._stop_r, self._stop_w = os.pipe()
        self.mode = "inotify"
        self._last_failure = ""
        self.thread = threading.Thread(target=self._run, name="config-watch", daemon=True)

    def _dirs(self) -> list[str]:
        dirs = [os.path.dirname(self.path)]
        real = os.path.dirname(os.path.realpath(self.path))
        if real not in dirs:
            dirs.append(real)
        return dirs

    def start(self) -> Watcher:
        self.thread.start()
        return self

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")

    def _fire(self) -> None:
        try:
            self.on_change()
        except Exception as e:  # a reload bug must not kill the watcher, nor log once per event
            msg = f"{type(e).__name__}: {e}"[:300]
            if msg != self._last_failure:
                log.error("config reload after file change failed: %s", msg)
            self._last_failure = msg

    def _run(self) -> None:
        try:
            ino = _Inotify()
        except (OSError, AttributeError) as e:
            log.warning("inotify unavailable (%s); polling %s every %.1fs", e, self.path, POLL_INTERVAL)
            self._poll()
            return
        try:
            self._inotify_loop(ino)
        finally:
            ino.close()

    def _inotify_loop(self, ino: _Inotify) -> None:
        dirs = self._dirs()
        if not ino.add(dirs[0]):  # the directory of -config.path is required; the resolved one is best effort
            log.warning("cannot watch %s; polling %s every %.1fs", dirs[0], self.path, POLL_INTERVAL)
            self._poll()
            return
        for d in dirs[1:]:
            ino.add(d)
        log.debug("watching %s for config changes", ", ".join(ino.watches))
        while True:
            r, _, _ = select.select([ino.fd, self._stop_r], [], [])
            if self._stop_r in r:
                return
            if not ino.drain():
                continue
            # Let a burst (the kubelet's create + rename + delete) finish, then act once.
            while True:
                r, _, _ = select.select([ino.fd, self._stop_r], [], [], DEBOUNCE)
                if self._stop_r in r:
                    return
                if not r or not ino.drain():
                    break
            # The resolved file may now live in a new directory (the ..data target): watch it too.
            for d in self._dirs():
                if os.path.isdir(d):
                    ino.add(d)
            self._fire()
            if os.path.dirname(self.path) not in ino.watches:
                # The config directory itself went away (its watch was dropped): no event can come any more.
                log.warning("config directory of %s disappeared; polling every %.1fs", self.path, POLL_INTERVAL)
                self._poll()
                return

    def _signature(self) -> tuple[int, ...] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _poll(self) -> None:
        self.mode = "poll"
        last = self._signature()
        while True:
            r, _, _ = select.select([self._stop_r], [], [], POLL_INTERVAL)
            if r:
                return
            sig = self._signature()
            if sig != last:
                last = sig
                self._fire()


def start_watcher(path: str, on_change: Callable[[], object]) -> Watcher:
    return Watcher(path, on_change).start()
