"""A small, safe evaluator for the subset of Go text/template that process-exporter name templates use.

Called by config.py at load (compile: every construct is checked, unknown ones are rejected with a message) and
by rules.py when a process is first named (render). Supported: literal text and actions that access one field:
`{{.Comm}} {{.ExeBase}} {{.ExeFull}} {{.Username}} {{.PID}} {{.StartTime}} {{.Cgroups}} {{.Matches.NAME}}`, and
ours `{{.GPUs}}` (the GPUs the process holds a context on, as a Go slice `[0 1]`; `[1:3]` for a MIG instance) and,
for Kubernetes attribution, `{{.Namespace}} {{.Pod}} {{.Container}} {{.PodUID}} {{.ContainerID}}` (empty outside
a pod; kube/attribution.py fills them), with optional spaces and Go's `{{-`/`-}}` trim markers. Values print as
Go's template engine prints them
(StartTime as time.Time.String() in UTC, Cgroups as a Go slice `[a b]`, a missing .Matches key as `<no value>`).
Nothing is ever passed to eval; there is no attribute access beyond this fixed list.
"""

from __future__ import annotations

import datetime
from typing import Any

from .quote import clip, short

# Ours: where the process runs in Kubernetes (attrs.kube, a kube.attribution.Workload, or None outside a pod).
KUBE_FIELDS = ("Namespace", "Pod", "Container", "PodUID", "ContainerID")
_KUBE_ATTRS = {"Namespace": "namespace", "Pod": "pod", "Container": "container", "PodUID": "pod_uid",
               "ContainerID": "container_id"}
FIELDS = ("Comm", "ExeBase", "ExeFull", "Username", "PID", "StartTime", "Cgroups", "Matches", "GPUs", *KUBE_FIELDS)
_IDENT_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class TemplateError(ValueError):
    """A construct the evaluator does not support (message says which)."""


def go_time_string(epoch_seconds: float) -> str:
    """time.Time.String() of a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC` (trailing zeros trimmed)."""
    whole = int(epoch_seconds // 1)
    # Start times are whole clock ticks (10 ms); rounding to the microsecond removes float noise.
    frac_ns = round((epoch_seconds - whole) * 1e6) * 1000
    if frac_ns >= 1_000_000_000:
        whole, frac_ns = whole + 1, frac_ns - 1_000_000_000
    dt = datetime.datetime.fromtimestamp(whole, tz=datetime.UTC)
    s = dt.strftime("%Y-%m-%d %H:%M:%S")
    if frac_ns:
        s += "." + f"{frac_ns:09d}".rstrip("0")
    return s + " +0000 UTC"


class Template:
    """A compiled name template: a list of literal strings and field getters."""

    __slots__ = ("fields", "parts", "source", "static")

    def __init__(self, source: str, parts: list[str | tuple[str, str]]) -> None:
        self.source = source
        self.parts = parts
        self.static = all(isinstance(p, str) for p in parts)
        self.fields = {p[0] for p in parts if isinstance(p, tuple)}

    def render(self, attrs: Any, matches: dict[str, str]) -> str:
        out = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            field, key = p
            if field == "Matches":
                out.append(matches.get(key, "<no value>"))
            elif field == "PID":
                out.append(str(attrs.pid))
            elif field == "StartTime":
                out.append(go_time_string(attrs.start_time))
            elif field == "Cgroups":
                out.append("[" + " ".join(attrs.cgroups) + "]")
            elif field == "Comm":
                out.append(attrs.comm)
            elif field == "ExeBase":
                out.append(attrs.exebase)
            elif field == "ExeFull":
                out.append(attrs.exefull)
            elif field == "Username":
                out.append(attrs.username)
            elif field == "GPUs":
                out.append("[" + " ".join(attrs.gpus) + "]")
            else:
                kube = attrs.kube
                out.append(getattr(kube, _KUBE_ATTRS[field]) if kube is not None else "")
        return "".join(out)


def compile_template(source: str) -> Template:
    """Compile `source`; raise TemplateError naming the first unsupported construct."""
    parts: list[str | tuple[str, str]] = []
    pos = 0
    n = len(source)
    while pos < n:
        start = source.find("{{", pos)
        if start < 0:
            parts.append(source[pos:])
            break
        end = source.find("}}", start + 2)
        if end < 0:
            raise TemplateError(f"unclosed action at offset {start} in {short(source)}")
        literal = source[pos:start]
        inner = source[start + 2 : end]
        if inner.startswith("- ") or inner == "-":
            literal = literal.rstrip(" \t\r\n")
            inner = inner[1:]
        trim_right = inner.endswith(" -")
        if trim_right:
            inner = inner[:-1]
        if literal:
            parts.append(literal)
        parts.append(_compile_action(inner.strip(), source))
        pos = end + 2
        if trim_right:
            while pos < n and source[pos] in " \t\r\n":
                pos += 1
    # Merge adjacent literals so rendering stays a short loop.
    merged: list[str | tuple[str, str]] = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + p
        elif p != "":
            merged.append(p)
    return Template(source, merged)


def _compile_action(action: str, source: str) -> tuple[str, str]:
    if not action.startswith("."):
        what = action.split()[0] if action.split() else "empty action"
        raise TemplateError(
            f"unsupported template construct {{{{{clip(action)}}}}} in {short(source)} ({short(what)}): "
            "only field access like "
            "{{.Comm}}, {{.ExeBase}}, {{.ExeFull}}, {{.Username}}, {{.PID}}, {{.StartTime}}, {{.Cgroups}}, "
            "{{.Matches.NAME}}, {{.GPUs}}, {{.Namespace}}, {{.Pod}}, {{.Container}}, {{.PodUID}}, {{.ContainerID}} "
            "is supported"
        )
    path = action[1:].split(".")
    if any(not seg or not set(seg) <= _IDENT_OK for seg in path):
        raise TemplateError(f"unsupported template construct {{{{{clip(action)}}}}} in {short(source)}")
    field = path[0]
    if field not in FIELDS:
        raise TemplateError(
            f"unknown template field .{clip(field)} in {short(source)} (known: {', '.join('.' + f for f in FIELDS)})"
        )
    if field == "Matches":
        if len(path) != 2:
            raise TemplateError(f"{{{{{clip(action)}}}}} in {short(source)}: use .Matches.NAME with one capture name")
        return ("Matches", path[1])
    if len(path) != 1:
        raise TemplateError(f"{{{{{clip(action)}}}}} in {short(source)}: .{field} has no sub-fields")
    return (field, "")


