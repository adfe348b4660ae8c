"""Byte-exact serialisation of manifests: the apply body (JSON) and the review form (YAML).

`to_json_bytes` is the very encoder lightkube uses for request bodies (msgspec, insertion order kept), so the CLI's
`-o json` lines equal the operator's SSA bodies byte for byte. `to_yaml` prints multi-line strings (the rules
file) as literal blocks so a review diff reads like the file itself, and quotes every string that kubectl's YAML
reader (Go, YAML 1.2 numbers) would take for a number although PyYAML (YAML 1.1) writes it plain: `123e4567`, a
digest that happens to be all digits and one `e`, would otherwise reach the API server as a float.
Called by k8s/applier.py, render/__init__.py and `cli`.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import yaml


def to_json_bytes(manifest: dict[str, Any]) -> bytes:
    return msgspec.json.encode(manifest)


class _Dumper(yaml.SafeDumper):
    pass


# Plain scalars Go's YAML reader resolves to a number (YAML 1.2 core schema, plus the 1.1 forms it still reads);
# PyYAML's 1.1 resolver quotes most of them itself, but not e.g. exponents without a dot (`1e3`, `123e4567`).
_GO_NUMBER = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and all(line == line.rstrip() for line in value.split("\n")) else None
    if style is None and _GO_NUMBER.fullmatch(value):
        style = "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(manifests: list[dict[str, Any]]) -> str:
    return yaml.dump_all(manifests, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                         explicit_start=True, width=120)
