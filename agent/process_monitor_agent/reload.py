"""Config reload: re-read -config.path and swap the rules in without losing group counters.

Called by cli.py (SIGHUP, and the file watcher from watch.py) and http/routes.py (POST /-/reload, only with
-web.enable-lifecycle). `Reloader.reload` is the one path every trigger takes, and it never raises: whatever goes
wrong (unreadable or oversized file, invalid YAML, a limit, a bad rule, even a bug) keeps the last good rules,
sets collector's `process_monitor_agent_config_last_reload_successful` to 0, counts a failure and logs one line,
only when the reason differs from the last one logged.

Cost stays bounded whatever the triggers do:
- Coalesced: one reload runs at a time; a request that arrives while one runs waits for the next one to start
  and shares its result with every other request that arrived meanwhile, so a flood of N requests costs at most
  two reloads at a time, not N.
- No re-parse of known bytes: the file is compared with the bytes last applied and the bytes last refused. A file
  event for either does nothing at all (the kubelet's symlink swap fires several events per update; a log file
  written into the config directory fires thousands). An explicit trigger (SIGHUP, HTTP) for them reports the
  known outcome and counts it, without parsing again: parsing is deterministic, so the answer would be the same.
- An empty file seen by the watcher is a write in progress (truncate, then write) and is not applied.
"""

from __future__ import annotations

import threading

from .collector import Collector
from .config import ConfigError, parse_config, read_config_bytes
from .export import own
from .log import log
from .quote import clip

TRIGGERS = ("file", "http", "sighup")
# applied: parsed and swapped in; refused: unreadable or invalid (last good rules kept); unchanged: bytes equal to
# the config in force or the last refused one, not parsed again; empty: an empty file seen by the watcher;
# coalesced: answered with the result of a reload that another request started.
OUTCOMES = ("applied", "coalesced", "empty", "refused", "unchanged")


class Reloader:
    def __init__(self, path: str, collector: Collector, initial_text: bytes | None = None) -> None:
        self.path = path
        self.collector = collector
        self.applied = initial_text  # bytes of the config in force
        self.refused: bytes | None = None  # bytes of the last config that failed to load
        self.last_error: str | None = None  # reason of the last failure logged (None after a success)
        self.requests = {(t, o): 0 for t in TRIGGERS for o in OUTCOMES}
        self._cond = threading.Condition()
        self._running = False
        self._started = 0  # generation of the last reload started
        self._finished = 0  # generation of the last reload finished
        self._pending_force = False
        self._result: tuple[bool, str] = (True, "config loaded at start-up")

    def reload(self, trigger: str = "http", only_if_changed: bool = False) -> tuple[bool, str]:
        """Make the rules in force match the file; (ok, one-line message). Never raises.

        `trigger` is one of TRIGGERS. `only_if_changed` is the file watcher's mode: bytes already applied or
        refused are not reported again.
        """
        with self._cond:
            if not only_if_changed:
                self._pending_force = True
            want = self._started + 1  # a reload that starts after this request arrived
            while self._running and self._finished < want:
                self._cond.wait()
            if self._finished >= want:
                self._count(trigger, "coalesced")
                return self._result
            self._running = True
            self._started += 1
            generation = self._started
            force, self._pending_force = self._pending_force, False
        result: tuple[bool, str] = (False, "reload did not finish")
        outcome = "refused"
        try:
            ok, msg, outcome = self._guarded(trigger, force)
            result = (ok, msg)
        finally:
            self._count(trigger, outcome)
            with self._cond:
                self._running = False
                self._finished = generation
                self._result = result
                self._cond.notify_all()
        return result

    def _count(self, trigger: str, outcome: str) -> None:
        key = (trigger if trigger in TRIGGERS else "http", outcome)
        with self._cond:
            self.requests[key] += 1

    def write_metrics(self, out: list[str]) -> None:
        """process_monitor_agent_config_reload_requests_total{trigger,outcome} (collector.extra_writers)."""
        with self._cond:
            samples = [((o, t), n) for (t, o), n in sorted(self.requests.items())]
        own.CONFIG_RELOAD_REQUESTS_TOTAL.write(out, samples)

    def _guarded(self, trigger: str, force: bool) -> tuple[bool, str, str]:
        try:
            return self._reload(trigger, force)
        except Exception as e:  # a bug must not kill the caller (SIGHUP runs on the main thread)
            msg = f"internal error while reloading {self.path}: {type(e).__name__}: {clip(str(e))}"
            if log.is_debug():
                log.exception("config reload (%s) failed", trigger)
            return self._failed(trigger, msg, None)

    def _reload(self, trigger: str, force: bool) -> tuple[bool, str, str]:
        try:
            text = read_config_bytes(self.path)
        except ConfigError as e:
            return self._failed(trigger, str(e), None)
        if text == self.applied:
            if force or self.last_error is not None:  # e.g. a bad config reverted: the rules in force are right
                self.collector.reload_kept()
                if self.last_error is not None:
                    log.info("config reload (%s): %s is back to the config in force", trigger, self.path)
                self.refused, self.last_error = None, None
            return True, "config unchanged", "unchanged"
        if text == self.refused:
            if force:
                self.collector.reload_failed()
            return False, self.last_error or "config refused", "unchanged"
        if not force and not text.strip():
            # Applying it would drop every rule for a scrape. An empty rule set can still be deployed as
            # `process_names: []`, or applied on purpose with SIGHUP / POST /-/reload.
            log.debug("config file %s is empty; waiting for the write to finish", self.path)
            return True, "config empty, not applied", "empty"
        try:
            cfg = parse_config(text, self.path)
        except ConfigError as e:
            return self._failed(trigger, str(e), text)
        for w in cfg.warnings:
            log.warning("%s", w)
        self.collector.apply_config(cfg)
        self.applied, self.refused, self.last_error = text, None, None
        log.info("config reloaded (%s) from %s: %d entries", trigger, self.path, len(cfg.rules.entries))
        return True, "config reloaded", "applied"

    def _failed(self, trigger: str, msg: str, text: bytes | None) -> tuple[bool, str, str]:
        self.collector.reload_failed()
        self.refused = text
        if msg != self.last_error:
            log.error("config reload (%s) failed, keeping the last good config: %s", trigger, msg)
        self.last_error = msg
        return False, msg, "refused"
