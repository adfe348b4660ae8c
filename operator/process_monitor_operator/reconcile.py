"""The level-based reconcile of one ProcessMonitor, and the scheduling around it.

`Reconciler.reconcile(key)`: validate the spec, render every child, `Applier.ensure` each (server-side apply only
when the live object differs), prune children no longer wanted, then write the status only if it changed. An
invalid spec applies nothing (previous agents keep running) and sets Stalled with a message naming the entry;
Events are posted only when something changed, so a steady-state resync makes zero write calls.
Triggers: kopf create/update/resume handlers (`on_processmonitor_changed`), events on any labelled child
(`on_child_event` -> `trigger`, coalesced per key), a periodic resync, and prometheus-operator CRDs appearing or
vanishing. What each watch event means is decided by events.py (pure); the `on_*` methods apply those decisions
and are what the kopf handlers (handlers.py) call. Built by app.py at startup.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx2 as httpx
from lightkube.core.exceptions import ApiError

from . import events, render
from . import status as st
from .names import child_name
from .render.options import OPTIONAL_APIS, RenderOptions
from .spec import load
from .validation import validate

if TYPE_CHECKING:
    from .k8s.api import Api
    from .k8s.applier import Applier
    from .settings import OperatorConfig

log = logging.getLogger(__name__)

Key = events.Key
EventPoster = Callable[[dict[str, Any], str, str, str], None]  # (body, type, reason, message)
# While the agent DaemonSet lacks pods it wants, look again this often for the reason (the controller's Events do
# not change the DaemonSet, so no watch event would bring us back).
MISSING_PODS_RECHECK = 5.0
PERMANENT_CODES = frozenset({400, 422})


def crd_name(api: str) -> str:
    """"monitoring.coreos.com/v1/ServiceMonitor" -> "servicemonitors.monitoring.coreos.com"."""
    group, kind = api.split("/", 1)[0], api.rsplit("/", 1)[1]
    plural = next((m.PLURAL for m in render.CHILDREN if f"{m.API_VERSION}/{m.KIND}" == api), kind.lower() + "s")
    return f"{plural}.{group}"


class Reconciler:
    def __init__(self, api: Api, applier: Applier, config: OperatorConfig, post_event: EventPoster) -> None:
        self.api = api
        self.applier = applier
        self.config = config
        self.post_event = post_event
        self.metrics = api.metrics
        self.bodies: dict[Key, dict[str, Any]] = {}
        self.apis: frozenset[str] = frozenset()
        self._written: dict[Key, tuple[str, dict[str, Any]]] = {}  # key -> (uid, status we last wrote)
        self._locks: dict[Key, asyncio.Lock] = {}
        self._pending: set[Key] = set()
        self._failures: dict[Key, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- what the watches tell us (each kopf handler calls one of these) ---
    async def on_processmonitor_changed(self, body: dict[str, Any]) -> None:
        """kopf create/update/resume: reconcile now."""
        await self.run_now(copy.deepcopy(body))

    def on_processmonitor_event(self, event_type: str, obj: dict[str, Any]) -> None:
        """Every ProcessMonitor event: keep the latest body for background reconciles; forget on delete."""
        action = events.processmonitor_event(event_type, obj)
        if action.forget:
            self.forget(action.key)
        else:
            self.remember(copy.deepcopy(obj))

    def on_child_event(self, event_type: str, obj: dict[str, Any]) -> None:
        """Every event on a watched child kind: update the live cache and re-reconcile the owner (events.py)."""
        action = events.child_event(event_type, obj, self.applier.cached(obj))
        if action is None:
            return
        self.applier.observe(obj, deleted=action.deleted)
        if action.owner is not None:
            self.trigger(action.owner, delay=action.delay)

    def remember(self, body: dict[str, Any]) -> Key:
        key = events.object_key(body)
        self.bodies[key] = body
        self.metrics.known(len(self.bodies))
        return key

    def forget(self, key: Key) -> None:
        body = self.bodies.pop(key, None)
        self._written.pop(key, None)
        self._failures.pop(key, None)
        self._locks.pop(key, None)
        if body is not None:
            self.applier.forget(key[0], (body.get("metadata") or {}).get("uid", ""))
        self.metrics.known(len(self.bodies))

    # --- scheduling ---
    def trigger(self, key: Key, delay: float = 0.0) -> None:
        """Reconcile `key` soon; triggers that arrive before it starts are merged into one run."""
        if key in self._pending or key not in self.bodies:
            return
        self._pending.add(key)
        task = asyncio.get_running_loop().create_task(self._run(key, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def trigger_all(self) -> None:
        for key in list(self.bodies):
            self.trigger(key)

    async def _run(self, key: Key, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        async with self._lock(key):
            self._pending.discard(key)
            try:
                await self.reconcile(key)
            except Exception:  # never let one object kill the background task; the next trigger retries
                log.exception("reconcile of %s/%s failed", *key)

    async def run_now(self, body: dict[str, Any]) -> None:
        """Reconcile `body` now (from a kopf handler), serialised with any background run of the same key."""
        key = self.remember(body)
        async with self._lock(key):
            await self.reconcile(key)

    def _lock(self, key: Key) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def refresh_apis(self) -> bool:
        """Re-check which optional CRDs exist; True (and every ProcessMonitor re-triggered) if that changed."""
        found = set()
        for api in sorted(OPTIONAL_APIS):
            try:
                if await self.api.get_crd(crd_name(api)):
                    found.add(api)
            except (ApiError, httpx.HTTPError, OSError) as exc:
                log.warning("cannot check CRD %s: %s", crd_name(api), exc)
                if api in self.apis:
                    found.add(api)  # keep the last answer on a transient error
        changed = frozenset(found) != self.apis
        if changed:
            log.info("optional APIs now available: %s", ", ".join(sorted(found)) or "none")
            self.apis = frozenset(found)
            self.trigger_all()
        return changed

    async def periodic(self, stop: asyncio.Event) -> None:
        """Resync every ProcessMonitor every resync_interval; re-check CRDs every crd_check_interval."""
        next_resync = time.monotonic() + self.config.resync_interval
        while not stop.is_set():
            tick = min(self.config.crd_check_interval, self.config.resync_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick)
            if stop.is_set():
                break
            try:
                await self.refresh_apis()
            except Exception:
                log.exception("CRD check failed")
            if time.monotonic() >= next_resync:
                next_resync = time.monotonic() + self.config.resync_interval
                self.trigger_all()

    async def drain(self) -> None:
        """Wait for background reconciles to finish (cleanup, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- the reconcile itself ---
    async def reconcile(self, key: Key) -> None:
        body = self.bodies.get(key)
        if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
            return
        started = time.monotonic()
        meta = body.get("metadata") or {}
        uid = meta.get("uid", "")
        src = load(body)
        problems = validate(src)
        obs = st.Observed(generation=meta.get("generation"), groups=len(src.process_names), problems=problems)
        written: list[str] = []
        result = "invalid" if problems else "ok"
        if not problems:
            options = RenderOptions(agent_image=self.config.agent_image, available_apis=self.apis)
            obs.skipped = render.skipped(src, options)
            obs.required_missing = render.required_missing(src, options)
            result = await self._apply_all(key, src, options, obs, written)
            if result == "ok" and st.missing_pods(obs.daemonset):
                obs.pods_rejected = await self._pods_rejected(key)
                self.trigger(key, delay=MISSING_PODS_RECHECK)
        else:
            obs.daemonset = self.applier.cache.get(("apps/v1", "DaemonSet", key[0], child_name(key[1])))
        prev_uid, prev = self._written.get(key, ("", None))
        old = prev if prev_uid == uid and prev is not None else body.get("status")
        new = st.compute(obs, old)
        if not st.same(new, old):
            try:
                await self.api.patch_status(key[0], key[1], new)
                self._written[key] = (uid, new)
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
        if (msg := st.stalled_message(new)) and msg != st.stalled_message(old):
            reason = next(x["reason"] for x in new["conditions"] if x["type"] == "Stalled")
            self._event(body, "Warning", reason, msg)
        if written:
            self._event(body, "Normal", "Applied", "applied " + ", ".join(written))
        self.metrics.reconciled(result, time.monotonic() - started)

    async def _apply_all(self, key: Key, src: Any, options: RenderOptions, obs: st.Observed,
                         written: list[str]) -> str:
        manifests = render.render_all(src, options)
        current = ""
        try:
            for manifest in manifests:
                current = f"{manifest['kind']}/{manifest['metadata']['name']}"
                outcome = await self.applier.ensure(manifest)
                if outcome.written:
                    written.append(current)
                if manifest["kind"] == "DaemonSet":
                    obs.daemonset = outcome.live
            current = "pruning"
            await self._prune(src, manifests)
        except ApiError as exc:
            obs.apply_error = f"{current}: {exc.status.message or exc}"
            obs.apply_error_permanent = exc.status.code in PERMANENT_CODES
        except (httpx.HTTPError, OSError) as exc:
            obs.apply_error = f"{current}: {exc}"
        if obs.apply_error:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
            delay = events.retry_delay(failures)
            log.warning("%s/%s: %s (retry in %.0fs)", *key, obs.apply_error, delay)
            self.trigger(key, delay=delay)
            return "error"
        self._failures.pop(key, None)
        return "ok"

    async def _pods_rejected(self, key: Key) -> str | None:
        try:
            return await self.api.last_failed_create(key[0], child_name(key[1]))
        except (ApiError, httpx.HTTPError, OSError) as exc:
            log.warning("%s/%s: cannot read the agent DaemonSet's events: %s", *key, exc)
            return None

    async def _prune(self, src: Any, manifests: list[dict[str, Any]]) -> None:
        """Delete children of this ProcessMonitor that the renderer no longer produces (e.g. ServiceMonitor off)."""
        wanted = {(m["apiVersion"], m["kind"], m["metadata"]["name"]) for m in manifests}
        for obj in self.applier.children_of(src.namespace, src.uid or ""):
            ident = (obj.get("apiVersion", ""), obj.get("kind", ""), obj["metadata"]["name"])
            if ident not in wanted:
                log.info("%s/%s: deleting %s/%s, no longer wanted", src.namespace, src.name, ident[1], ident[2])
                await self.api.delete(ident[0], ident[1], src.namespace, ident[2])

    def _event(self, body: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.metrics.event_posted(type_)
        try:
            self.post_event(copy.deepcopy(body), type_, reason, message[:1000])
        except Exception:  # events are best effort
            log.exception("cannot post event")
