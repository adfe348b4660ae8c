"""Status and compare logic (pure): conditions as kstatus reads them, transition times, quantity-aware compare."""

from __future__ import annotations

from typing import Any

import pytest
from process_monitor_operator import status as st
from process_monitor_operator.k8s.compare import contains, quantity


def _ds(desired: int, ready: int, updated: int, generation: int = 2, observed: int = 2) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "status": {
        "observedGeneration": observed, "desiredNumberScheduled": desired, "numberReady": ready,
        "updatedNumberScheduled": updated, "numberAvailable": ready}}


def _conds(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {x["type"]: (x["status"], x["reason"]) for x in status["conditions"]}


def kstatus(obj: dict[str, Any]) -> str:
    """cli-utils kstatus' generic rules (pkg/kstatus/status/generic.go), enough to classify our CR."""
    s = obj.get("status") or {}
    if "observedGeneration" in s and s["observedGeneration"] != obj["metadata"]["generation"]:
        return "InProgress"
    conds = {x["type"]: x["status"] for x in s.get("conditions") or []}
    if conds.get("Reconciling") == "True":
        return "InProgress"
    if conds.get("Stalled") == "True":
        return "Failed"
    if conds.get("Ready") == "False":
        return "InProgress"
    return "Current"


@pytest.mark.parametrize(("obs", "expected", "kstat"), [
    (st.Observed(3, 1, daemonset=_ds(5, 5, 5)), {"Ready": ("True", "Ready"), "Reconciling": ("False", "Ready"),
                                                "Stalled": ("False", "Ready")}, "Current"),
    (st.Observed(3, 1, daemonset=_ds(5, 2, 5)), {"Ready": ("False", "Progressing"),
                                                "Reconciling": ("True", "Progressing"),
                                                "Stalled": ("False", "Progressing")}, "InProgress"),
    (st.Observed(3, 1, daemonset=_ds(5, 5, 5, generation=3, observed=2)), {"Ready": ("False", "Progressing"),
     "Reconciling": ("True", "Progressing"), "Stalled": ("False", "Progressing")}, "InProgress"),
    (st.Observed(3, 1, problems=["processNames[0]: bad"]), {"Ready": ("False", "InvalidSpec"),
     "Reconciling": ("False", "InvalidSpec"), "Stalled": ("True", "InvalidSpec")}, "Failed"),
    (st.Observed(3, 1, apply_error="x", apply_error_permanent=True), {"Ready": ("False", "ApplyRejected"),
     "Reconciling": ("False", "ApplyRejected"), "Stalled": ("True", "ApplyRejected")}, "Failed"),
    (st.Observed(3, 1, apply_error="timeout"), {"Ready": ("False", "Retrying"), "Reconciling": ("True", "Retrying"),
                                               "Stalled": ("False", "Retrying")}, "InProgress"),
    (st.Observed(3, 1, required_missing=["ServiceMonitor"], daemonset=_ds(1, 1, 1)),
     {"Ready": ("False", "MissingCRD"), "Reconciling": ("False", "MissingCRD"), "Stalled": ("True", "MissingCRD")},
     "Failed"),
    (st.Observed(3, 1, daemonset=_ds(0, 0, 0)), {"Ready": ("True", "Ready"), "Reconciling": ("False", "Ready"),
                                                "Stalled": ("False", "Ready")}, "Current"),
])
def test_conditions(obs: st.Observed, expected: dict[str, tuple[str, str]], kstat: str) -> None:
    status = st.compute(obs, None)
    assert _conds(status) == expected
    assert status["observedGeneration"] == 3
    assert kstatus({"metadata": {"generation": 3}, "status": status}) == kstat


def test_agents_and_summary() -> None:
    status = st.compute(st.Observed(1, 4, daemonset=_ds(5, 3, 4)), None)
    assert status["agents"] == {"desired": 5, "ready": 3, "updated": 4, "available": 3}
    assert status["agentsReady"] == "3/5" and status["groups"] == 4


def test_skipped_children_are_named_in_ready_message() -> None:
    status = st.compute(st.Observed(1, 1, skipped=["ServiceMonitor skipped: CRD x is not installed"],
                                    daemonset=_ds(1, 1, 1)), None)
    ready = next(x for x in status["conditions"] if x["type"] == "Ready")
    assert ready["status"] == "True" and "ServiceMonitor skipped" in ready["message"]


def test_transition_time_kept_while_status_unchanged() -> None:
    old = st.compute(st.Observed(1, 1, daemonset=_ds(1, 1, 1)), None)
    for cond in old["conditions"]:
        cond["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    again = st.compute(st.Observed(1, 1, daemonset=_ds(1, 1, 1)), old)
    assert st.same(again, old)
    flipped = st.compute(st.Observed(1, 1, daemonset=_ds(2, 1, 2)), old)
    times = {x["type"]: x["lastTransitionTime"] for x in flipped["conditions"]}
    assert times["Ready"] != "2020-01-01T00:00:00Z" and times["Stalled"] == "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(("a", "b", "equal"), [
    ("500m", "0.5", True), ("1Gi", "1024Mi", True), ("128Mi", "128Mi", True), ("1", "1000m", True),
    ("100m", "0.2", False), ("abc", "abc", True), ("abc", "abd", False),
])
def test_quantity_aware_compare(a: str, b: str, equal: bool) -> None:
    assert contains({"cpu": a}, {"cpu": b}) is equal


def test_contains_semantics() -> None:
    desired = {"a": {"b": 1}, "l": [{"x": 1}], "s": "v"}
    assert contains(desired, {"a": {"b": 1, "extra": 2}, "l": [{"x": 1, "defaulted": True}], "s": "v", "z": 0})
    assert not contains(desired, {"a": {"b": 2}, "l": [{"x": 1}], "s": "v"})
    assert not contains(desired, {"a": {"b": 1}, "l": [{"x": 1}, {"x": 2}], "s": "v"})
    assert not contains(desired, {"a": {"b": 1}, "l": [{"x": 1}]})
    assert not contains({"n": 1}, {"n": "1"})
    assert not contains({"b": True}, {"b": 1})
    assert quantity("1e3") == 1000 and quantity("x1") is None
