"""Prometheus recording and alerting rules for one ProcessMonitor (pure functions, no I/O).

Called by the renderer (render/prometheusrule.py, when prometheus-operator's CRD exists), by the user CLI
(`process-monitor render --rules -f FILE`, a plain Prometheus rules file for servers without the operator) and by
validation.py (through monitoring/alerts.py, spec.alerts problems).
Both outputs come from `rule_groups()`, so they never disagree.

Every expression is scoped to this ProcessMonitor's targets by a label selector (default
`namespace="<ns>",processmonitor="<name>"`; the ServiceMonitor, PodMonitor and the documented kubernetes_sd job
all attach those labels), so two ProcessMonitors never evaluate each other's series and their recording rules never
produce the same output series twice.

The user-facing section is `spec.alerts` (see docs/prometheus.md):

    alerts:
      enabled: true                 # render rules at all (default true)
      selector: ''                  # PromQL label matchers replacing the default scope
      ruleLabels: {release: kps}    # labels on the PrometheusRule object (kube-prometheus-stack's ruleSelector)
      alertLabels: {team: infra}    # labels added to every alert
      runbookURL: https://...       # annotation runbook_url on every alert
      agentDown: {enabled: true, for: 5m, severity: warning}
      rules:                        # one entry per set of process groups
        - groupnames: [nginx]       # exact names; with groupnameRegex too, either matches
          groupnameRegex: 'php-.*'  # RE2, anchored as Prometheus anchors it
          # neither given: every group not named by another entry for the same check
          cpuPercent: {above: 80, for: 5m, severity: warning}       # percent of one core
          residentMemory: {above: 2Gi, for: 5m, severity: warning} # bytes or a Kubernetes quantity
          fdRatio: {above: 0.8, for: 5m, severity: warning}         # worst_fd_ratio, 0..1
          minProcesses: {count: 1, for: 1m, severity: critical}     # fewer than count = down
          restarted: {within: 10m, severity: info}                  # oldest_start_time moved
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from ..constants import SCOPE_LABEL, SCOPE_NAMESPACE_LABEL
from .alerts import ALERT_NAMES, CHECKS, AlertsSpecError, agent_down_alert, check_alert, validate_alerts
from .promql import parse_quantity, promql_string, re2_escape
from .recording import (
    RECORD_CPU_PERCENT,
    RECORD_CPU_PERCENT_BY_MODE,
    RECORD_RESIDENT_BYTES,
    RECORD_VIRTUAL_BYTES,
    recording_rules,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

# What users of the rules (the CLI, tests) read from here; each lives in the module named in the import above.
__all__ = ["ALERT_NAMES", "RECORD_CPU_PERCENT", "RECORD_CPU_PERCENT_BY_MODE", "RECORD_RESIDENT_BYTES",
           "RECORD_VIRTUAL_BYTES", "SCOPE_LABEL", "SCOPE_NAMESPACE_LABEL", "AlertsSpecError", "default_selector",
           "parse_quantity", "rule_groups", "rules_file_text", "rules_file_text_from_groups", "validate_alerts"]


def default_selector(name: str, namespace: str, kube_labels: bool = False) -> str:
    ns_label = SCOPE_NAMESPACE_LABEL if kube_labels else "namespace"
    return f"{ns_label}={promql_string(namespace)},{SCOPE_LABEL}={promql_string(name)}"


def _group_filter(entry: Mapping[str, Any]) -> str | None:
    """The RE2 pattern (anchored by Prometheus) an entry selects, or None for 'every other group'."""
    parts = [re2_escape(n) for n in entry.get("groupnames") or []]
    if entry.get("groupnameRegex"):
        parts.append(entry["groupnameRegex"])
    return "|".join(parts) if parts else None


def _selector(scope: str, pattern: str | None, exclude: list[str]) -> str:
    matchers = [scope] if scope else []
    if pattern is not None:
        matchers.append(f"groupname=~{promql_string(pattern)}")
    elif exclude:
        matchers.append(f"groupname!~{promql_string('|'.join(exclude))}")
    return "{" + ",".join(matchers) + "}"


def _check_rules(entries: list[Mapping[str, Any]], scope: str, labels: Mapping[str, str],
                 runbook: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for check in CHECKS:
        # Groups named by some entry for this check are left out of that check's catch-all entries, so a
        # per-group threshold overrides the default instead of firing twice.
        named = [p for e in entries if check.key in e and (p := _group_filter(e)) is not None]
        for entry in entries:
            if check.key not in entry:
                continue
            pattern = _group_filter(entry)
            sel = _selector(scope, pattern, [] if pattern is not None else named)
            rules.append(check_alert(check, entry[check.key], sel, scope, entry, labels, runbook))
    return rules


def rule_groups(
    alerts: Mapping[str, Any] | None, name: str, namespace: str, kube_labels: bool = False
) -> list[dict[str, Any]]:
    """Prometheus rule groups (the `groups:` list of a rules file) for ProcessMonitor `namespace/name`.
    `kube_labels`: spec.kubernetes.labels is on (the default scope then matches processmonitor_namespace).

    Raises AlertsSpecError listing every problem when `alerts` (the `spec.alerts` value) is invalid.
    Returns [] when alerts are disabled.
    """
    alerts = alerts or {}
    problems = validate_alerts(alerts)
    if problems:
        raise AlertsSpecError(problems)
    if alerts.get("enabled", True) is False:
        return []
    scope = alerts.get("selector") or default_selector(name, namespace, kube_labels)
    labels = dict(alerts.get("alertLabels") or {})
    runbook = alerts.get("runbookURL", "")
    base = f"process-monitor.{namespace}.{name}"
    rules: list[dict[str, Any]] = []
    agent_down = alerts.get("agentDown") or {}
    if agent_down.get("enabled", True):
        rules.append(agent_down_alert(agent_down, scope, labels, runbook))
    rules += _check_rules(alerts.get("rules") or [], scope, labels, runbook)
    groups = [{"name": f"{base}.recording", "rules": recording_rules(scope)}]
    if rules:
        groups.append({"name": f"{base}.alerts", "rules": rules})
    return groups


def rules_file_text(alerts: Mapping[str, Any] | None, name: str, namespace: str, kube_labels: bool = False) -> str:
    """A plain Prometheus rules file (YAML text) for `rule_files:` of a Prometheus without the operator."""
    return rules_file_text_from_groups(rule_groups(alerts, name, namespace, kube_labels))


def rules_file_text_from_groups(groups: list[dict[str, Any]]) -> str:
    doc = {"groups": groups}
    return yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, width=1000,
                     allow_unicode=True)


class _BlockDumper(yaml.SafeDumper):
    """SafeDumper writing multi-line strings (long PromQL) as `|` blocks, so a reviewer can read them."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_representer)
