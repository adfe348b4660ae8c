"""Loading and validating the agent's grouping rules (process-exporter's YAML format, -procnames, -namemapping).

Called by cli.py at start-up and by reload.py on every reload. Everything that can be wrong with a config is
found here, before any rule is used, and reported as a ConfigError whose one-line message names the file, the
entry (`process_names[2]` and its name) and the problem. Loading is bounded and total (boundedyaml.py: size,
nesting and alias-expansion limits; scalars read as their text, as process-exporter's yaml.v2 reads them into
string fields), and no message quotes more than a short, cut piece of the input. Unknown keys are accepted, as
process-exporter's non-strict yaml.v2 parsing does, but listed in `Config.warnings` (at most `MAX_WARNINGS`
lines, then a count) so the log shows likely typos.
"""

from __future__ import annotations

from typing import Any

import yaml

from . import boundedyaml
from .quote import clip, short
from .rules import NameMapping, Rule, Rules, compile_regex
from .template import Template, TemplateError, compile_template

DEFAULT_NAME = "{{.ExeBase}}"
_ENTRY_KEYS = {"name", "comm", "exe", "cmdline", "gpu"}
MAX_WARNINGS = 10
# RE2 instructions of all cmdline regexes together (each costs ~30 bytes compiled). A catch-all `.+` is 13, a
# typical capture ~20-50; `[^x]{999}` is ~8,000 in 11 bytes, so without a budget a 1 MiB config of such regexes
# would compile to gigabytes.
MAX_REGEX_PROGRAM = 1_000_000


# yaml.v2's booleans (YAML 1.1), as it decodes them into a bool field: the bounded loader keeps every scalar as text.
_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"})
_FALSE = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"})


def _yaml_v2_bool(value: Any) -> Any:
    """A YAML 1.1 boolean scalar as bool; anything else unchanged (the caller rejects it)."""
    if isinstance(value, str):
        return True if value in _TRUE else False if value in _FALSE else value
    return value


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
        label += f" (name {short(name)})"
    return label


def _scalar_text(value: Any) -> str | None:
    """A scalar as yaml.v2 stores it in a Go string field; None for anything that is not a scalar.

    Files load with every scalar as its text already (boundedyaml); documents from other components (the
    operator's parsed JSON) may hold numbers, which yaml.v2 would also have taken as their text. Booleans from
    such documents are refused: their source text is gone, so there is no faithful string for them.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""  # yaml.v2: null into a string is the zero string
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _string_list(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key} must be a list of strings, got {short(value)}")
    out = []
    for i, v in enumerate(value):
        text = _scalar_text(v)
        if text is None:
            raise ConfigError(f"{where}: {key}[{i}] must be a string, got {short(v)}")
        out.append(text)
    return out


def parse_config(text: str | bytes, source: str = "config") -> Config:
    """Parse and validate config text; raise ConfigError with a one-line message."""
    try:
        doc = boundedyaml.load(text)
    except (yaml.YAMLError, boundedyaml.YAMLLimitError) as e:
        raise ConfigError(f"{source}: {boundedyaml.describe(e)}") from None
    return config_from_document(doc, source)


def config_from_document(doc: Any, source: str = "config", list_name: str = "process_names") -> Config:
    """Validate an already-parsed document (`{process_names: [...]}`) and build its rules.

    Also the validation entry point for other components (the operator checks `spec.processNames` with
    `config_from_document({"process_names": entries}, "ProcessMonitor x", "processNames")`), so the operator and
    the agent can never disagree on what is valid. Raises ConfigError.
    """
    warnings: list[str] = []
    entries = _entries(doc, source, list_name, warnings)
    rules: list[Rule] = []
    program = 0  # RE2 instructions so far (MAX_REGEX_PROGRAM)
    for idx, entry in enumerate(entries):
        rule, program = _rule(idx, entry, source, list_name, program, warnings)
        rules.append(rule)
    if len(warnings) > MAX_WARNINGS:
        warnings[MAX_WARNINGS:] = [f"{source}: and {len(warnings) - MAX_WARNINGS} more warnings like these"]
    return Config(Rules(rules), source, warnings)


def _entries(doc: Any, source: str, list_name: str, warnings: list[str]) -> list[Any]:
    """The document's list of entries (none for an empty document); unknown top-level keys are warned about."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: top level must be a mapping with a {list_name} list")
    for k in doc:
        if k != "process_names":
            warnings.append(f"{source}: unknown top-level key {short(k)} ignored")
    entries = doc.get("process_names")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: {list_name} must be a list, got {type(entries).__name__}")
    return entries


def _rule(idx: int, entry: Any, source: str, list_name: str, program: int,
          warnings: list[str]) -> tuple[Rule, int]:
    """Entry `idx` as a Rule, and the RE2 program size of every regex so far (`program` plus this entry's)."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{source}: {list_name}[{idx}] must be a mapping, got {short(entry)}")
    raw_name = entry.get("name")
    name = _scalar_text(raw_name)
    where = _where(source, list_name, idx, name if raw_name is not None else None)
    for k in entry:
        if k not in _ENTRY_KEYS:
            warnings.append(f"{where}: unknown key {short(k)} ignored")
    if name is None:
        raise ConfigError(f"{where}: name must be a string, got {short(raw_name)}")
    if name == "":
        name = DEFAULT_NAME
    try:
        template = compile_template(name)
    except TemplateError as e:
        raise ConfigError(f"{where}: {e}") from None
    comms = _string_list(entry["comm"], "comm", where) if entry.get("comm") is not None else None
    exes = _string_list(entry["exe"], "exe", where) if entry.get("exe") is not None else None
    cmdlines = _string_list(entry["cmdline"], "cmdline", where) if entry.get("cmdline") is not None else None
    gpu = _yaml_v2_bool(entry.get("gpu"))
    if gpu is not None and not isinstance(gpu, bool):
        raise ConfigError(f"{where}: gpu must be true or false, got {short(gpu)}")
    if not comms and not exes and not cmdlines and gpu is None:
        raise ConfigError(f"{where}: no matchers provided (give at least one of comm, exe, cmdline, gpu)")
    regexes, program = _cmdline_regexes(cmdlines or [], where, program)
    _warn_uncaptured(template, regexes, where, warnings)
    return Rule(idx, template, comms or None, exes or None, regexes or None, gpu), program


def _cmdline_regexes(cmdlines: list[str], where: str, program: int) -> tuple[list[Any], int]:
    """Compile one entry's cmdline regexes; the program-size total is bounded by MAX_REGEX_PROGRAM."""
    regexes = []
    for i, pattern in enumerate(cmdlines):
        try:
            rx = compile_regex(pattern)
        except ValueError as e:
            raise ConfigError(
                f"{where}: cmdline[{i}] {short(pattern)} is not a valid RE2 regex: {clip(str(e))}"
            ) from None
        program += max(0, rx.programsize)
        if program > MAX_REGEX_PROGRAM:
            raise ConfigError(
                f"{where}: cmdline[{i}] {short(pattern)}: the regexes up to here compile to more than "
                f"{MAX_REGEX_PROGRAM} RE2 instructions in all; write counted repetitions like {{999}} shorter"
            )
        regexes.append(rx)
    return regexes, program


def _warn_uncaptured(template: Template, regexes: list[Any], where: str, warnings: list[str]) -> None:
    """Warn about each .Matches.X of the template that no regex of the same entry captures."""
    captures = set()
    for rx in regexes:
        captures |= set(rx.groupindex)
    for part in template.parts:
        if isinstance(part, tuple) and part[0] == "Matches" and part[1] not in captures:
            warnings.append(
                f"{where}: template uses .Matches.{clip(part[1])} but no cmdline regex of this entry captures "
                "(?P<NAME>...); it will render as <no value>"
            )


def load_config(path: str) -> Config:
    """Read and validate the file at `path`; ConfigError on any problem (including unreadable file)."""
    return parse_config(read_config_bytes(path), path)


def read_config_bytes(path: str) -> bytes:
    """The file's bytes, at most boundedyaml.MAX_BYTES of them; ConfigError when unreadable or too large."""
    try:
        return boundedyaml.read_bounded(path)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror or e}") from None
    except boundedyaml.YAMLLimitError as e:
        raise ConfigError(f"{path}: {e}") from None


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
                raise ConfigError(
                    f"-namemapping: regex {short(pattern)} for {short(name)} is not a valid RE2 regex: {clip(str(e))}"
                ) from None
    for name in procnames.split(","):
        if name and name not in mapping:
            mapping[name] = None
    return Config(Rules(namemap=NameMapping(mapping)), "flags")
