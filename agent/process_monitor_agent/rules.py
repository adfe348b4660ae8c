"""Process matching and naming rules: process-exporter's `process_names` semantics, plus -procnames/-namemapping.

Built by config.py; called by track/identity.py once per new (pid, starttime) (and on recheck or reload). A Rules object
is immutable; a reload builds a new one and swaps it in.

Semantics (process-exporter config/config.go): entries are tried in order and the first match wins. Inside an
entry every selector present must match: `comm` is an OR of exact comm names; `exe` is an OR where an entry
without `/` matches the basename of argv[0] and one with `/` must equal argv[0]; `cmdline` is an AND of RE2
regexes searched (unanchored) in argv joined by spaces, whose named captures feed `.Matches`. Ours: `gpu: true`
(`false`) matches a process that holds (does not hold) a GPU context, per NVML at the collection that names it
(needs -gpu.enabled; a known process that gains a context later is re-matched, see gpu/monitor.py).
"""

from __future__ import annotations

import os.path
from collections.abc import Callable
from typing import Any

import re2

from .template import KUBE_FIELDS, Template

_RE2_OPTIONS = re2.Options()
# Errors are reported through our own message; keep RE2's C++ logger quiet on stderr.
_RE2_OPTIONS.log_errors = False


def compile_regex(pattern: str) -> Any:
    """Compile with RE2 (Go semantics, linear time). Raises ValueError with RE2's reason."""
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as e:
        reason = e.args[0] if e.args else str(e)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None


class ProcAttrs:
    """What a rule can look at for one process. Filled by the tracker with only the fields the rules need."""

    __slots__ = ("_joined", "_kube", "cgroups", "cmdline", "comm", "gpus", "kube_source", "pid", "start_time",
                 "username")

    def __init__(
        self,
        comm: str,
        cmdline: list[str],
        pid: int = 0,
        start_time: float = 0.0,
        username: str = "",
        cgroups: list[str] | None = None,
    ) -> None:
        self.comm = comm
        self.cmdline = cmdline
        self.pid = pid
        self.start_time = start_time
        self.username = username
        self.cgroups = cgroups or []
        self.gpus: tuple[str, ...] = ()  # GPUs it holds a context on ("0", "1:3" for MIG), when rules need it
        self._joined: str | None = None
        self._kube: Any = None
        # Set by the tracker when a template uses a Kubernetes field: looks the Workload up (reads the cgroup) on
        # first use, so only processes whose matching rule renders such a field pay for it.
        self.kube_source: Callable[[], Any] | None = None

    @property
    def kube(self) -> Any:
        """kube.attribution.Workload of the process, or None (no Kubernetes field in use)."""
        if self._kube is None and self.kube_source is not None:
            self._kube = self.kube_source()
            self.kube_source = None
        return self._kube

    @kube.setter
    def kube(self, value: Any) -> None:
        self._kube = value

    @property
    def joined(self) -> str:
        """argv joined by spaces, what cmdline regexes search; built once per process, not once per rule (a
        cmdline can be 2 MiB)."""
        if self._joined is None:
            self._joined = " ".join(self.cmdline)
        return self._joined

    @property
    def exefull(self) -> str:
        return self.cmdline[0] if self.cmdline else self.comm

    @property
    def exebase(self) -> str:
        return os.path.basename(self.cmdline[0]) if self.cmdline else self.comm


class Rule:
    """One `process_names` entry."""

    __slots__ = ("comms", "exes", "gpu", "index", "regexes", "template")

    def __init__(
        self,
        index: int,
        template: Template,
        comms: list[str] | None,
        exes: list[str] | None,
        regexes: list[Any] | None,
        gpu: bool | None = None,
    ) -> None:
        self.index = index
        self.gpu = gpu
        self.template = template
        self.comms = frozenset(comms) if comms else None
        # basename -> "" (match any argv[0] with that basename) or the full path argv[0] must equal.
        self.exes: dict[str, str] | None = None
        if exes:
            self.exes = {}
            for e in exes:
                if "/" in e:
                    self.exes[os.path.basename(e)] = e
                else:
                    self.exes[e] = ""
        self.regexes = regexes or None

    def match(self, attrs: ProcAttrs) -> dict[str, str] | None:
        """Captures dict when the entry matches (possibly empty), else None."""
        if self.comms is not None and attrs.comm not in self.comms:
            return None
        if self.gpu is not None and bool(attrs.gpus) != self.gpu:
            return None
        if self.exes is not None:
            if not attrs.cmdline:
                return None
            argv0 = attrs.cmdline[0]
            want = self.exes.get(os.path.basename(argv0))
            if want is None or (want and want != argv0):
                return None
        captures: dict[str, str] = {}
        if self.regexes is not None:
            joined = attrs.joined
            for rx in self.regexes:
                m = rx.search(joined)
                if m is None:
                    return None
                if rx.groupindex:
                    for name, value in m.groupdict().items():
                        captures[name] = value if value is not None else ""
        return captures


class NameMapping:
    """-procnames / -namemapping: comm-keyed rules (process-exporter's nameMapperRegex)."""

    __slots__ = ("mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self.mapping = mapping  # comm -> compiled regex, or None for a plain -procnames entry


class Rules:
    """An ordered rule set, or a NameMapping; `name_of` returns the group name or None (not matched)."""

    __slots__ = (
        "entries", "namemap", "needs_cgroups", "needs_cmdline", "needs_gpu", "needs_kube", "needs_username",
        "static_names",
    )

    def __init__(self, entries: list[Rule] | None = None, namemap: NameMapping | None = None) -> None:
        self.entries = entries or []
        self.namemap = namemap
        fields: set[str] = set()
        for r in self.entries:
            fields |= r.template.fields
        self.needs_username = "Username" in fields
        self.needs_cgroups = "Cgroups" in fields
        self.needs_gpu = "GPUs" in fields or any(r.gpu is not None for r in self.entries)
        self.needs_kube = bool(fields & set(KUBE_FIELDS))
        self.needs_cmdline = bool(
            (namemap is not None and any(v is not None for v in namemap.mapping.values()))
            or fields & {"ExeBase", "ExeFull", "Matches"}
            or any(r.exes is not None or r.regexes is not None for r in self.entries)
        )
        # Groups whose names are fixed at load (no `{{`), for -report.missing-groups.
        names: list[str] = []
        for r in self.entries:
            if r.template.static and r.template.source not in names:
                names.append(r.template.source)
        if namemap is not None:
            names.extend(k for k, v in namemap.mapping.items() if v is None and k not in names)
        self.static_names = tuple(names)

    def name_of(self, attrs: ProcAttrs) -> str | None:
        if self.namemap is not None:
            mapping = self.namemap.mapping
            if attrs.comm not in mapping:
                return None
            rx = mapping[attrs.comm]
            if rx is None:
                return attrs.comm
            m = rx.search(attrs.joined)
            if m is None:
                return None
            for g in m.groups():
                if g:
                    return attrs.comm + ":" + g
            return None
        for r in self.entries:
            caps = r.match(attrs)
            if caps is not None:
                return r.template.render(attrs, caps)
        return None
