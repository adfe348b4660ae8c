"""Byte-exact serialisation of manifests: the apply body (JSON) and the review form (YAML).

`to_json_bytes` is the very encoder lightkube uses for request bodies (msgspec, insertion order kept), so the CLI's
`-o json` lines equal the operator's SSA bodies byte for byte. `to_yaml` prints multi-line strings (the rules
file) as literal blocks so a review diff reads like the file itself. Called by k8s/applier.py, render/__init__.py
and `cli`.
"""

from __future__ import annotations

from typing import Any

import msgspec
import yaml


def to_json_bytes(manifest: dict[str, Any]) -> bytes:
    return msgspec.json.encode(manifest)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and all(line == line.rstrip() for line in value.split("\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(manifests: list[dict[str, Any]]) -> str:
    return yaml.dump_all(manifests, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                         explicit_start=True, width=120)
