"""Config reload: re-read -config.path and swap the rules in without losing group counters.

Called by cli.py (SIGHUP, and the file watcher from watch.py) and server.py (POST /-/reload). A bad new config
changes nothing: the last good rules keep serving, the reason is logged once (repeats of the same error are not
logged again), and collector's `process_monitor_agent_config_last_reload_successful` is 0 until a good config
arrives. File-change triggers reload only when the file's content actually changed (the kubelet's symlink swap
fires several events for one update) and is not empty (a truncate-then-write in progress).
"""

from __future__ import annotations

import threading

from .collector import Collector
from .config import ConfigError, load_config
from .log import log


class Reloader:
    def __init__(self, path: str, collector: Collector, initial_text: bytes | None = None) -> None:
        self.path = path
        self.collector = collector
        self.lock = threading.Lock()
        self.last_error: str | None = None
        self.text = initial_text  # last applied content: a file event with the same bytes is not a reload

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
            if only_if_changed and text is not None and not text.strip():
                # An empty file seen by the watcher is almost always a write in progress (truncate, then write):
                # applying it would drop every rule for a scrape. An empty rule set can still be deployed as
                # `process_names: []`, or applied on purpose with SIGHUP / POST /-/reload.
                log.debug("config file %s is empty; waiting for the write to finish", self.path)
                return True, "config empty, not applied"
            if (
                only_if_changed
                and text is not None
                and self.last_error is None
                and text == self.text
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
                self.text = text
            log.info("config reloaded (%s) from %s: %d entries", trigger, self.path, len(cfg.rules.entries))
            return True, "config reloaded"
