"""The Prometheus text format (0.0.4) as the agent writes it: value formatting, escaping, and `Family`, the
declaration of one metric family with its one writer.

A leaf (imports nothing of the agent). Read by export/families.py and export/own.py (the declarations), by the
collector and by every owner of own metrics (HTTP server, reload, gpu monitor, pod attribution) to write them.
Values are formatted as Go's client does (shortest float, exponent from 1e6 on), so the text reads the same as
process-exporter's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# One sample: the values of the family's labels, in `Family.labels` order (None: that label is absent from this
# series, e.g. GPU_I_ID of a GPU that is not a MIG instance), and the value.
Sample = tuple[tuple[Any, ...], float | int]
# Per-group families: the samples of one group (model.GroupSnapshot) given the rendering options.
GroupSamples = Callable[[Any, Any], Iterable[Sample]]


def fmt_value(v: float | int) -> str:
    """Go strconv.FormatFloat(v, 'g', -1, 64), as client_golang's text writer prints sample values: the shortest
    digits that round-trip, in exponent form when the decimal exponent is < -4 or >= 6."""
    if isinstance(v, int) and -1_000_000 < v < 1_000_000:
        return str(v)
    v = float(v)
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    if v.is_integer() and -1e6 < v < 1e6:
        return str(int(v))
    r = repr(v)  # shortest round-trip digits, like Go's
    if 1e-4 <= abs(v) < 1e6:
        return r  # decimal exponent -4 .. 5: repr's fixed notation is Go's (the common case: CPU seconds)
    sign = ""
    if r[0] == "-":
        sign, r = "-", r[1:]
    mant, _, e = r.partition("e")
    exp = int(e) if e else 0
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    dexp = len(ip.lstrip("0")) - 1 + exp if ip.strip("0") else -(len(fp) - len(fp.lstrip("0"))) - 1 + exp
    digits = (ip + fp).lstrip("0").rstrip("0") or "0"
    if dexp < -4 or dexp >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'-' if dexp < 0 else '+'}{abs(dexp):02d}"
    if dexp < 0:
        return sign + "0." + "0" * (-dexp - 1) + digits
    if len(digits) <= dexp + 1:
        return sign + digits + "0" * (dexp + 1 - len(digits))
    return sign + digits[: dexp + 1] + "." + digits[dexp + 1 :]


def escape_label(v: str) -> str:
    if "\\" in v or '"' in v or "\n" in v:
        v = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return v


def escape_help(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n")


def label_text(prefixes: tuple[str, ...], values: tuple[Any, ...]) -> str:
    """`,a="x",b="y"` for label prefixes (`,a="`, see `Family.prefixes`) and values; a None value is left out."""
    n = len(prefixes)
    if n == 1:
        return prefixes[0] + escape_label(str(values[0])) + '"'
    if n == 2 and values[1] is not None:  # thread families (threadname, mode): spelled out, the hot case
        return prefixes[0] + escape_label(str(values[0])) + '"' + prefixes[1] + escape_label(str(values[1])) + '"'
    return "".join(p + escape_label(str(v)) + '"' for p, v in zip(prefixes, values, strict=True) if v is not None)


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family, declared once: its full name, help, type and label names (in output order; per-group
    families put `groupname`, and with -kubernetes.labels namespace, pod and container, before these).
    `samples` is set for per-group families (export/families.py); the owners of the agent's own families pass
    the samples to `write` instead."""

    name: str
    help: str
    kind: str  # "counter" | "gauge"
    labels: tuple[str, ...] = ()
    samples: GroupSamples | None = None

    @property
    def header(self) -> str:
        return f"# HELP {self.name} {escape_help(self.help)}\n# TYPE {self.name} {self.kind}\n"

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(f',{n}="' for n in self.labels)

    def write(self, out: list[str], samples: Iterable[Sample]) -> None:
        """Append the family to `out` (text chunks): its header, then one line per sample, even when there is
        none (the agent's own families are written whole, as client_golang writes a registered vector)."""
        out.append(self.header)
        name, prefixes = self.name, self.prefixes
        for values, v in samples:
            if prefixes:
                out.append(f"{name}{{{label_text(prefixes, values)[1:]}}} {fmt_value(v)}\n")
            else:
                out.append(f"{name} {fmt_value(v)}\n")
