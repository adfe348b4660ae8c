"""Checks of what the CRD schema cannot check: RE2 regexes and name templates in `spec.processNames`, and
`spec.alerts`. Templates that use {{.Namespace}}, {{.Pod}} or {{.Container}} need `spec.kubernetes.enabled` (or
`labels`): without the kubelet's log directories mounted they would always render empty.

`validate(source)` returns a list of messages, each naming the entry it is about; an empty list means valid.
The rules are checked by the agent's own config parser (`process_monitor_agent.config.parse_config`) run on the
exact `config.yaml` the ConfigMap would carry, so the operator refuses precisely what the agent would refuse
(RE2 regexes via google-re2, the agent's template subset). Called by the operator before it applies anything and
by `process-monitor render` (which refuses invalid input).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from process_monitor_agent.config import ConfigError, parse_config
from process_monitor_agent.rules import compile_regex
from process_monitor_agent.template import TemplateError, compile_template

from .monitoring.alerts import validate_alerts
from .render import kubernetes
from .render.configmap import config_yaml

if TYPE_CHECKING:
    from .spec import Source

_SOURCE = "spec"


def check_regex(pattern: str) -> str | None:
    """None if `pattern` is a valid RE2 regex, else RE2's error message (the agent's compiler)."""
    try:
        compile_regex(pattern)
    except ValueError as exc:
        return str(exc)
    return None


def check_template(template: str) -> str | None:
    """None if the agent can execute the name template `template`, else what is wrong."""
    try:
        compile_template(template)
    except TemplateError as exc:
        return str(exc)
    return None


def _shape_problems(entries: list[Any]) -> list[str]:
    """Problems that would stop the ConfigMap from being rendered at all (only possible outside the API server)."""
    problems = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"processNames[{index}]: must be a mapping")
            continue
        for key in ("comm", "exe", "cmdline"):
            values = entry.get(key)
            if values is not None and (not isinstance(values, list) or not all(isinstance(v, str) for v in values)):
                problems.append(f"processNames[{index}]: {key} must be a list of strings")
        if entry.get("name") is not None and not isinstance(entry["name"], str):
            problems.append(f"processNames[{index}]: name must be a string")
        if entry.get("gpu") is not None and not isinstance(entry["gpu"], bool):
            problems.append(f"processNames[{index}]: gpu must be true or false")
    return problems


def _kubernetes_problems(source: Source, index: int, entry: dict[str, Any]) -> list[str]:
    name = entry.get("name")
    if not name or kubernetes.enabled(source):
        return []
    used = [f for f in compile_template(name).fields if f in kubernetes.NAME_FIELDS]
    if not used:
        return []
    fields = ", ".join("." + f for f in sorted(used))
    return [f"processNames[{index}] (name {name!r}): the template uses {fields}, which needs "
            "spec.kubernetes.enabled: true (or labels: true) to mount the kubelet's log directories"]


def validate(source: Source) -> list[str]:
    """Every problem in `source.spec.processNames` and `spec.alerts`, each message naming its entry."""
    entries = source.process_names
    problems: list[str] = []
    if not entries:
        problems.append("spec.processNames is empty: nothing to monitor")
    problems += _shape_problems(entries)
    if not problems:
        # One entry at a time, so every bad entry is reported, not just the first the agent's parser meets.
        for index, entry in enumerate(entries):
            one = replace(source, spec={**source.spec, "processNames": [entry]})
            try:
                parse_config(config_yaml(one), source=_SOURCE)
            except ConfigError as exc:
                # The agent names entries as in its file (`process_names[0]`); say it in the CRD's terms.
                message = str(exc).removeprefix(f"{_SOURCE}: ")
                problems.append(message.replace("process_names[0]", f"processNames[{index}]", 1))
                continue
            problems += _kubernetes_problems(source, index, entry)
    if not problems and not (source.spec.get("gpu") or {}).get("enabled"):
        # The agent would accept it and never match: say so where the user looks instead.
        for index, entry in enumerate(entries):
            if entry.get("gpu") is not None or ".GPUs" in str(entry.get("name") or ""):
                problems.append(f"processNames[{index}]: uses gpu or .GPUs, which need spec.gpu.enabled: true")
    problems.extend(validate_alerts(source.spec.get("alerts")))
    return problems
