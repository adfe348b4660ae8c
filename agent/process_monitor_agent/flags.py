"""A Go `flag`-compatible command-line parser (process-exporter uses Go's flag package; argparse cannot do it).

Called by cli.py. Rules, as Go's flag.Parse: `-name` and `--name` are the same; `-name=value` or `-name value`
for non-booleans; booleans are set by `-name` and take a value only as `-name=false`/`-name=true`; `--` ends the
flags, and so does the first argument that is not a flag; `-h`/`-help` print the usage. Errors produce Go's
messages and exit status 2.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DUR_RE = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class FlagError(Exception):
    """Bad command line; str() is Go's message."""


class HelpRequested(Exception):
    pass


def parse_duration(s: str) -> float:
    """Go time.ParseDuration, returning seconds. Raises ValueError."""
    orig = s
    if s in ("0", "+0", "-0"):
        return 0.0
    neg = s.startswith("-")
    if s[:1] in "+-":
        s = s[1:]
    if not s:
        raise ValueError(f"time: invalid duration {orig!r}")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DUR_RE.match(s, pos)
        if not m or m.group(1) in ("", "."):
            if m is None and s[pos:].replace(".", "").isdigit():
                raise ValueError(f"time: missing unit in duration {orig!r}")
            raise ValueError(f"time: invalid duration {orig!r}")
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    return -total if neg else total


def format_duration(sec: float) -> str:
    """Go time.Duration.String() for the defaults shown in the usage text."""
    if sec == 0:
        return "0s"
    out = ""
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    if h:
        out += f"{int(h)}h"
    if h or m:
        out += f"{int(m)}m"
    out += f"{s:g}s"
    return out


class Flag:
    __slots__ = ("default", "help", "kind", "name")

    def __init__(self, name: str, kind: str, default: Any, help_text: str) -> None:
        self.name = name
        self.kind = kind  # "bool", "string", "duration", "int"
        self.default = default
        self.help = help_text


class FlagSet:
    def __init__(self, prog: str, flags: Sequence[Flag]) -> None:
        self.prog = prog
        self.flags = {f.name: f for f in flags}

    def usage(self) -> str:
        lines = [f"Usage of {self.prog}:"]
        for name in sorted(self.flags):
            f = self.flags[name]
            head = f"  -{name}"
            if f.kind != "bool":
                head += f" {f.kind}"
            lines.append(head)
            text = "    \t" + f.help.replace("\n", "\n    \t")
            if f.kind == "bool" and f.default:
                text += " (default true)"
            elif f.kind == "string" and f.default:
                text += f' (default "{f.default}")'
            elif f.kind == "duration" and f.default:
                text += f" (default {format_duration(f.default)})"
            elif f.kind == "int" and f.default:
                text += f" (default {f.default})"
            lines.append(text)
        return "\n".join(lines) + "\n"

    def parse(self, argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
        """Return (values by flag name, remaining positional args). Raises FlagError or HelpRequested."""
        values = {name: f.default for name, f in self.flags.items()}
        args = list(argv)
        i = 0
        while i < len(args):
            s = args[i]
            if len(s) < 2 or s[0] != "-":
                break
            minuses = 1
            if s[1] == "-":
                minuses = 2
                if len(s) == 2:  # "--" terminates the flags
                    i += 1
                    break
            name = s[minuses:]
            if not name or name[0] in "-=":
                raise FlagError(f"bad flag syntax: {s}")
            i += 1
            has_value = "=" in name
            value = ""
            if has_value:
                name, value = name.split("=", 1)
            f = self.flags.get(name)
            if f is None:
                if name in ("help", "h"):
                    raise HelpRequested()
                raise FlagError(f"flag provided but not defined: -{name}")
            if f.kind == "bool":
                if has_value:
                    if value in _TRUE:
                        values[name] = True
                    elif value in _FALSE:
                        values[name] = False
                    else:
                        raise FlagError(f'invalid boolean value "{value}" for -{name}: parse error')
                else:
                    values[name] = True
                continue
            if not has_value:
                if i >= len(args):
                    raise FlagError(f"flag needs an argument: -{name}")
                value = args[i]
                i += 1
            if f.kind == "duration":
                try:
                    values[name] = parse_duration(value)
                except ValueError as e:
                    raise FlagError(f'invalid value "{value}" for flag -{name}: parse error ({e})') from None
            elif f.kind == "int":
                try:
                    if len(value) > 20:  # past int64 anyway; never parse an unbounded number
                        raise ValueError(value)
                    values[name] = int(value, 0)
                except ValueError:
                    raise FlagError(f'invalid value "{value[:40]}" for flag -{name}: parse error') from None
            else:
                values[name] = value
        return values, args[i:]
