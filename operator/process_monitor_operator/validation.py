"""Checks of what the CRD schema cannot check: RE2 regexes and name templates in `spec.processNames`.

`validate(source)` returns a list of messages, each naming the entry (index and name) it is about; an empty list
means valid. Regexes are compiled with google-re2 (`re2`), the same RE2 syntax process-exporter's Go code accepts.
Templates are checked by a small parser of Go text/template actions restricted to process-exporter's fields.
Called by the operator before it applies anything and by `process-monitor render` (which refuses invalid input).

TODO(switch): once `process_monitor_agent` exposes its config/template validation on main, call it here instead of
this minimal copy, so the operator and the agent can never disagree.
"""

from __future__ import annotations

import re
from typing import Any

import re2

from .render.rules import validate_alerts
from .spec import Source

# process-exporter's template fields (reference/process-exporter.md, 1.2).
TEMPLATE_FIELDS = frozenset({"Comm", "ExeBase", "ExeFull", "Username", "Matches", "PID", "StartTime", "Cgroups"})
# Go template builtins a name template may reasonably use.
TEMPLATE_FUNCS = frozenset({"printf", "index", "len", "print", "println", "slice", "and", "or", "not", "eq", "ne",
                            "lt", "le", "gt", "ge", "html", "js", "urlquery"})
# RE2 logs parse errors to stderr by default; the message is returned to the user instead.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\d+|[A-Za-z_][A-Za-z0-9_]*|\.[A-Za-z_][A-Za-z0-9_.]*|\.|[()|]|\S')


def _entry_label(index: int, entry: dict[str, Any]) -> str:
    name = entry.get("name")
    return f"processNames[{index}]" + (f" (name {name!r})" if name else "")


def check_regex(pattern: str) -> str | None:
    """None if `pattern` is a valid RE2 regex, else RE2's error message."""
    try:
        re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:  # google-re2 raises re2.error with a bytes or str message
        msg = exc.args[0] if exc.args else exc
        return msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def check_template(template: str) -> str | None:
    """None if `template` is a name template process-exporter could execute, else what is wrong."""
    if template.count("{{") != template.count("}}"):
        return "unbalanced '{{' and '}}'"
    for action in _ACTION.findall(template):
        if not action:
            return "empty action '{{}}'"
        if action.startswith("/*"):
            continue
        for token in _TOKEN.findall(action):
            if token.startswith("."):
                head = token[1:].split(".", 1)[0]
                if head and head not in TEMPLATE_FIELDS:
                    return f"unknown field .{head} (known: {', '.join(sorted(TEMPLATE_FIELDS))})"
            elif token[0].isalpha() or token[0] == "_":
                if token not in TEMPLATE_FUNCS:
                    return f"function {token!r} is not available (only Go template builtins, no sprig)"
            elif token[0] in "\"`()|" or token[0].isdigit():
                continue
            else:
                return f"unexpected {token!r} in action {{{{{action}}}}}"
    return None


def validate(source: Source) -> list[str]:
    """Every problem in `source.spec.processNames` and `spec.alerts`, each message naming its entry."""
    problems: list[str] = []
    entries = source.process_names
    if not entries:
        problems.append("spec.processNames is empty: nothing to monitor")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"processNames[{index}]: must be a mapping")
            continue
        where = _entry_label(index, entry)
        if not any(entry.get(k) for k in ("comm", "exe", "cmdline")):
            problems.append(f"{where}: no matchers provided (needs comm, exe or cmdline)")
        for key in ("comm", "exe", "cmdline"):
            values = entry.get(key) or []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                problems.append(f"{where}: {key} must be a list of strings")
        for j, pattern in enumerate(entry.get("cmdline") or []):
            if isinstance(pattern, str) and (err := check_regex(pattern)) is not None:
                problems.append(f"{where}: cmdline[{j}] {pattern!r} is not a valid RE2 regex: {err}")
        template = entry.get("name")
        if template is not None:
            if not isinstance(template, str):
                problems.append(f"{where}: name must be a string")
            elif (err := check_template(template)) is not None:
                problems.append(f"{where}: name template {template!r}: {err}")
    problems.extend(validate_alerts(source.spec.get("alerts")))
    return problems
