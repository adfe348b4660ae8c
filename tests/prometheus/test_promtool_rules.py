"""promtool checks of the rules we render: `promtool check rules` on the output, and `promtool test rules` unit
tests in which every alert both fires (over its threshold, long enough, for the right group and target) and stays
silent (under its threshold, before its `for`, for a group with its own threshold, for another ProcessMonitor)."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
import yaml
from process_monitor_operator.monitoring import rules

pytestmark = pytest.mark.prometheus

SPEC = {
    "alertLabels": {"team": "infra"},
    "rules": [
        {   # catch-all: every group without an entry of its own for the same check
            "cpuPercent": {"above": 80, "for": "2m"},
            "residentMemory": {"above": "1Gi", "for": "2m"},
            "fdRatio": {"above": 0.8, "for": "2m"},
            "minProcesses": {"count": 1, "for": "1m"},
        },
        {   # `db` runs hotter and needs two processes
            "groupnames": ["db"],
            "cpuPercent": {"above": 150, "for": "2m", "severity": "critical"},
            "minProcesses": {"count": 2, "for": "1m"},
            "restarted": {"within": "10m"},
        },
    ],
}

T = 'namespace="prod",processmonitor="web",job="process-monitor"'   # this ProcessMonitor's target labels
I1 = f'{T},instance="10.0.0.1:9256",node="n1"'
I2 = f'{T},instance="10.0.0.2:9256",node="n2"'
I3 = f'{T},instance="10.0.0.3:9256",node="n3"'
OTHER = 'namespace="prod",processmonitor="other",job="process-monitor",instance="10.0.0.1:9257",node="n1"'

INPUT = [
    # up: i1, i2 up; i3 down (AgentDown); the other ProcessMonitor's target is down too but is not ours.
    (f"up{{{I1}}}", "1x30"), (f"up{{{I2}}}", "1x30"), (f"up{{{I3}}}", "0x30"), (f"up{{{OTHER}}}", "0x30"),
    # CPU: hot 100 % of a core, cool 10 %, db 120 % (over the catch-all 80 but under its own 150).
    (f'namedprocess_namegroup_cpu_seconds_total{{{I1},groupname="hot",mode="user"}}', "0+54x30"),
    (f'namedprocess_namegroup_cpu_seconds_total{{{I1},groupname="hot",mode="system"}}', "0+6x30"),
    (f'namedprocess_namegroup_cpu_seconds_total{{{I1},groupname="cool",mode="user"}}', "0+6x30"),
    (f'namedprocess_namegroup_cpu_seconds_total{{{I1},groupname="cool",mode="system"}}', "0x30"),
    (f'namedprocess_namegroup_cpu_seconds_total{{{I1},groupname="db",mode="user"}}', "0+72x30"),
    (f'namedprocess_namegroup_cpu_seconds_total{{{I1},groupname="db",mode="system"}}', "0x30"),
    (f'namedprocess_namegroup_cpu_seconds_total{{{OTHER},groupname="hot",mode="user"}}', "0+60x30"),
    # memory: hot 2 GiB resident, cool 100 MiB.
    (f'namedprocess_namegroup_memory_bytes{{{I1},groupname="hot",memtype="resident"}}', "2147483648x30"),
    (f'namedprocess_namegroup_memory_bytes{{{I1},groupname="hot",memtype="virtual"}}', "8589934592x30"),
    (f'namedprocess_namegroup_memory_bytes{{{I1},groupname="cool",memtype="resident"}}', "104857600x30"),
    (f'namedprocess_namegroup_memory_bytes{{{OTHER},groupname="hot",memtype="resident"}}', "4294967296x30"),
    # fds: hot's fullest process at 90 % of its limit, cool at 50 %.
    (f'namedprocess_namegroup_worst_fd_ratio{{{I1},groupname="hot"}}', "0.9x30"),
    (f'namedprocess_namegroup_worst_fd_ratio{{{I1},groupname="cool"}}', "0.5x30"),
    # processes: hot 1, cool 0 (down), db 3 then 1 from minute 6; db has no series at all on i2.
    (f'namedprocess_namegroup_num_procs{{{I1},groupname="hot"}}', "1x30"),
    (f'namedprocess_namegroup_num_procs{{{I1},groupname="cool"}}', "0x30"),
    (f'namedprocess_namegroup_num_procs{{{I1},groupname="db"}}', "3x5 1x24"),
    (f'namedprocess_namegroup_num_procs{{{OTHER},groupname="cool"}}', "0x30"),
    # db restarts at minute 6 (its oldest process now started at t=1300 s); hot never restarts.
    (f'namedprocess_namegroup_oldest_start_time_seconds{{{I1},groupname="db"}}', "1000x5 1300x24"),
    (f'namedprocess_namegroup_oldest_start_time_seconds{{{I1},groupname="hot"}}', "500x30"),
]

WHERE = {"i1": "node n1", "i2": "node n2", "i3": "node n3"}
LBL = {
    "i1": {"namespace": "prod", "processmonitor": "web", "job": "process-monitor", "instance": "10.0.0.1:9256",
           "node": "n1"},
    "i2": {"namespace": "prod", "processmonitor": "web", "job": "process-monitor", "instance": "10.0.0.2:9256",
           "node": "n2"},
    "i3": {"namespace": "prod", "processmonitor": "web", "job": "process-monitor", "instance": "10.0.0.3:9256",
           "node": "n3"},
}


def alert(target: str, severity: str, summary: str, description: str, **labels: str) -> dict:
    return {
        "exp_labels": {**LBL[target], **labels, "severity": severity, "team": "infra"},
        "exp_annotations": {"summary": summary, "description": description},
    }


def too_few(target: str, group: str, count: int, value: int) -> dict:
    return alert(
        target, "critical",
        f"Process group {group} has fewer than {count} process(es) on {WHERE[target]}",
        f"Process group {group} on {WHERE[target]} (namespace prod) has {value} process(es), fewer than {count}, "
        f"for 1m.",
        groupname=group, threshold=str(count),
    )


TESTS = [
    # --- minute 10: everything that should fire, fires, and nothing else --------------------------------------
    {"eval_time": "10m", "alertname": "ProcessMonitorAgentDown", "exp_alerts": [alert(
        "i3", "warning",
        "process-monitor agent 10.0.0.3:9256 cannot be scraped (node n3)",
        "Prometheus has failed to scrape the process-monitor agent 10.0.0.3:9256 on node n3 (namespace prod) "
        "for 5m; process alerts for that node are blind.")]},
    {"eval_time": "10m", "alertname": "ProcessGroupHighCPU", "exp_alerts": [alert(
        "i1", "warning",
        "Process group hot uses more than 80% CPU on node n1",
        "Process group hot on node n1 (namespace prod) has used 100.0% of one CPU core for 2m (threshold 80%).",
        groupname="hot", threshold="80")]},
    {"eval_time": "10m", "alertname": "ProcessGroupHighMemory", "exp_alerts": [alert(
        "i1", "warning",
        "Process group hot uses more than 1Gi resident memory on node n1",
        "Process group hot on node n1 (namespace prod) has 2GiB resident memory, above 1Gi for 2m.",
        groupname="hot", threshold="1Gi")]},
    {"eval_time": "10m", "alertname": "ProcessGroupFdRatioHigh", "exp_alerts": [alert(
        "i1", "warning",
        "A process of group hot is running out of file descriptors on node n1",
        "The fullest process of group hot on node n1 (namespace prod) uses 90% of its open-files limit "
        "(threshold 80%) for 2m.",
        groupname="hot", threshold="0.8")]},
    {"eval_time": "10m", "alertname": "ProcessGroupTooFewProcesses", "exp_alerts": [
        too_few("i1", "cool", 1, 0),
        too_few("i1", "db", 2, 1),
        too_few("i2", "db", 2, 0),   # never seen on i2: synthesised from `up`
    ]},
    {"eval_time": "10m", "alertname": "ProcessGroupRestarted", "exp_alerts": [alert(
        "i1", "info",
        "Process group db restarted on node n1",
        "The oldest process of group db on node n1 (namespace prod) changed within the last 10m; it started at "
        "1970-01-01 00:21:40 +0000 UTC.",
        groupname="db")]},
    # --- early: `for` not yet elapsed, db still has 3 processes and its first start time ---------------------
    {"eval_time": "1m", "alertname": "ProcessGroupHighCPU", "exp_alerts": []},
    {"eval_time": "1m", "alertname": "ProcessGroupHighMemory", "exp_alerts": []},
    {"eval_time": "1m", "alertname": "ProcessGroupFdRatioHigh", "exp_alerts": []},
    {"eval_time": "3m", "alertname": "ProcessMonitorAgentDown", "exp_alerts": []},
    {"eval_time": "3m", "alertname": "ProcessGroupTooFewProcesses", "exp_alerts": [
        too_few("i1", "cool", 1, 0), too_few("i2", "db", 2, 0)]},
    {"eval_time": "3m", "alertname": "ProcessGroupRestarted", "exp_alerts": []},
    # --- late: the restart left the 10m window -------------------------------------------------------------
    {"eval_time": "20m", "alertname": "ProcessGroupRestarted", "exp_alerts": []},
]

PROMQL_TESTS = [
    {"eval_time": "10m", "expr": f'{rules.RECORD_CPU_PERCENT}{{groupname="hot",processmonitor="web"}}',
     "exp_samples": [{"labels": f'{rules.RECORD_CPU_PERCENT}{{{I1},groupname="hot"}}', "value": 100}]},
    {"eval_time": "10m", "expr": f'{rules.RECORD_CPU_PERCENT_BY_MODE}{{groupname="hot",mode="system"}}',
     "exp_samples": [{"labels": f'{rules.RECORD_CPU_PERCENT_BY_MODE}{{{I1},groupname="hot",mode="system"}}',
                      "value": 10}]},
    {"eval_time": "10m", "expr": f'{rules.RECORD_RESIDENT_BYTES}{{groupname="hot"}}',
     "exp_samples": [{"labels": f'{rules.RECORD_RESIDENT_BYTES}{{{I1},groupname="hot"}}', "value": 2147483648}]},
    {"eval_time": "10m", "expr": f'{rules.RECORD_VIRTUAL_BYTES}{{groupname="hot"}}',
     "exp_samples": [{"labels": f'{rules.RECORD_VIRTUAL_BYTES}{{{I1},groupname="hot"}}', "value": 8589934592}]},
    # The other ProcessMonitor's series are never recorded by our rules.
    {"eval_time": "10m", "expr": f'{rules.RECORD_CPU_PERCENT}{{processmonitor="other"}}', "exp_samples": []},
]


def _write_rules(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "process-monitor.rules.yaml"
    path.write_text(rules.rules_file_text(SPEC, "web", "prod"))
    return path


def test_promtool_check_rules(promtool: str, tmp_path: pathlib.Path) -> None:
    path = _write_rules(tmp_path)
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    # 4 recording rules + AgentDown + 2 CPU + memory + fd + 2 too-few + restarted
    assert "SUCCESS: 12 rules found" in out.stdout, out.stdout


def test_promtool_unit_tests(promtool: str, tmp_path: pathlib.Path) -> None:
    rules_path = _write_rules(tmp_path)
    test = {
        "rule_files": [rules_path.name],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in INPUT],
            "alert_rule_test": TESTS,
            "promql_expr_test": PROMQL_TESTS,
        }],
    }
    test_path = tmp_path / "test.yaml"
    test_path.write_text(yaml.safe_dump(test, sort_keys=False, width=1000))
    out = subprocess.run([promtool, "test", "rules", str(test_path)], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_is_tested() -> None:
    """Adding an alert to the renderer without promtool cases for it fails here."""
    fired = {t["alertname"] for t in TESTS if t["exp_alerts"]}
    silent = {t["alertname"] for t in TESTS if not t["exp_alerts"]}
    assert fired == set(rules.ALERT_NAMES.values())
    assert silent | {"ProcessGroupTooFewProcesses"} == set(rules.ALERT_NAMES.values())


def test_disabled_renders_nothing(promtool: str, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "off.yaml"
    path.write_text(rules.rules_file_text({"enabled": False}, "web", "prod"))
    assert yaml.safe_load(path.read_text()) == {"groups": []}
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
