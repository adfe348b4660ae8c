"""The alerts of `spec.alerts`: the per-group checks as one table (`CHECKS`), their validation and their rules.

A check is a row: its key in a `spec.alerts.rules` entry, the alert it raises, the default severity, which field
becomes the `threshold` label, how its own fields are validated, and how its expression and texts are built.
Adding a check = one row. `validate_alerts` reports every problem of a `spec.alerts` value; `check_alert` and
`agent_down_alert` build Prometheus alerting rules. Pure; called by monitoring/rules.py (rule groups) and
validation.py (spec problems). Just over 300 lines on purpose: the table, its validators and its builders stay in
one module so that a new check is read and written in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .metricnames import agent_metric
from .promql import is_duration, is_label_name, is_matchers, parse_quantity, promql_string, re2_problems
from .recording import RECORD_CPU_PERCENT, RECORD_RESIDENT_BYTES

DEFAULT_FOR = "5m"
WHERE = "{{ with $labels.node }}node {{ . }}{{ else }}{{ $labels.instance }}{{ end }}"
GROUP = "{{ $labels.groupname }}"
NAMESPACE = "{{ $labels.namespace }}"

# (expr, summary, description) of one check for one entry: built from the check's body, the series selector of
# the entry's groups, the ProcessMonitor's scope, the entry itself and the alert's `for`.
Build = Callable[[Mapping[str, Any], str, str, Mapping[str, Any], str], tuple[str, str, str]]
Validate = Callable[[list[str], str, Mapping[str, Any]], None]  # (problems, path, body): appends problems


@dataclass(frozen=True)
class Check:
    key: str                 # field of a spec.alerts.rules entry
    alert: str               # alert name
    severity: str            # default severity
    threshold: str | None    # body field shown as the `threshold` label (default 1), None: no such label
    uses_for: bool           # whether the alert has a `for` (a restart fires at once)
    validate: Validate
    build: Build


class AlertsSpecError(ValueError):
    """`spec.alerts` is invalid; `problems` lists every problem as 'path: message' lines for the user."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid spec.alerts: " + "; ".join(self.problems))


# --- the checks' own fields -------------------------------------------------------------------------------------


def _number(problems: list[str], path: str, value: Any, *, low: float, high: float | None = None) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bound = f"> {low}" + (f" and <= {high}" if high is not None else "")
        problems.append(f"{path}: must be a number {bound}, got {value!r}")


def _above_percent(problems: list[str], path: str, body: Mapping[str, Any]) -> None:
    _number(problems, f"{path}.above", body.get("above"), low=0)


def _above_ratio(problems: list[str], path: str, body: Mapping[str, Any]) -> None:
    _number(problems, f"{path}.above", body.get("above"), low=0, high=1)


def _above_bytes(problems: list[str], path: str, body: Mapping[str, Any]) -> None:
    try:
        parse_quantity(body.get("above"))
    except ValueError as exc:
        problems.append(f"{path}.above: {exc}")


def _count(problems: list[str], path: str, body: Mapping[str, Any]) -> None:
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        problems.append(f"{path}.count: must be an integer >= 1, got {count!r}")


def _within(problems: list[str], path: str, body: Mapping[str, Any]) -> None:
    if "for" in body:
        problems.append(f"{path}.for: not used; a restart alert fires at once and lasts `within`")
    if "within" in body and not is_duration(body["within"]):
        problems.append(f"{path}.within: {body['within']!r} is not a Prometheus duration such as 10m")


# --- the checks' expressions and texts --------------------------------------------------------------------------


def _threshold(metric: str, summary: str, description: str, limit: Callable[[Any], Any] = lambda v: v,
               shown: Callable[[Any], Any] = lambda v: v) -> Build:
    """The builder of an `above` check: `metric > limit(above)`; the texts are str.format templates over group,
    where, ns, above, shown (the threshold as the description shows it) and for_."""
    def build(body: Mapping[str, Any], sel: str, scope: str, entry: Mapping[str, Any],
              for_: str) -> tuple[str, str, str]:
        above = body["above"]
        values = {"group": GROUP, "where": WHERE, "ns": NAMESPACE, "above": above, "shown": shown(above),
                  "for_": for_}
        return f"{metric}{sel} > {limit(above)}", summary.format(**values), description.format(**values)
    return build


_cpu = _threshold(
    RECORD_CPU_PERCENT, "Process group {group} uses more than {above}% CPU on {where}",
    "Process group {group} on {where} (namespace {ns}) has used "
    '{{{{ $value | printf "%.1f" }}}}% of one CPU core for {for_} (threshold {above}%).')
_memory = _threshold(
    RECORD_RESIDENT_BYTES, "Process group {group} uses more than {above} resident memory on {where}",
    "Process group {group} on {where} (namespace {ns}) has "
    "{{{{ $value | humanize1024 }}}}B resident memory, above {above} for {for_}.", limit=parse_quantity)
_fd_ratio = _threshold(
    agent_metric("namedprocess_namegroup_worst_fd_ratio"),
    "A process of group {group} is running out of file descriptors on {where}",
    "The fullest process of group {group} on {where} (namespace {ns}) uses "
    "{{{{ $value | humanizePercentage }}}} of its open-files limit (threshold {shown}%) for {for_}.",
    shown=lambda above: f"{above * 100:g}")


def _min_procs(body: Mapping[str, Any], sel: str, scope: str, entry: Mapping[str, Any],
               for_: str) -> tuple[str, str, str]:
    count = body.get("count", 1)
    procs = agent_metric("namedprocess_namegroup_num_procs")
    expr = f"{procs}{sel} < {count}"
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
            f"  unless on (instance, groupname) {procs}{sel}\n)"
        )
    return (expr,
            f"Process group {GROUP} has fewer than {count} process(es) on {WHERE}",
            f"Process group {GROUP} on {WHERE} (namespace {NAMESPACE}) has "
            f"{{{{ $value }}}} process(es), fewer than {count}, for {for_}.")


def _restarted(body: Mapping[str, Any], sel: str, scope: str, entry: Mapping[str, Any],
               for_: str) -> tuple[str, str, str]:
    within = body.get("within", "10m")
    metric = f"{agent_metric('namedprocess_namegroup_oldest_start_time_seconds')}{sel}"
    # An empty group reports Go's zero time (a large negative number); `> 0` keeps "stopped" (handled by
    # minProcesses) apart from "started again". The value is the new start time, for the description.
    return (f"{metric} > 0 and changes({metric}[{within}]) > 0",
            f"Process group {GROUP} restarted on {WHERE}",
            f"The oldest process of group {GROUP} on {WHERE} (namespace {NAMESPACE}) "
            f"changed within the last {within}; it started at {{{{ $value | humanizeTimestamp }}}}.")


# Rule order in the rendered groups follows this table.
CHECKS: tuple[Check, ...] = (
    Check("cpuPercent", "ProcessGroupHighCPU", "warning", "above", True, _above_percent, _cpu),
    Check("residentMemory", "ProcessGroupHighMemory", "warning", "above", True, _above_bytes, _memory),
    Check("fdRatio", "ProcessGroupFdRatioHigh", "warning", "above", True, _above_ratio, _fd_ratio),
    Check("minProcesses", "ProcessGroupTooFewProcesses", "critical", "count", True, _count, _min_procs),
    Check("restarted", "ProcessGroupRestarted", "info", None, False, _within, _restarted),
)
CHECK_KEYS = tuple(check.key for check in CHECKS)
AGENT_DOWN_ALERT = "ProcessMonitorAgentDown"
AGENT_DOWN_SEVERITY = "warning"
ALERT_NAMES = {**{check.key: check.alert for check in CHECKS}, "agentDown": AGENT_DOWN_ALERT}
DEFAULT_SEVERITY = {**{check.key: check.severity for check in CHECKS}, "agentDown": AGENT_DOWN_SEVERITY}


# --- validation of a whole spec.alerts value -------------------------------------------------------------------


def _common(problems: list[str], path: str, body: Mapping[str, Any]) -> None:
    if "for" in body and not is_duration(body["for"]):
        problems.append(f"{path}.for: {body['for']!r} is not a Prometheus duration such as 30s, 5m or 1h")
    if "severity" in body and (not isinstance(body["severity"], str) or not body["severity"]):
        problems.append(f"{path}.severity: must be a non-empty string")


def _labels(problems: list[str], base: str, alerts: Mapping[str, Any]) -> None:
    for key in ("ruleLabels", "alertLabels"):
        labels = alerts.get(key)
        if labels is None:
            continue
        if not isinstance(labels, Mapping):
            problems.append(f"{base}.{key}: must be a map of label names to strings")
            continue
        for k, v in labels.items():
            if key == "alertLabels" and not is_label_name(str(k)):
                problems.append(f"{base}.{key}: {k!r} is not a valid Prometheus label name")
            if not isinstance(v, str):
                problems.append(f"{base}.{key}.{k}: value must be a string")


def _top_level(problems: list[str], base: str, alerts: Mapping[str, Any]) -> None:
    if "enabled" in alerts and not isinstance(alerts["enabled"], bool):
        problems.append(f"{base}.enabled: must be true or false")
    selector = alerts.get("selector")
    if selector not in (None, "") and (not isinstance(selector, str) or not is_matchers(selector)):
        problems.append(f'{base}.selector: must be PromQL label matchers such as namespace="a",job="b"')
    _labels(problems, base, alerts)
    if "runbookURL" in alerts and not isinstance(alerts["runbookURL"], str):
        problems.append(f"{base}.runbookURL: must be a string")
    agent_down = alerts.get("agentDown")
    if agent_down is not None:
        if not isinstance(agent_down, Mapping):
            problems.append(f"{base}.agentDown: must be an object")
        else:
            _common(problems, f"{base}.agentDown", agent_down)
            if "enabled" in agent_down and not isinstance(agent_down["enabled"], bool):
                problems.append(f"{base}.agentDown.enabled: must be true or false")


def _entry(problems: list[str], path: str, entry: Mapping[str, Any]) -> None:
    names = entry.get("groupnames")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) and n for n in names)):
        problems.append(f"{path}.groupnames: must be a list of non-empty group names")
    regex = entry.get("groupnameRegex")
    if regex is not None:
        if not isinstance(regex, str) or not regex:
            problems.append(f"{path}.groupnameRegex: must be a non-empty string")
        else:
            problems.extend(f"{path}.groupnameRegex: {p}" for p in re2_problems(regex))
    if not any(key in entry for key in CHECK_KEYS):
        problems.append(f"{path}: names no check; give at least one of {', '.join(CHECK_KEYS)}")
    unknown = sorted(set(entry) - set(CHECK_KEYS) - {"groupnames", "groupnameRegex"})
    if unknown:
        problems.append(f"{path}: unknown field(s) {', '.join(unknown)}")
    for check in CHECKS:
        if check.key not in entry:
            continue
        body, where = entry[check.key], f"{path}.{check.key}"
        if not isinstance(body, Mapping):
            problems.append(f"{where}: must be an object")
            continue
        _common(problems, where, body)
        check.validate(problems, where, body)


def validate_alerts(alerts: Any) -> list[str]:
    """Every problem in a `spec.alerts` value, as 'spec.alerts...: message' strings (empty list = valid)."""
    base = "spec.alerts"
    if alerts is None:
        return []
    if not isinstance(alerts, Mapping):
        return [f"{base}: must be an object"]
    problems: list[str] = []
    _top_level(problems, base, alerts)
    rules = alerts.get("rules")
    if rules is None:
        return problems
    if not isinstance(rules, list):
        return [*problems, f"{base}.rules: must be a list"]
    for i, entry in enumerate(rules):
        if not isinstance(entry, Mapping):
            problems.append(f"{base}.rules[{i}]: must be an object")
        else:
            _entry(problems, f"{base}.rules[{i}]", entry)
    return problems


# --- alerting rules ----------------------------------------------------------------------------------------------


def alert_rule(name: str, expr: str, duration: str | None, severity: str, labels: Mapping[str, str],
               summary: str, description: str, runbook: str) -> dict[str, Any]:
    """One Prometheus alerting rule, keys in the order Prometheus documents them."""
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if duration:
        rule["for"] = duration
    rule["labels"] = {"severity": severity, **{k: labels[k] for k in sorted(labels)}}
    annotations = {"summary": summary, "description": description}
    if runbook:
        annotations["runbook_url"] = runbook
    rule["annotations"] = annotations
    return rule


def check_alert(check: Check, body: Mapping[str, Any], sel: str, scope: str, entry: Mapping[str, Any],
                labels: Mapping[str, str], runbook: str) -> dict[str, Any]:
    """The alerting rule of `check` for one validated entry whose groups `sel` selects."""
    duration = body.get("for", DEFAULT_FOR)
    if check.threshold is not None:
        # The threshold as a label tells a pager which rule fired, and keeps two entries of the same check from
        # being identical rules (promtool's duplicate-rule lint) when only their group selection differs.
        labels = {"threshold": str(body.get(check.threshold, 1)), **labels}
    expr, summary, description = check.build(body, sel, scope, entry, duration)
    return alert_rule(check.alert, expr, duration if check.uses_for else None, body.get("severity", check.severity),
                      labels, summary, description, runbook)


def agent_down_alert(agent_down: Mapping[str, Any], scope: str, labels: Mapping[str, str],
                     runbook: str) -> dict[str, Any]:
    """ProcessMonitorAgentDown: a target of this ProcessMonitor cannot be scraped."""
    duration = agent_down.get("for", DEFAULT_FOR)
    return alert_rule(
        AGENT_DOWN_ALERT, f"up{{{scope}}} == 0", duration, agent_down.get("severity", AGENT_DOWN_SEVERITY), labels,
        f"process-monitor agent {{{{ $labels.instance }}}} cannot be scraped ({WHERE})",
        f"Prometheus has failed to scrape the process-monitor agent {{{{ $labels.instance }}}} on {WHERE} "
        f"(namespace {NAMESPACE}) for {duration}; process alerts for that node are blind.",
        runbook,
    )
