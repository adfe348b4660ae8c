"""Loading and validating the agent's grouping rules (process-exporter's YAML format, -procnames, -namemapping).

Called by cli.py at start-up and by reload.py on every reload. Everything that can be wrong with a config is
found here, before any rule is used, and reported as a ConfigError whose one-line message names the file, the
entry (`process_names[2]` and its name) and the problem. Unknown keys are accepted, as process-exporter's
non-strict yaml.v2 parsing does, but listed in `Config.warnings` so the log shows likely typos.
"""

from __future__ import annotations

from typing import Any

import yaml

from .rules import NameMapping, Rule, Rules, compile_regex
from .template import TemplateError, compile_template

DEFAULT_NAME = "{{.ExeBase}}"
_ENTRY_KEYS = {"name", "comm", "exe", "cmdline", "gpu"}
# The pure-Python SafeLoader: configs are small, and its error positions are the more precise ones.
_Loader = yaml.SafeLoader


class ConfigError(ValueError):
    """A config that cannot be honoured; str() is the one-line message for the user."""


class Config:
    __slots__ = ("rules", "source", "warnings")

    def __init__(self, rules: Rules, source: str, warnings: list[str] | None = None) -> None:
        self.rules = rules
        self.source = source
        self.warnings = warnings or []


def _where(source: str, list_name: str, index: int, name: Any) -> str:
    label = f"{source}: {list_name}[{index}]"
    if isinstance(name, str):
        label += f" (name {name!r})"
    return label


def _string_list(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key} must be a list of strings, got {type(value).__name__} {value!r}")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
            raise ConfigError(f"{where}: {key}[{i}] must be a string, got {v!r}")
        out.append(str(v))  # yaml.v2 turns scalars such as 123 into strings for []string
    return out


def parse_config(text: str | bytes, source: str = "config") -> Config:
    """Parse and validate config text; raise ConfigError with a one-line message."""
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    return config_from_document(doc, source)


def config_from_document(doc: Any, source: str = "config", list_name: str = "process_names") -> Config:
    """Validate an already-parsed document (`{process_names: [...]}`) and build its rules.

    Also the validation entry point for other components (the operator checks `spec.processNames` with
    `config_from_document({"process_names": entries}, "ProcessMonitor x", "processNames")`), so the operator and
    the agent can never disagree on what is valid. Raises ConfigError.
    """
    warnings: list[str] = []
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: top level must be a mapping with a {list_name} list")
    for k in doc:
        if k != "process_names":
            warnings.append(f"{source}: unknown top-level key {k!r} ignored")
    entries = doc.get("process_names")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: {list_name} must be a list, got {type(entries).__name__}")
    rules: list[Rule] = []
    for idx, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: {list_name}[{idx}] must be a mapping, got {entry!r}")
        name = entry.get("name")
        where = _where(source, list_name, idx, name)
        for k in entry:
            if k not in _ENTRY_KEYS:
                warnings.append(f"{where}: unknown key {k!r} ignored")
        if name is None or name == "":
            name = DEFAULT_NAME
        if not isinstance(name, str):
            raise ConfigError(f"{where}: name must be a string, got {name!r}")
        try:
            template = compile_template(name)
        except TemplateError as e:
            raise ConfigError(f"{where}: {e}") from None
        comms = _string_list(entry["comm"], "comm", where) if entry.get("comm") is not None else None
        exes = _string_list(entry["exe"], "exe", where) if entry.get("exe") is not None else None
        cmdlines = _string_list(entry["cmdline"], "cmdline", where) if entry.get("cmdline") is not None else None
        gpu = entry.get("gpu")
        if gpu is not None and not isinstance(gpu, bool):
            raise ConfigError(f"{where}: gpu must be true or false, got {gpu!r}")
        if not comms and not exes and not cmdlines and gpu is None:
            raise ConfigError(f"{where}: no matchers provided (give at least one of comm, exe, cmdline, gpu)")
        regexes = []
        for i, pattern in enumerate(cmdlines or []):
            try:
                regexes.append(compile_regex(pattern))
            except ValueError as e:
                raise ConfigError(f"{where}: cmdline[{i}] {pattern!r} is not a valid RE2 regex: {e}") from None
        captures = set()
        for rx in regexes:
            captures |= set(rx.groupindex)
        for part in template.parts:
            if isinstance(part, tuple) and part[0] == "Matches" and part[1] not in captures:
                warnings.append(
                    f"{where}: template uses .Matches.{part[1]} but no cmdline regex of this entry captures "
                    f"(?P<{part[1]}>...); it will render as <no value>"
                )
        rules.append(Rule(idx, template, comms or None, exes or None, regexes or None, gpu))
    return Config(Rules(rules), source, warnings)


def load_config(path: str) -> Config:
    """Read and validate the file at `path`; ConfigError on any problem (including unreadable file)."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror or e}") from None
    return parse_config(text, path)


def from_flags(procnames: str, namemapping: str) -> Config:
    """Rules from -procnames and -namemapping, as process-exporter builds them without -config.path."""
    mapping: dict[str, Any] = {}
    if namemapping:
        toks = namemapping.split(",")
        if len(toks) % 2 == 1:
            raise ConfigError("-namemapping: odd number of tokens (want comma-separated name,regex pairs)")
        for i in range(0, len(toks), 2):
            name, pattern = toks[i], toks[i + 1]
            try:
                mapping[name] = compile_regex(pattern)
            except ValueError as e:
                raise ConfigError(f"-namemapping: regex {pattern!r} for {name!r} is not a valid RE2 regex: {e}")\
                    from None
    for name in procnames.split(","):
        if name and name not in mapping:
            mapping[name] = None
    return Config(Rules(namemap=NameMapping(mapping)), "flags")
