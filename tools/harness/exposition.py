"""Reading a Prometheus text exposition: prometheus_client's parser underneath, in the shapes tests use.

Used by the side-by-side and real-node tests, the agent and operator integration tests, bench/ and the quick
start. `parse` gives every sample in served order as `Sample(name, labels, value)`; `flat` gives
{'name{labels}': value} keyed as the exporter spelled the series; `select`, `by_group`, `groups` and
`group_labelsets` slice the samples of process-exporter's `namedprocess_namegroup_*` families.

prometheus_client.parser follows OpenMetrics in naming a counter's samples `<name>_total`; a counter declared
without that suffix (process-exporter's `namedprocess_scrape_errors`) keeps its served name here, so tests compare
what was served. Text the parser rejects raises ExpositionError (a ValueError) with its message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

GROUP_PREFIX = "namedprocess_namegroup_"


@dataclass(frozen=True)
class Sample:
    """One exposition line: metric name, its labels (in served order), its value."""

    name: str
    labels: dict[str, str] = field(hash=False)
    value: float


class ExpositionError(ValueError):
    """Text that is not a valid text exposition."""


def types(text: str) -> dict[str, str]:
    """Map metric family name, as its `# TYPE` line spells it -> declared type."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            out[parts[2]] = parts[3]
    return out


def parse(text: str) -> list[Sample]:
    """Every sample of an exposition, in served order. Raises ExpositionError on text the parser rejects."""
    # The counters prometheus_client renames to <name>_total: declared without the suffix.
    renamed = {name + "_total": name for name, kind in types(text).items()
               if kind == "counter" and not name.endswith("_total")}
    try:
        return [Sample(renamed.get(s.name, s.name), dict(s.labels), float(s.value))
                for family in text_string_to_metric_families(text) for s in family.samples]
    except ValueError as exc:
        raise ExpositionError(f"not a valid text exposition: {exc}") from None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def key(sample: Sample) -> str:
    """The series as an exporter writes it: `name{a="x",b="y"}` (labels in served order), or `name`."""
    if not sample.labels:
        return sample.name
    return sample.name + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sample.labels.items()) + "}"


def flat(text: str) -> dict[str, float]:
    """{'name{labels}': value} of every sample (see `key`)."""
    return {key(s): s.value for s in parse(text)}


def labelsets(samples: Iterable[Sample], name: str) -> dict[frozenset[tuple[str, str]], float]:
    """{frozenset of label pairs: value} of every sample of metric `name`."""
    return {frozenset(s.labels.items()): s.value for s in samples if s.name == name}


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
            k = tuple(sorted((k, v) for k, v in s.labels.items() if k != "groupname"))
            out.setdefault(s.name, {})[k] = s.value
    return out
