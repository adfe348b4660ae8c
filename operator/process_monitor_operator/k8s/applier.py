"""Server-side apply of children with a compare-before-write, so a steady-state resync writes nothing.

`Applier.ensure` decides whether a write is needed: it skips when the live object (from the watch cache, else a
GET) carries the renderer's digest annotation of this exact manifest and still contains every field of it
(k8s/compare.py). The cache is fed by the children watch (Reconciler.on_child_event) and by apply responses.
Called by reconcile.py; built by app.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..constants import DIGEST_ANNOTATION
from .api import ChildKey, child_key, rv, strip
from .compare import contains
from .serialize import to_json_bytes

if TYPE_CHECKING:
    from collections.abc import Callable

    from .api import Api


@dataclass
class Outcome:
    """What `ensure` did with one manifest."""

    live: dict[str, Any]
    written: bool


class Applier:
    """Applies manifests only when the live object differs; keeps a cache of live children fed by the watch."""

    def __init__(self, api: Api, apply_log: Callable[[bytes], None] | None = None) -> None:
        self.api = api
        self.cache: dict[ChildKey, dict[str, Any]] = {}
        # (digest, resourceVersion) of our last apply per child: a live object we applied ourselves and that nobody
        # touched since needs no write even if the server normalised a value we could not compare.
        self._applied: dict[ChildKey, tuple[str, str | None]] = {}
        self._apply_log = apply_log

    # --- cache, fed by the children watch (Reconciler.on_child_event) and by our own responses ---
    def observe(self, obj: dict[str, Any], deleted: bool = False) -> None:
        key = child_key(obj)
        old = self.cache.get(key)
        if deleted:
            if old is not None and (old.get("metadata") or {}).get("uid") == (obj.get("metadata") or {}).get("uid"):
                self.cache.pop(key, None)
            return
        if old is not None and _older(rv(obj), rv(old)):
            return  # a late watch event must not replace a newer apply response
        self.cache[key] = strip(obj)

    def cached(self, obj: dict[str, Any]) -> bool:
        """Whether the live cache holds an object of this apiVersion, kind, namespace and name."""
        return child_key(obj) in self.cache

    def children_of(self, namespace: str, uid: str) -> list[dict[str, Any]]:
        """Cached children whose controller owner reference is the ProcessMonitor `uid`."""
        out = []
        for (_, _, ns, _), obj in self.cache.items():
            if ns != namespace:
                continue
            refs = (obj.get("metadata") or {}).get("ownerReferences") or []
            if any(r.get("uid") == uid and r.get("controller") for r in refs):
                out.append(obj)
        return out

    def forget(self, namespace: str, uid: str) -> None:
        for obj in self.children_of(namespace, uid):
            key = child_key(obj)
            self.cache.pop(key, None)
            self._applied.pop(key, None)

    async def ensure(self, manifest: dict[str, Any]) -> Outcome:
        key = child_key(manifest)
        digest = ((manifest.get("metadata") or {}).get("annotations") or {}).get(DIGEST_ANNOTATION, "")
        live = self.cache.get(key)
        if live is None:
            live = await self.api.get(*key)
            if live is not None:
                self.observe(live)
        if live is not None and _up_to_date(manifest, live, digest, self._applied.get(key)):
            return Outcome(live, False)
        body = to_json_bytes(manifest)
        if self._apply_log is not None:
            self._apply_log(body)
        result = await self.api.apply(manifest)
        self.observe(result)
        self._applied[key] = (digest or hashlib.sha256(body).hexdigest(), rv(result))
        return Outcome(result, True)


def _up_to_date(manifest: dict[str, Any], live: dict[str, Any], digest: str,
                applied: tuple[str, str | None] | None) -> bool:
    live_digest = ((live.get("metadata") or {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
    if digest and live_digest != digest:
        return False
    if contains(manifest, live):
        return True
    return applied is not None and applied == (digest, rv(live))


def _older(a: str | None, b: str | None) -> bool:
    """True when resourceVersion `a` is known to be older than `b` (etcd revisions are integers in practice)."""
    try:
        return a is not None and b is not None and int(a) < int(b)
    except ValueError:
        return False
