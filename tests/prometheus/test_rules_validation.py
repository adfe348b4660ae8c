"""Pure unit tests of `spec.alerts` validation and rule scoping (no promtool needed)."""

from __future__ import annotations

import copy

import pytest
import yaml
from process_monitor_operator.monitoring import rules
from process_monitor_operator.render import RenderOptions, render_all, skipped
from process_monitor_operator.spec import load
from process_monitor_operator.validation import validate


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        ({"rules": [{"cpuPercent": {"above": "lots"}}]}, "spec.alerts.rules[0].cpuPercent.above: must be a number"),
        ({"rules": [{"cpuPercent": {"above": 80, "for": "5 minutes"}}]}, "rules[0].cpuPercent.for: '5 minutes'"),
        ({"rules": [{"residentMemory": {"above": "2 gigs"}}]}, "rules[0].residentMemory.above: '2 gigs' is not"),
        ({"rules": [{"fdRatio": {"above": 80}}]}, "rules[0].fdRatio.above: must be a number > 0 and <= 1"),
        ({"rules": [{"minProcesses": {"count": 0}}]}, "rules[0].minProcesses.count: must be an integer >= 1"),
        ({"rules": [{"groupnameRegex": "(", "cpuPercent": {"above": 1}}]}, "rules[0].groupnameRegex: invalid"),
        ({"rules": [{"groupnames": ["x"]}]}, "rules[0]: names no check"),
        ({"rules": [{"cpu": {"above": 1}}]}, "rules[0]: unknown field(s) cpu"),
        ({"rules": [{"restarted": {"for": "5m"}}]}, "rules[0].restarted.for: not used"),
        ({"selector": "job=foo"}, "spec.alerts.selector: must be PromQL label matchers"),
        ({"alertLabels": {"bad-name": "x"}}, "'bad-name' is not a valid Prometheus label name"),
        ({"rules": {"cpuPercent": {}}}, "spec.alerts.rules: must be a list"),
    ],
)
def test_invalid_alerts_name_the_field(alerts: dict, expected: str) -> None:
    with pytest.raises(rules.AlertsSpecError) as exc:
        rules.rule_groups(alerts, "web", "prod")
    assert any(expected in p for p in exc.value.problems), exc.value.problems


def test_all_problems_reported_at_once() -> None:
    problems = rules.validate_alerts({"rules": [{"cpuPercent": {"above": -1}}, {"fdRatio": {"above": 2}}]})
    assert len(problems) == 2


def test_quantities() -> None:
    assert rules.parse_quantity("512Mi") == 512 * 2**20
    assert rules.parse_quantity("2G") == 2 * 10**9
    assert rules.parse_quantity(1024) == 1024
    for bad in ("", "-1", "1Gb", True, 0):
        with pytest.raises(ValueError):
            rules.parse_quantity(bad)


def test_group_names_are_quoted_for_promql_and_re2() -> None:
    text = rules.rules_file_text(
        {"rules": [{"groupnames": ['a.b "c"', "x$1"], "minProcesses": {}}]}, "web", "prod")
    doc = yaml.safe_load(text)
    expr = doc["groups"][1]["rules"][1]["expr"]
    assert r'groupname=~"a\\.b \"c\"|x\\$1"' in expr
    # label_replace replacement is literal apart from $-expansion, which is escaped.
    assert r'"groupname", "x$$1"' in expr


def test_scope_and_custom_selector() -> None:
    default = yaml.safe_load(rules.rules_file_text({}, "web", "prod"))
    assert all('namespace="prod",processmonitor="web"' in r["expr"] for g in default["groups"] for r in g["rules"])
    custom = yaml.safe_load(rules.rules_file_text({"selector": 'job="pe"'}, "web", "prod"))
    assert all('{job="pe"' in r["expr"] for g in custom["groups"] for r in g["rules"])


def _kinds(pm: dict, **options: object) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for m in render_all(pm, RenderOptions(**options)):
        out.setdefault(m["kind"], []).append(m)
    return out


PM = {"apiVersion": "monitoring.process-monitor.dev/v1alpha1", "kind": "ProcessMonitor",
      "metadata": {"name": "web", "namespace": "prod"},
      "spec": {"processNames": [{"comm": ["nginx"]}],
               "alerts": {"ruleLabels": {"release": "kps", "app.kubernetes.io/managed-by": "me"},
                          "rules": [{"cpuPercent": {"above": 80}}]}}}


def test_prometheusrule_child() -> None:
    [obj] = _kinds(PM)["PrometheusRule"]
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    labels = obj["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "process-monitor-operator"  # ours win over ruleLabels
    assert labels["release"] == "kps"
    assert obj["spec"]["groups"] == rules.rule_groups(PM["spec"]["alerts"], "web", "prod")


def test_prometheusrule_skipped_without_crd_or_when_disabled() -> None:
    without = RenderOptions(available_apis=frozenset())
    assert "PrometheusRule" not in _kinds(PM, available_apis=frozenset())
    assert any("PrometheusRule skipped" in m and "render --rules" in m for m in skipped(PM, without))
    off = copy.deepcopy(PM)
    off["spec"]["alerts"]["enabled"] = False
    assert "PrometheusRule" not in _kinds(off)
    assert not any("PrometheusRule" in m for m in skipped(off, without))


def test_invalid_alerts_are_validation_problems() -> None:
    bad = copy.deepcopy(PM)
    bad["spec"]["alerts"]["rules"][0]["cpuPercent"]["above"] = "hot"
    assert any("spec.alerts.rules[0].cpuPercent.above" in p for p in validate(load(bad)))
