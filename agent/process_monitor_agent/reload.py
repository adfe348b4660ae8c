"""Config reload: re-read -config.path and swap the rules in without losing group counters.

Called by cli.py (SIGHUP, and the file watcher from watch.py) and server.py (POST /-/reload). A bad new config
changes nothing: the last good rules keep serving, the reason is logged once (repeats of the same error are not
logged again), and collector's `process_monitor_agent_config_last_reload_successful` is 0 until a good config
arrives. File-change triggers reload only when the file's content actually changed (the kubelet's symlink swap
fires several events for one update).
"""

from __future__ import annotations

import hashlib
import logging
import threading

from .collector import Collector
from .config import ConfigError, load_config

log = logging.getLogger("process_monitor_agent")


class Reloader:
    def __init__(self, path: str, collector: Collector, initial_text: bytes | None = None) -> None:
        self.path = path
        self.collector = collector
        self.lock = threading.Lock()
        self.last_error: str | None = None
        self.digest = hashlib.sha256(initial_text).digest() if initial_text is not None else b""

    def _read(self) -> bytes | None:
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def reload(self, trigger: str = "manual", only_if_changed: bool = False) -> tuple[bool, str]:
        """Load and apply the config file. Returns (ok, message)."""
        with self.lock:
            text = self._read()
            if (
                only_if_changed
                and text is not None
                and self.last_error is None
                and hashlib.sha256(text).digest() == self.digest
            ):
                return True, "config unchanged"
            try:
                cfg = load_config(self.path)
            except ConfigError as e:
                msg = str(e)
                self.collector.reload_failed()
                if msg != self.last_error:
                    log.error("config reload (%s) failed, keeping the last good config: %s", trigger, msg)
                self.last_error = msg
                return False, msg
            for w in cfg.warnings:
                log.warning("%s", w)
            self.collector.apply_config(cfg)
            self.last_error = None
            if text is not None:
                self.digest = hashlib.sha256(text).digest()
            log.info("config reloaded (%s) from %s: %d entries", trigger, self.path, len(cfg.rules.entries))
            return True, "config reloaded"
