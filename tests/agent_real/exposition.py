"""Parse the Prometheus text exposition format into samples (pure functions).

Used by the side-by-side tests and by `bench/` to read what process-exporter and the agent serve. Only the parts
these exporters emit are handled: comments (`# HELP`, `# TYPE`), `name{label="value",...} value [timestamp]`, with
the format's escapes in label values (`\\\\`, `\\"`, `\\n`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

GROUP_PREFIX = "namedprocess_namegroup_"


@dataclass(frozen=True)
class Sample:
    """One exposition line: metric name, its labels, its value."""

    name: str
    labels: dict[str, str] = field(hash=False)
    value: float


class ExpositionError(ValueError):
    """A line that is not valid text exposition."""


def _parse_labels(text: str, pos: int, line: str) -> tuple[dict[str, str], int]:
    """Parse `{a="x",b="y"}` starting just after `{`; return the labels and the index after `}`."""
    labels: dict[str, str] = {}
    n = len(text)
    while True:
        while pos < n and text[pos] in " ,":
            pos += 1
        if pos < n and text[pos] == "}":
            return labels, pos + 1
        eq = text.find("=", pos)
        if eq < 0 or eq + 1 >= n or text[eq + 1] != '"':
            raise ExpositionError(f"bad label syntax in: {line!r}")
        key = text[pos:eq].strip()
        pos = eq + 2
        chars: list[str] = []
        while True:
            if pos >= n:
                raise ExpositionError(f"unterminated label value in: {line!r}")
            c = text[pos]
            if c == "\\" and pos + 1 < n:
                nxt = text[pos + 1]
                chars.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                pos += 2
            elif c == '"':
                pos += 1
                break
            else:
                chars.append(c)
                pos += 1
        labels[key] = "".join(chars)


def _parse_value(text: str, line: str) -> float:
    token = text.split()[0] if text.split() else ""
    special = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    if token in special:
        return special[token]
    try:
        return float(token)
    except ValueError:
        raise ExpositionError(f"bad sample value in: {line!r}") from None


def parse(text: str) -> list[Sample]:
    """Return every sample of an exposition, in order. Raises ExpositionError on a malformed line."""
    samples: list[Sample] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace >= 0 and (space < 0 or brace < space):
            name = line[:brace]
            labels, end = _parse_labels(line, brace + 1, line)
            rest = line[end:]
        else:
            if space < 0:
                raise ExpositionError(f"sample without value: {line!r}")
            name, labels, rest = line[:space], {}, line[space:]
        samples.append(Sample(name, labels, _parse_value(rest, line)))
    return samples


def types(text: str) -> dict[str, str]:
    """Map metric family name -> declared type from the `# TYPE` lines."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            out[parts[2]] = parts[3]
    return out


def select(samples: Iterable[Sample], name: str, **labels: str) -> list[Sample]:
    """Samples of metric `name` whose labels include every given label=value."""
    return [s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def by_group(samples: Iterable[Sample], metric: str, **labels: str) -> dict[str, float]:
    """`namedprocess_namegroup_<metric>` as {groupname: value}, restricted to the given extra labels.

    Several samples for one group (a label not pinned down, e.g. `state` left out) are summed.
    """
    out: dict[str, float] = {}
    for s in select(samples, GROUP_PREFIX + metric, **labels):
        group = s.labels.get("groupname", "")
        out[group] = out.get(group, 0.0) + s.value
    return out


def groups(samples: Iterable[Sample]) -> set[str]:
    """Every groupname that has a num_procs sample."""
    return set(by_group(samples, "num_procs"))


def group_labelsets(samples: Iterable[Sample], group: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """For one group: metric name -> {sorted non-groupname labels: value}. Handy for whole-group comparisons."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for s in samples:
        if s.name.startswith(GROUP_PREFIX) and s.labels.get("groupname") == group:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "groupname"))
            out.setdefault(s.name, {})[key] = s.value
    return out
