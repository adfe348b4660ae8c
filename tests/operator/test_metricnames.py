"""Every metric name the dashboard and the alert rules use is one the agent (or the operator) really exposes.

`agent_metric` checks names against the agent's declarations (export/families.BY_NAME, export/process.ALL);
here the agent's own metrics the dashboard reads are also looked up in a real agent exposition:
the collector over the fake /proc tree tests/fixtures/procfs-golden, and the GPU monitor's own writer (NVML is
absent hardware here: the monitor's state is a stand-in, the writer is the agent's)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from process_monitor_agent.collector import Collector
from process_monitor_agent.config import load_config
from process_monitor_agent.gpu.monitor import GpuMonitor
from process_monitor_agent.track import Settings
from process_monitor_operator.metrics import FAMILIES
from process_monitor_operator.monitoring import dashboard, panels, rules
from process_monitor_operator.monitoring.metricnames import UnknownMetric, agent_metric, operator_metric

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def _names(text: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def test_unknown_names_raise() -> None:
    assert agent_metric("namedprocess_namegroup_num_procs") == "namedprocess_namegroup_num_procs"
    assert agent_metric("namedprocess_namegroup_gpu_memory_bytes") == "namedprocess_namegroup_gpu_memory_bytes"
    with pytest.raises(UnknownMetric):
        agent_metric("namedprocess_namegroup_num_proc")
    with pytest.raises(UnknownMetric):
        agent_metric("process_monitor_operator_reconciles_total")  # an operator metric, not the agent's
    assert operator_metric(FAMILIES[0].name) == FAMILIES[0].name
    with pytest.raises(UnknownMetric):
        operator_metric("process_monitor_operator_reconciles")


def test_agent_own_names_are_in_a_real_agent_exposition() -> None:
    collector = Collector(Settings(procfs=str(FIX / "procfs-golden")), load_config(str(FIX / "golden-config.yaml")))
    collector.collect()
    exposed = _names(collector.collect().decode())
    out: list[str] = []
    state = SimpleNamespace(sample=SimpleNamespace(ok=True, devices=[]), ignored=0, tracked=0, last_duration=0.0,
                            errors={"timeout": 1})
    GpuMonitor.write_own(state, out)  # type: ignore[arg-type]
    exposed |= _names("".join(line if line.endswith("\n") else line + "\n" for line in out))
    read = {v for k, v in vars(panels).items() if k.isupper() and isinstance(v, str) and v.startswith("process_")}
    assert {"process_monitor_agent_gpu_up", "process_cpu_seconds_total"} <= read
    missing = read - exposed
    assert not missing, f"the dashboard reads agent metrics the agent does not expose: {sorted(missing)}"


def test_dashboard_and_rules_read_only_declared_agent_metrics() -> None:
    """Every metric a query names is declared (or one of ours: recording rules and `up`)."""
    ours = {rules.RECORD_CPU_PERCENT, rules.RECORD_CPU_PERCENT_BY_MODE, rules.RECORD_RESIDENT_BYTES,
            rules.RECORD_VIRTUAL_BYTES, "up"}
    alerts = {"rules": [{"cpuPercent": {"above": 1}, "residentMemory": {"above": "1Gi"}, "fdRatio": {"above": 0.5},
                         "minProcesses": {"count": 1}, "restarted": {}, "groupnames": ["a"]}]}
    exprs = [e for _, e in dashboard.panel_queries(dashboard.dashboard(gpu=True, kube_labels=True))]
    exprs += [e for _, e in dashboard.panel_queries(dashboard.dashboard(gpu=True))]
    exprs += [r["expr"] for g in rules.rule_groups(alerts, "n", "ns") for r in g["rules"]]
    words = {w for e in exprs for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\{|\[| and| >| <|\))", e)}
    metrics = {w for w in words if w.startswith(("namedprocess_", "process_")) or w in ours}
    assert metrics >= {"namedprocess_namegroup_num_procs", "process_monitor_agent_gpu_up", "up"}
    for name in metrics - ours:
        agent_metric(name)
