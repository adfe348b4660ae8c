"""ConfigMap holding the agent's rules as `config.yaml` in process-exporter's format. Pure renderer,
called by `render_all`; `config_yaml` also by validation.py.

The agent mounts it as a directory and reloads when the kubelet swaps it, so a rules change touches only this
object and never the DaemonSet's pod template. `config_yaml` is deterministic to the byte.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from .. import constants as c
from .common import metadata

if TYPE_CHECKING:
    from ..spec import Source
    from .options import RenderOptions

API_VERSION = "v1"
KIND = "ConfigMap"
PLURAL = "configmaps"
_ENTRY_KEYS = ("name", "comm", "exe", "cmdline", "gpu")


def config_yaml(src: Source) -> str:
    """process-exporter's `process_names` document for `src.spec.processNames` (its four keys and our `gpu`)."""
    entries = []
    for entry in src.process_names:
        entries.append({k: entry[k] for k in _ENTRY_KEYS if entry.get(k) not in (None, [])})
    return yaml.safe_dump({"process_names": entries}, sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=1_000_000)


def render(src: Source, options: RenderOptions) -> list[dict[str, Any]]:
    return [{
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(src),
        "data": {c.CONFIG_KEY: config_yaml(src)},
    }]
