"""What watch events mean (pure decisions of events.py), and the Reconciler applying them without kopf.

The Reconciler tests use stand-ins for the API and the applier (pure scheduling logic: no write is made; the real
API is in the cluster tests)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from process_monitor_operator import events
from process_monitor_operator.reconcile import Reconciler
from process_monitor_operator.settings import OperatorConfig

OWNER_REF = {"apiVersion": "monitoring.process-monitor.dev/v1alpha1", "kind": "ProcessMonitor", "name": "pm",
             "uid": "u1", "controller": True}
MANAGED = {"app.kubernetes.io/managed-by": "process-monitor-operator"}


def obj(labels: dict[str, str] | None = None, refs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "pmon-pm", "namespace": "ns"}
    if labels is not None:
        meta["labels"] = labels
    if refs is not None:
        meta["ownerReferences"] = refs
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


@pytest.mark.parametrize("refs, want", [
    ([OWNER_REF], ("ns", "pm")),
    ([{**OWNER_REF, "controller": False}], None),                        # not the controller
    ([{**OWNER_REF, "apiVersion": "other.dev/v1"}], None),               # another group's ProcessMonitor
    ([{**OWNER_REF, "kind": "Deployment"}], None),
    ([{"kind": "Deployment", "name": "x", "controller": True}, OWNER_REF], ("ns", "pm")),
    ([], None),
    (None, None),
])
def test_owner_key(refs: list[dict[str, Any]] | None, want: tuple[str, str] | None) -> None:
    assert events.owner_key(obj(refs=refs)) == want


@pytest.mark.parametrize("event_type, o, cached, want", [
    ("ADDED", obj(MANAGED, [OWNER_REF]), False, events.ChildAction(deleted=False, owner=("ns", "pm"))),
    ("MODIFIED", obj(MANAGED), False, events.ChildAction(deleted=False, owner=None)),  # ours by label, no owner
    ("MODIFIED", obj(refs=[OWNER_REF]), False, events.ChildAction(deleted=False, owner=("ns", "pm"))),
    ("DELETED", obj(MANAGED, [OWNER_REF]), True, events.ChildAction(deleted=True, owner=("ns", "pm"))),
    ("MODIFIED", obj({"app": "x"}), False, None),                      # someone else's object: ignored
    ("MODIFIED", obj({"app": "x"}), True, events.ChildAction(deleted=False, owner=None)),  # label removed: observe
    ("DELETED", obj(), True, events.ChildAction(deleted=True, owner=None)),
])
def test_child_event(event_type: str, o: dict[str, Any], cached: bool, want: events.ChildAction | None) -> None:
    assert events.child_event(event_type, o, cached) == want


@pytest.mark.parametrize("event_type, forget", [("ADDED", False), ("MODIFIED", False), ("DELETED", True)])
def test_processmonitor_event(event_type: str, forget: bool) -> None:
    pm = {"metadata": {"name": "pm", "namespace": "ns"}}
    assert events.processmonitor_event(event_type, pm) == events.PmAction(("ns", "pm"), forget)


def test_retry_delay_backs_off_and_caps() -> None:
    assert [events.retry_delay(n) for n in range(8)] == [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 60.0, 60.0]


class StubMetrics:
    def known(self, n: int) -> None:
        self.n = n


class StubApi:
    metrics = StubMetrics()


class StubApplier:
    """Records what the reconciler feeds the live cache."""

    def __init__(self, cached: set[str]) -> None:
        self.cache = cached
        self.observed: list[tuple[str, bool]] = []
        self.forgotten: list[tuple[str, str]] = []

    def cached(self, o: dict[str, Any]) -> bool:
        return o["metadata"]["name"] in self.cache

    def observe(self, o: dict[str, Any], deleted: bool = False) -> None:
        self.observed.append((o["metadata"]["name"], deleted))

    def forget(self, namespace: str, uid: str) -> None:
        self.forgotten.append((namespace, uid))


def reconciler(cached: set[str] | None = None) -> tuple[Reconciler, StubApplier]:
    applier = StubApplier(cached or set())
    r = Reconciler(StubApi(), applier, OperatorConfig(), lambda *a: None)  # type: ignore[arg-type]
    return r, applier


def test_processmonitor_events_remember_and_forget() -> None:
    r, applier = reconciler()
    pm = {"metadata": {"name": "pm", "namespace": "ns", "uid": "u1"}, "spec": {}}
    r.on_processmonitor_event("ADDED", pm)
    assert r.bodies[("ns", "pm")] == pm and r.bodies[("ns", "pm")] is not pm  # a copy: kopf reuses its dicts
    assert StubApi.metrics.n == 1
    r.on_processmonitor_event("DELETED", pm)
    assert ("ns", "pm") not in r.bodies and applier.forgotten == [("ns", "u1")]
    assert StubApi.metrics.n == 0


def test_child_event_observes_and_triggers_the_owner_once() -> None:
    async def scenario() -> tuple[Reconciler, StubApplier, set[tuple[str, str]]]:
        r, applier = reconciler()
        r.remember({"metadata": {"name": "pm", "namespace": "ns"}})
        r.reconcile = _never  # type: ignore[method-assign]  # scheduling only: no reconcile runs here
        r.on_child_event("MODIFIED", obj(MANAGED, [OWNER_REF]))
        r.on_child_event("MODIFIED", obj(MANAGED, [OWNER_REF]))  # merged into the pending run
        r.on_child_event("MODIFIED", obj({"app": "x"}))  # not ours, not cached: ignored
        pending = set(r._pending)
        for task in list(r._tasks):
            task.cancel()
        await asyncio.gather(*r._tasks, return_exceptions=True)
        return r, applier, pending

    _, applier, pending = asyncio.run(scenario())
    assert applier.observed == [("pmon-pm", False), ("pmon-pm", False)]
    assert pending == {("ns", "pm")}


async def _never(key: tuple[str, str]) -> None:
    raise AssertionError("reconcile must not run in this test")
