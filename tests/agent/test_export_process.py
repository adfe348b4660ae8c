"""The agent's process_*/python_* families (export/process.py) against prometheus_client's own collectors.

The agent reads these ten families itself (prometheus_client costs it +7.4 MiB peak RSS: README "Dependencies"),
so the library is the reference here: ProcessCollector, PlatformCollector and GCCollector run in this test
process, and the agent's StandardMetrics, reading the same process, must serve the same families (name, help,
type, label names) with values that agree. Values are read before and after ours where they can move.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from process_monitor_agent.export import process
from process_monitor_agent.export.textformat import Family
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.parser import text_string_to_metric_families

if not os.path.exists("/proc/self/stat"):
    pytest.skip("needs Linux /proc", allow_module_level=True)


def _reference() -> dict[str, Any]:
    reg = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=reg)
    PlatformCollector(registry=reg)
    GCCollector(registry=reg)
    return {f.name: f for f in text_string_to_metric_families(generate_latest(reg).decode())}


def _ours() -> dict[str, Any]:
    out: list[str] = []
    process.StandardMetrics().write(out)
    return {f.name: f for f in text_string_to_metric_families("".join(out))}


def _value(families: dict[str, Any], name: str, labels: dict[str, str] | None = None) -> float:
    # the parser strips _total from counter family names; samples keep the full name
    fam = families[name.removesuffix("_total")]
    [v] = [s.value for s in fam.samples if s.name == name and (labels is None or s.labels == labels)]
    return v


def test_every_declared_family_is_the_reference_family() -> None:
    ref, ours = _reference(), _ours()
    declared = {f.name.removesuffix("_total"): f for f in process.ALL}
    assert set(declared) == set(ours), "StandardMetrics writes exactly the declared families"
    assert set(declared) == set(ref), "and prometheus_client serves exactly these"
    for name, fam in declared.items():
        assert isinstance(fam, Family)
        assert (ours[name].type, ours[name].documentation) == (ref[name].type, ref[name].documentation), name
        assert (fam.kind, fam.help) == (ref[name].type, ref[name].documentation), name
        label_sets = {tuple(sorted(s.labels)) for s in ref[name].samples if s.name == fam.name}
        assert label_sets == {tuple(sorted(fam.labels))}, name
        assert {tuple(sorted(s.labels)) for s in ours[name].samples} == label_sets, name


def test_values_agree_with_the_reference() -> None:
    before = _reference()
    ours = _ours()
    after = _reference()

    def between(name: str, labels: dict[str, str] | None = None, slack: float = 0.0) -> None:
        lo, hi = _value(before, name, labels), _value(after, name, labels)
        assert lo - slack <= _value(ours, name, labels) <= hi + slack, (name, labels, lo, hi)

    between("process_cpu_seconds_total", slack=0.011)  # both round to clock ticks (100 Hz)
    between("process_start_time_seconds", slack=0.011)
    assert _value(ours, "process_max_fds") == _value(before, "process_max_fds")
    # prometheus_client lists fd/ (one more fd open while it lists); ours takes the count from one stat()
    assert abs(_value(ours, "process_open_fds") - _value(before, "process_open_fds")) <= 2
    # allocations between the reads move memory a little; a wrong unit (pages vs bytes) is off by 4096x
    for name in ("process_resident_memory_bytes", "process_virtual_memory_bytes"):
        assert _value(ours, name) == pytest.approx(_value(before, name), rel=0.25), name
    for gen in ("0", "1", "2"):
        between("python_gc_collections_total", {"generation": gen})
        between("python_gc_objects_collected_total", {"generation": gen})
    [info] = before["python_info"].samples
    assert [s.labels for s in ours["python_info"].samples] == [info.labels]
