"""Pure unit tests of `spec.alerts` validation and rule scoping (no promtool needed)."""

from __future__ import annotations

import pytest
import yaml
from process_monitor_operator.render import rules


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


def test_prometheusrule_manifest() -> None:
    pm = {"metadata": {"name": "web", "namespace": "prod"},
          "spec": {"alerts": {"ruleLabels": {"release": "kps", "app.kubernetes.io/managed-by": "me"}}}}
    obj = rules.render_prometheusrule(pm, {"app.kubernetes.io/managed-by": "process-monitor-operator"})
    assert obj is not None
    assert obj["kind"] == "PrometheusRule" and obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "process-monitor-operator", "release": "kps"}
    assert obj["spec"]["groups"] == rules.rule_groups(pm["spec"]["alerts"], "web", "prod")
    assert rules.render_prometheusrule({"metadata": {"name": "w", "namespace": "n"},
                                        "spec": {"alerts": {"enabled": False}}}, {}) is None
