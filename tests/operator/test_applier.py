"""Applier decisions (pure logic, with a recording stand-in for the API; the real API is in the cluster tests):
write only when the live child lacks this manifest's digest or differs from it."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from process_monitor_operator.k8s.api import child_key
from process_monitor_operator.k8s.applier import Applier
from process_monitor_operator.render import RenderOptions, render_all


class RecordingApi:
    """Stores objects like an API server would (resourceVersion bump on change); counts calls."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.calls: list[str] = []
        self.rv = 100

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append("get")
        obj = self.objects.get((api_version, kind, namespace, name))
        return copy.deepcopy(obj) if obj else None

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("apply")
        self.rv += 1
        obj = copy.deepcopy(manifest)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        obj["metadata"]["uid"] = "u-" + manifest["metadata"]["name"]
        obj.setdefault("status", {})
        self.objects[child_key(obj)] = obj
        return copy.deepcopy(obj)


PM = {"apiVersion": "monitoring.process-monitor.dev/v1alpha1", "kind": "ProcessMonitor",
      "metadata": {"name": "a", "namespace": "ns", "uid": "pm-uid"},
      "spec": {"processNames": [{"name": "{{.Comm}}", "cmdline": [".+"]}]}}


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_second_pass_writes_nothing_and_reads_nothing() -> None:
    api = RecordingApi()
    applier = Applier(api)  # type: ignore[arg-type]
    manifests = render_all(PM, RenderOptions(available_apis=frozenset()))

    async def ensure_all() -> list[bool]:
        return [(await applier.ensure(copy.deepcopy(m))).written for m in manifests]

    assert all(_run(ensure_all()))
    api.calls.clear()
    assert not any(_run(ensure_all()))
    assert api.calls == []


def test_new_process_monitor_adopts_existing_children_without_writes() -> None:
    """After an operator restart (empty cache) a live child with the same digest is not rewritten."""
    api = RecordingApi()
    manifests = render_all(PM, RenderOptions(available_apis=frozenset()))
    for m in manifests:
        _run(Applier(api).ensure(copy.deepcopy(m)))  # type: ignore[arg-type]
    api.calls.clear()
    fresh = Applier(api)  # type: ignore[arg-type]
    for m in manifests:
        assert not _run(fresh.ensure(copy.deepcopy(m))).written
    assert set(api.calls) == {"get"}


def test_drift_and_spec_changes_are_written() -> None:
    api = RecordingApi()
    applier = Applier(api)  # type: ignore[arg-type]
    cm = next(m for m in render_all(PM, RenderOptions()) if m["kind"] == "ConfigMap")
    _run(applier.ensure(copy.deepcopy(cm)))
    # Someone edits the live object (seen through the watch): written again.
    live = copy.deepcopy(api.objects[child_key(cm)])
    live["data"]["config.yaml"] = "process_names: []\n"
    live["metadata"]["resourceVersion"] = "999"
    applier.observe(live)
    assert _run(applier.ensure(copy.deepcopy(cm))).written
    # A field removed from the desired state changes the digest: written, so SSA drops the field.
    pm = copy.deepcopy(PM)
    pm["spec"]["processNames"] = [{"comm": ["x"]}]
    cm2 = next(m for m in render_all(pm, RenderOptions()) if m["kind"] == "ConfigMap")
    assert _run(applier.ensure(cm2)).written


def test_late_watch_event_does_not_replace_newer_response() -> None:
    api = RecordingApi()
    applier = Applier(api)  # type: ignore[arg-type]
    cm = next(m for m in render_all(PM, RenderOptions()) if m["kind"] == "ConfigMap")
    new = _run(applier.ensure(copy.deepcopy(cm))).live
    old = copy.deepcopy(new)
    old["metadata"]["resourceVersion"] = "1"
    old["data"] = {}
    applier.observe(old)
    assert applier.cache[child_key(cm)]["data"] == new["data"]
    applier.observe(new, deleted=True)
    assert child_key(cm) not in applier.cache
