"""Quoting user input in messages, bounded: every error and warning about a config, a template or a request
quotes input through `short` (repr, cut) or `clip` (text, cut). Called by boundedyaml.py, config.py, template.py.

repr() of an aliased YAML structure can take exponential time and memory, and a 1 MiB scalar does not belong in a
log line; these never format more than QUOTE_MAX characters of input, and never format a collection at all.
"""

from __future__ import annotations

QUOTE_MAX = 80


def short(value: object, limit: int = QUOTE_MAX) -> str:
    """repr() of a scalar cut to `limit` characters; collections are named, never formatted.

    Messages quote user input through this only: repr() of an aliased structure can take exponential time and
    memory, and a 1 MiB scalar does not belong in a log line.
    """
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"a list of {len(value)} items"
    if isinstance(value, (bytes, str)) and len(value) > limit:
        return repr(value[:limit]) + f"... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def clip(text: str, limit: int = QUOTE_MAX) -> str:
    """`text` itself (no quotes) cut to `limit` characters, for messages that embed a piece of input."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
