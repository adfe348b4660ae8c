"""Prometheus recording and alerting rules for one ProcessMonitor (pure functions, no I/O).

Called by the renderer (render/prometheusrule.py, when prometheus-operator's CRD exists), by the user CLI
(`process-monitor render --rules -f FILE`, a plain Prometheus rules file for servers without the operator) and by
validation.py (spec.alerts problems).
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

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

# Recording rules. Names follow Prometheus' level:metric:operations convention; the dashboard and the alerts
# read these, so renaming one is a breaking change (dashboards/process-monitor.json uses them).
RATE_WINDOW = "2m"  # >= 4 scrapes at the default 30 s interval, so rate() never sees fewer than 2 samples.
RECORD_CPU_PERCENT = "namedprocess_namegroup:cpu_percent:rate2m"
RECORD_CPU_PERCENT_BY_MODE = "namedprocess_namegroup:cpu_percent_by_mode:rate2m"
RECORD_RESIDENT_BYTES = "namedprocess_namegroup:memory_resident_bytes"
RECORD_VIRTUAL_BYTES = "namedprocess_namegroup:memory_virtual_bytes"

SCOPE_LABEL = "processmonitor"  # target label naming the ProcessMonitor, set by every discovery path we ship
# With spec.kubernetes.labels, `namespace` is the workload's (cAdvisor's meaning); the target carries the
# ProcessMonitor's namespace under this name instead (render/kubernetes.py) and the default scope uses it.
SCOPE_NAMESPACE_LABEL = "processmonitor_namespace"

DEFAULT_FOR = "5m"
CHECKS = ("cpuPercent", "residentMemory", "fdRatio", "minProcesses", "restarted")
DEFAULT_SEVERITY = {
    "cpuPercent": "warning",
    "residentMemory": "warning",
    "fdRatio": "warning",
    "minProcesses": "critical",
    "restarted": "info",
    "agentDown": "warning",
}
ALERT_NAMES = {
    "cpuPercent": "ProcessGroupHighCPU",
    "residentMemory": "ProcessGroupHighMemory",
    "fdRatio": "ProcessGroupFdRatioHigh",
    "minProcesses": "ProcessGroupTooFewProcesses",
    "restarted": "ProcessGroupRestarted",
    "agentDown": "ProcessMonitorAgentDown",
}

# Prometheus' duration syntax (model.ParseDuration), units in descending order, at least one.
_DURATION = re.compile(r"^(?!$)((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGTPE]i|[kKMGTPE])?$")
_QUANTITY_FACTOR = {
    None: 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
# One PromQL label matcher: name, operator, double-quoted string (escapes allowed).
_MATCHER = re.compile(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*')
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RE2_META = set("\\.+*?()|[]{}^$")


class AlertsSpecError(ValueError):
    """`spec.alerts` is invalid; `problems` lists every problem as 'path: message' lines for the user."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid spec.alerts: " + "; ".join(self.problems))


# --- small pure helpers ---------------------------------------------------------------------------------------


def promql_string(value: str) -> str:
    """A PromQL double-quoted string literal (Go escapes: backslash, quote, control characters)."""
    return json.dumps(value, ensure_ascii=False)


def re2_escape(value: str) -> str:
    """Escape RE2 metacharacters only (Go's regexp.QuoteMeta); Python's re.escape also escapes spaces, which RE2
    rejects."""
    return "".join("\\" + ch if ch in _RE2_META else ch for ch in value)


def parse_quantity(value: Any) -> int:
    """Bytes from an int or a Kubernetes quantity string ('512Mi', '2G'); ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError("must be a number of bytes or a quantity such as 512Mi")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("must be > 0")
        return value
    if isinstance(value, float) and value > 0:
        return int(value)
    m = _QUANTITY.match(str(value).strip()) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{value!r} is not a number of bytes or a quantity such as 512Mi or 2G")
    result = int(float(m.group(1)) * _QUANTITY_FACTOR[m.group(2)])
    if result <= 0:
        raise ValueError("must be > 0")
    return result


def is_duration(value: Any) -> bool:
    return isinstance(value, str) and bool(_DURATION.match(value))


def default_selector(name: str, namespace: str, kube_labels: bool = False) -> str:
    ns_label = SCOPE_NAMESPACE_LABEL if kube_labels else "namespace"
    return f"{ns_label}={promql_string(namespace)},{SCOPE_LABEL}={promql_string(name)}"


def _is_matchers(text: str) -> bool:
    pos = 0
    while pos < len(text):
        m = _MATCHER.match(text, pos)
        if not m:
            return False
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                return False
            pos += 1
    return True


# --- validation -----------------------------------------------------------------------------------------------


def _check_number(problems: list[str], path: str, value: Any, *, low: float, high: float | None = None) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bound = f"> {low}" + (f" and <= {high}" if high is not None else "")
        problems.append(f"{path}: must be a number {bound}, got {value!r}")


def validate_alerts(alerts: Any) -> list[str]:
    """Every problem in a `spec.alerts` value, as 'spec.alerts...: message' strings (empty list = valid)."""
    problems: list[str] = []
    base = "spec.alerts"
    if alerts is None:
        return problems
    if not isinstance(alerts, Mapping):
        return [f"{base}: must be an object"]
    if "enabled" in alerts and not isinstance(alerts["enabled"], bool):
        problems.append(f"{base}.enabled: must be true or false")
    selector = alerts.get("selector")
    if selector not in (None, "") and (not isinstance(selector, str) or not _is_matchers(selector)):
        problems.append(f'{base}.selector: must be PromQL label matchers such as namespace="a",job="b"')
    for key in ("ruleLabels", "alertLabels"):
        labels = alerts.get(key)
        if labels is None:
            continue
        if not isinstance(labels, Mapping):
            problems.append(f"{base}.{key}: must be a map of label names to strings")
            continue
        for k, v in labels.items():
            if key == "alertLabels" and not _LABEL_NAME.match(str(k)):
                problems.append(f"{base}.{key}: {k!r} is not a valid Prometheus label name")
            if not isinstance(v, str):
                problems.append(f"{base}.{key}.{k}: value must be a string")
    if "runbookURL" in alerts and not isinstance(alerts["runbookURL"], str):
        problems.append(f"{base}.runbookURL: must be a string")
    agent_down = alerts.get("agentDown")
    if agent_down is not None:
        if not isinstance(agent_down, Mapping):
            problems.append(f"{base}.agentDown: must be an object")
        else:
            _check_common(problems, f"{base}.agentDown", agent_down)
            if "enabled" in agent_down and not isinstance(agent_down["enabled"], bool):
                problems.append(f"{base}.agentDown.enabled: must be true or false")
    rules = alerts.get("rules")
    if rules is None:
        return problems
    if not isinstance(rules, list):
        return [*problems, f"{base}.rules: must be a list"]
    for i, entry in enumerate(rules):
        path = f"{base}.rules[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{path}: must be an object")
            continue
        names = entry.get("groupnames")
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(n, str) and n for n in names)
        ):
            problems.append(f"{path}.groupnames: must be a list of non-empty group names")
        regex = entry.get("groupnameRegex")
        if regex is not None:
            if not isinstance(regex, str) or not regex:
                problems.append(f"{path}.groupnameRegex: must be a non-empty string")
            else:
                problems.extend(f"{path}.groupnameRegex: {p}" for p in _re2_problems(regex))
        if not any(check in entry for check in CHECKS):
            problems.append(f"{path}: names no check; give at least one of {', '.join(CHECKS)}")
        unknown = sorted(set(entry) - set(CHECKS) - {"groupnames", "groupnameRegex"})
        if unknown:
            problems.append(f"{path}: unknown field(s) {', '.join(unknown)}")
        for check in CHECKS:
            if check in entry:
                _validate_check(problems, f"{path}.{check}", check, entry[check])
    return problems


def _re2_problems(regex: str) -> list[str]:
    try:
        import re2  # google-re2: the same syntax Prometheus (Go regexp) accepts
    except ImportError:  # pragma: no cover - a declared dependency; fall back to Python's parser
        try:
            re.compile(regex)
        except re.error as exc:
            return [f"invalid regular expression: {exc}"]
        return []
    try:
        re2.compile(regex)
    except Exception as exc:
        return [f"invalid regular expression: {exc}"]
    return []


def _check_common(problems: list[str], path: str, body: Mapping) -> None:
    if "for" in body and not is_duration(body["for"]):
        problems.append(f"{path}.for: {body['for']!r} is not a Prometheus duration such as 30s, 5m or 1h")
    if "severity" in body and (not isinstance(body["severity"], str) or not body["severity"]):
        problems.append(f"{path}.severity: must be a non-empty string")


def _validate_check(problems: list[str], path: str, check: str, body: Any) -> None:
    if not isinstance(body, Mapping):
        problems.append(f"{path}: must be an object")
        return
    _check_common(problems, path, body)
    if check == "cpuPercent":
        _check_number(problems, f"{path}.above", body.get("above"), low=0)
    elif check == "residentMemory":
        try:
            parse_quantity(body.get("above"))
        except ValueError as exc:
            problems.append(f"{path}.above: {exc}")
    elif check == "fdRatio":
        _check_number(problems, f"{path}.above", body.get("above"), low=0, high=1)
    elif check == "minProcesses":
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            problems.append(f"{path}.count: must be an integer >= 1, got {count!r}")
    elif check == "restarted":
        if "for" in body:
            problems.append(f"{path}.for: not used; a restart alert fires at once and lasts `within`")
        if "within" in body and not is_duration(body["within"]):
            problems.append(f"{path}.within: {body['within']!r} is not a Prometheus duration such as 10m")


# --- rendering ------------------------------------------------------------------------------------------------


def _group_filter(entry: Mapping) -> str | None:
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


_WHERE = "{{ with $labels.node }}node {{ . }}{{ else }}{{ $labels.instance }}{{ end }}"
_GROUP = "{{ $labels.groupname }}"


def _alert(name: str, expr: str, duration: str | None, severity: str, labels: Mapping[str, str],
           summary: str, description: str, runbook: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if duration:
        rule["for"] = duration
    rule["labels"] = {"severity": severity, **{k: labels[k] for k in sorted(labels)}}
    annotations = {"summary": summary, "description": description}
    if runbook:
        annotations["runbook_url"] = runbook
    rule["annotations"] = annotations
    return rule


def _check_alert(check: str, body: Mapping, sel: str, scope: str, entry: Mapping, labels: Mapping[str, str],
                 runbook: str) -> dict[str, Any]:
    name = ALERT_NAMES[check]
    severity = body.get("severity", DEFAULT_SEVERITY[check])
    duration = body.get("for", DEFAULT_FOR)
    # The threshold as a label tells a pager which rule fired, and keeps two entries of the same check from being
    # identical rules (promtool's duplicate-rule lint) when only their group selection differs.
    threshold = {"cpuPercent": "above", "residentMemory": "above", "fdRatio": "above", "minProcesses": "count"}
    if check in threshold:
        labels = {"threshold": str(body.get(threshold[check], 1)), **labels}
    if check == "cpuPercent":
        above = body["above"]
        return _alert(
            name, f"{RECORD_CPU_PERCENT}{sel} > {above}", duration, severity, labels,
            f"Process group {_GROUP} uses more than {above}% CPU on {_WHERE}",
            f"Process group {_GROUP} on {_WHERE} (namespace {{{{ $labels.namespace }}}}) has used "
            f'{{{{ $value | printf "%.1f" }}}}% of one CPU core for {duration} (threshold {above}%).',
            runbook,
        )
    if check == "residentMemory":
        limit = parse_quantity(body["above"])
        return _alert(
            name, f"{RECORD_RESIDENT_BYTES}{sel} > {limit}", duration, severity, labels,
            f"Process group {_GROUP} uses more than {body['above']} resident memory on {_WHERE}",
            f"Process group {_GROUP} on {_WHERE} (namespace {{{{ $labels.namespace }}}}) has "
            f"{{{{ $value | humanize1024 }}}}B resident memory, above {body['above']} for {duration}.",
            runbook,
        )
    if check == "fdRatio":
        above = body["above"]
        return _alert(
            name, f"namedprocess_namegroup_worst_fd_ratio{sel} > {above}", duration, severity, labels,
            f"A process of group {_GROUP} is running out of file descriptors on {_WHERE}",
            f"The fullest process of group {_GROUP} on {_WHERE} (namespace {{{{ $labels.namespace }}}}) uses "
            f"{{{{ $value | humanizePercentage }}}} of its open-files limit (threshold "
            f"{above * 100:g}%) for {duration}.",
            runbook,
        )
    if check == "minProcesses":
        count = body.get("count", 1)
        expr = f"namedprocess_namegroup_num_procs{sel} < {count}"
        # A group the agent never saw has no series at all, so `< count` alone would stay silent when a named
        # process never started. For exact names, synthesise a 0 for every agent target that is up but lacks it.
        missing = [
            f'label_replace((up{{{scope}}} == 1) * 0, "groupname", {promql_string(n.replace("$", "$$"))}, "", "")'
            for n in entry.get("groupnames") or []
        ]
        if missing and count >= 1:
            absent = " or ".join(missing)
            expr = (
                f"{expr}\nor on (instance, groupname) (\n  ({absent})\n"
                f"  unless on (instance, groupname) namedprocess_namegroup_num_procs{sel}\n)"
            )
        return _alert(
            name, expr, duration, severity, labels,
            f"Process group {_GROUP} has fewer than {count} process(es) on {_WHERE}",
            f"Process group {_GROUP} on {_WHERE} (namespace {{{{ $labels.namespace }}}}) has "
            f"{{{{ $value }}}} process(es), fewer than {count}, for {duration}.",
            runbook,
        )
    if check == "restarted":
        within = body.get("within", "10m")
        metric = f"namedprocess_namegroup_oldest_start_time_seconds{sel}"
        # An empty group reports Go's zero time (a large negative number); `> 0` keeps "stopped" (handled by
        # minProcesses) apart from "started again". The value is the new start time, for the description.
        return _alert(
            name, f"{metric} > 0 and changes({metric}[{within}]) > 0", None, severity, labels,
            f"Process group {_GROUP} restarted on {_WHERE}",
            f"The oldest process of group {_GROUP} on {_WHERE} (namespace {{{{ $labels.namespace }}}}) "
            f"changed within the last {within}; it started at {{{{ $value | humanizeTimestamp }}}}.",
            runbook,
        )
    raise AssertionError(check)  # pragma: no cover - CHECKS is closed


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
    s = "{" + scope + "}"
    recording = [
        {"record": RECORD_CPU_PERCENT_BY_MODE,
         "expr": f"rate(namedprocess_namegroup_cpu_seconds_total{s}[{RATE_WINDOW}]) * 100"},
        {"record": RECORD_CPU_PERCENT,
         "expr": f"sum without (mode) (rate(namedprocess_namegroup_cpu_seconds_total{s}[{RATE_WINDOW}])) * 100"},
        {"record": RECORD_RESIDENT_BYTES,
         "expr": f'sum without (memtype) (namedprocess_namegroup_memory_bytes{{{scope},memtype="resident"}})'},
        {"record": RECORD_VIRTUAL_BYTES,
         "expr": f'sum without (memtype) (namedprocess_namegroup_memory_bytes{{{scope},memtype="virtual"}})'},
    ]
    rules: list[dict[str, Any]] = []
    agent_down = alerts.get("agentDown") or {}
    if agent_down.get("enabled", True):
        duration = agent_down.get("for", DEFAULT_FOR)
        rules.append(_alert(
            ALERT_NAMES["agentDown"], f"up{s} == 0", duration,
            agent_down.get("severity", DEFAULT_SEVERITY["agentDown"]), labels,
            f"process-monitor agent {{{{ $labels.instance }}}} cannot be scraped ({_WHERE})",
            f"Prometheus has failed to scrape the process-monitor agent {{{{ $labels.instance }}}} on {_WHERE} "
            f"(namespace {{{{ $labels.namespace }}}}) for {duration}; process alerts for that node are blind.",
            runbook,
        ))
    entries = alerts.get("rules") or []
    for check in CHECKS:
        # Groups named by some entry for this check are left out of that check's catch-all entries, so a
        # per-group threshold overrides the default instead of firing twice.
        named = [p for e in entries if check in e and (p := _group_filter(e)) is not None]
        for entry in entries:
            if check not in entry:
                continue
            pattern = _group_filter(entry)
            sel = _selector(scope, pattern, [] if pattern is not None else named)
            rules.append(_check_alert(check, entry[check], sel, scope, entry, labels, runbook))
    groups = [{"name": f"{base}.recording", "rules": recording}]
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
