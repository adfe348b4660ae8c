"""A minimal logger for the agent (stdlib `logging` costs ~0.7 MB of resident memory; the agent needs four levels
and one line format). Every module does `from .log import log`; cli.py calls `log.setup(debug)`.

Lines go to stderr as `ts=... level=... msg=...` (logfmt-like, one line each, as Prometheus exporters log).
"""

from __future__ import annotations

import sys
import threading
import time

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_NAMES = {DEBUG: "debug", INFO: "info", WARNING: "warn", ERROR: "error"}


class Logger:
    def __init__(self) -> None:
        self.level = INFO
        self.stream = sys.stderr
        self._lock = threading.Lock()

    def setup(self, debug: bool) -> None:
        self.level = DEBUG if debug else INFO

    def is_debug(self) -> bool:
        return self.level <= DEBUG

    def _emit(self, level: int, msg: str, args: tuple[object, ...]) -> None:
        if level < self.level:
            return
        if args:
            msg = msg % args
        t = time.time()
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"
        line = f"ts={ts} level={_NAMES[level]} msg={msg}\n"
        with self._lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def debug(self, msg: str, *args: object) -> None:
        self._emit(DEBUG, msg, args)

    def info(self, msg: str, *args: object) -> None:
        self._emit(INFO, msg, args)

    def warning(self, msg: str, *args: object) -> None:
        self._emit(WARNING, msg, args)

    def error(self, msg: str, *args: object) -> None:
        self._emit(ERROR, msg, args)

    def exception(self, msg: str, *args: object) -> None:
        """Error with the current exception's traceback (for bugs only, never for user input)."""
        import traceback  # only on this rare path: it pulls in linecache and tokenize

        self._emit(ERROR, msg + "\n" + traceback.format_exc().rstrip(), args)


log = Logger()
