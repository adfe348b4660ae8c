"""The ProcessMonitor status: observedGeneration, agents, groups and the Ready/Reconciling/Stalled conditions.

Pure: `compute(...)` builds the status from what the reconcile found; `conditions_equal` lets the reconciler skip
a write when nothing changed. The conditions follow kstatus (cli-utils) so kubectl wait, Flux and Argo CD (with the
health check in docs/argocd-health.md) read them correctly:
- spec invalid, apply rejected, a requested CRD missing, or the agent pods rejected at admission (e.g. Pod Security
  `baseline`/`restricted` enforced on the namespace: the agent needs hostPID) -> Stalled=True (kstatus: Failed),
  Ready=False;
- children applied, agents rolling out (or a transient API error) -> Reconciling=True (InProgress), Ready=False;
- everything applied and every desired agent updated and ready -> Ready=True, Reconciling=False, Stalled=False.
`observedGeneration` is the ProcessMonitor generation this status describes. Called by `reconcile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Observed:
    """What one reconcile found, the input of `compute`."""

    generation: int | None
    groups: int
    problems: list[str] = field(default_factory=list)
    apply_error: str | None = None
    apply_error_permanent: bool = False
    skipped: list[str] = field(default_factory=list)
    required_missing: list[str] = field(default_factory=list)
    daemonset: dict[str, Any] | None = None
    pods_rejected: str | None = None  # the admission message of the DaemonSet's last FailedCreate Event


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def agents(daemonset: dict[str, Any] | None) -> dict[str, int]:
    st = (daemonset or {}).get("status") or {}
    return {
        "desired": int(st.get("desiredNumberScheduled") or 0),
        "ready": int(st.get("numberReady") or 0),
        "updated": int(st.get("updatedNumberScheduled") or 0),
        "available": int(st.get("numberAvailable") or 0),
    }


def rollout_done(daemonset: dict[str, Any] | None) -> tuple[bool, str]:
    """(done, message) of the DaemonSet rollout, judged as `kubectl rollout status` does."""
    if daemonset is None:
        return False, "agent DaemonSet not created yet"
    generation = (daemonset.get("metadata") or {}).get("generation")
    st = daemonset.get("status") or {}
    a = agents(daemonset)
    if generation is not None and st.get("observedGeneration", 0) < generation:
        return False, "waiting for the DaemonSet controller to observe the new agent spec"
    if a["updated"] < a["desired"]:
        return False, f"{a['updated']}/{a['desired']} agents updated"
    if a["ready"] < a["desired"] or a["available"] < a["desired"]:
        return False, f"{a['ready']}/{a['desired']} agents ready"
    return True, f"{a['ready']}/{a['desired']} agents ready"


def missing_pods(daemonset: dict[str, Any] | None) -> bool:
    """Whether the DaemonSet wants pods it has not managed to create (the case admission rejections produce)."""
    st = (daemonset or {}).get("status") or {}
    return int(st.get("currentNumberScheduled") or 0) < int(st.get("desiredNumberScheduled") or 0)


def _condition(type_: str, status: bool, reason: str, message: str, generation: int | None) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": type_, "status": "True" if status else "False", "reason": reason,
                            "message": message}
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def compute(obs: Observed, old: dict[str, Any] | None) -> dict[str, Any]:
    """The full status for `obs`; lastTransitionTime is kept from `old` for conditions whose status is unchanged."""
    gen = obs.generation
    notes = "; ".join(obs.skipped)
    if obs.problems:
        msg = "invalid spec, nothing applied, previous agents keep running: " + "; ".join(obs.problems)
        stalled, reconciling, ready = (True, "InvalidSpec", msg), (False, "InvalidSpec", msg), (
            False, "InvalidSpec", msg)
    elif obs.apply_error and obs.apply_error_permanent:
        msg = f"the API server rejected a child: {obs.apply_error}"
        stalled, reconciling, ready = (True, "ApplyRejected", msg), (False, "ApplyRejected", msg), (
            False, "ApplyRejected", msg)
    elif obs.apply_error:
        msg = f"applying children failed, retrying: {obs.apply_error}"
        stalled, reconciling, ready = (False, "Retrying", msg), (True, "Retrying", msg), (False, "Retrying", msg)
    elif obs.required_missing:
        kinds = ", ".join(obs.required_missing)
        msg = f"{kinds} requested (mode on) but its CRD is not installed; other children applied. {notes}".strip()
        stalled, reconciling, ready = (True, "MissingCRD", msg), (False, "MissingCRD", msg), (False, "MissingCRD", msg)
    elif obs.pods_rejected:
        msg = f"agent pods rejected: {obs.pods_rejected}"
        stalled, reconciling, ready = (True, "PodsRejected", msg), (False, "PodsRejected", msg), (
            False, "PodsRejected", msg)
    else:
        done, rollout = rollout_done(obs.daemonset)
        msg = f"{rollout}; {notes}" if notes else rollout
        if done:
            stalled, reconciling, ready = (False, "Ready", msg), (False, "Ready", msg), (True, "Ready", msg)
        else:
            stalled, reconciling, ready = (False, "Progressing", msg), (True, "Progressing", msg), (
                False, "Progressing", msg)
    conditions = [
        _condition("Ready", *ready, gen),
        _condition("Reconciling", *reconciling, gen),
        _condition("Stalled", *stalled, gen),
    ]
    old_by_type = {x.get("type"): x for x in (old or {}).get("conditions") or []}
    for cond in conditions:
        prev = old_by_type.get(cond["type"])
        cond["lastTransitionTime"] = (prev.get("lastTransitionTime") if prev and prev.get("status") == cond["status"]
                                      else None) or now_iso()
    a = agents(obs.daemonset)
    status: dict[str, Any] = {
        "groups": obs.groups,
        "agents": a,
        "agentsReady": f"{a['ready']}/{a['desired']}",
        "conditions": conditions,
    }
    if gen is not None:
        status["observedGeneration"] = gen
    return status


def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Whether two statuses say the same (ignoring fields the operator does not write, e.g. kopf's)."""
    keys = ("observedGeneration", "groups", "agents", "agentsReady", "conditions")
    return all((a or {}).get(k) == (b or {}).get(k) for k in keys)


def stalled_message(status: dict[str, Any] | None) -> str | None:
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == "Stalled" and cond.get("status") == "True":
            return str(cond.get("message", ""))
    return None
