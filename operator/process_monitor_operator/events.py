"""What a watch event means for the reconciler: pure decisions, object in, decision out (no kopf, no API).

`processmonitor_event` says whether to remember or forget a ProcessMonitor; `child_event` whether an event on a
child updates the live-object cache and which ProcessMonitor to re-reconcile; `owner_key` finds that owner;
`retry_delay` is the back-off after a failed apply. Called by reconcile.Reconciler (its `on_*` methods, which the
kopf handlers in handlers.py call one line each); tested in tests/operator/test_events.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import constants as c

Key = tuple[str, str]  # (namespace, name) of a ProcessMonitor
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# A short delay merges the burst of events one apply or rollout produces into one reconcile.
CHILD_EVENT_DELAY = 0.1


def object_key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace", ""), meta.get("name", ""))


def owner_key(obj: dict[str, Any]) -> Key | None:
    """The (namespace, name) of the ProcessMonitor controlling `obj`, from its owner references."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == c.KIND and ref.get("apiVersion", "").startswith(c.GROUP + "/") and ref.get("controller"):
            return (meta.get("namespace", ""), ref.get("name", ""))
    return None


@dataclass(frozen=True)
class PmAction:
    """Remember the ProcessMonitor's latest body (status included) for background reconciles, or forget it."""

    key: Key
    forget: bool


def processmonitor_event(event_type: str, obj: dict[str, Any]) -> PmAction:
    return PmAction(object_key(obj), forget=event_type == "DELETED")


@dataclass(frozen=True)
class ChildAction:
    """Feed the object to the live cache (as deleted or not), then re-reconcile `owner` if it has one."""

    deleted: bool
    owner: Key | None
    delay: float = CHILD_EVENT_DELAY


def child_event(event_type: str, obj: dict[str, Any], cached: bool) -> ChildAction | None:
    """What to do with an event on a watched child kind; None: not ours, ignore it.

    Ours: our managed-by label or a ProcessMonitor controller reference. Objects that are not (or no longer) ours
    are still observed if we cached them (`cached`): a child whose label or owner reference someone removed must
    not stay "up to date" in our cache."""
    owner = owner_key(obj)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    ours = labels.get(c.MANAGED_BY_LABEL) == c.MANAGED_BY_VALUE or owner is not None
    if not ours and not cached:
        return None
    return ChildAction(deleted=event_type == "DELETED", owner=owner)


def retry_delay(failures: int) -> float:
    """Seconds before retrying an apply that failed `failures` times in a row before this one (0 = first failure)."""
    return RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
