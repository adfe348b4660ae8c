"""Bounded, total YAML loading for files the agent reads (-config.path, -web.config.file).

Called by config.py (process_names configs) and http/webconfig.py. Three limits hold whatever the file says, so a
hostile or broken file costs at most a few hundred milliseconds and a few tens of megabytes before it is refused:
`MAX_BYTES` of input (a ConfigMap cannot be larger either), collections nested at most `MAX_DEPTH` deep, and at
most `MAX_NODES` nodes counted after alias expansion (a "billion laughs" bomb of 1 KB expands to billions; the
count is an integer per node, nothing is ever expanded to count it). Recursive aliases are refused.

Scalars are read the way process-exporter reads them. It decodes with Go's yaml.v2 into string fields, which
take the scalar's source text whatever YAML 1.1 would resolve it to: `yes` stays "yes" (not True), `1:20` stays
"1:20" (not the sexagesimal 80), `0x10` stays "0x10", and a 5,000-digit number is just a string (never handed
to int(), which refuses more than 4,300 digits). So every scalar here loads as its text, except null (`~`,
`null`, empty), which yaml.v2 turns into the zero string and which loads as None.

Every failure is a `YAMLLimitError` or a `yaml.YAMLError`; `describe()` turns either into one bounded line.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import yaml
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from .quote import QUOTE_MAX, short

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_NODES = 50_000


class YAMLLimitError(ValueError):
    """The document exceeds one of the limits; str() is the one-line reason."""


def _text_scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)


def _binary_scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    # yaml.v2 decodes !!binary into a string field as the decoded bytes.
    try:
        raw = base64.b64decode(loader.construct_scalar(node).encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise yaml.constructor.ConstructorError(None, None, f"invalid !!binary data: {e}", node.start_mark) from None
    return raw.decode("utf-8", "replace")


class _Loader(yaml.SafeLoader):
    """SafeLoader (pure Python: precise error positions; its composer recursion is what MAX_DEPTH bounds)."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> node count after alias expansion
        # Nodes of the expanded document composed so far: +1 per node, +its size per alias. Equal to the root's
        # expanded size at the end, and checked as it grows, so a flat list of a million items stops early too.
        self._total = 0

    def compose_node(self, parent: Node | None, index: object) -> Node:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:  # its anchor is still being composed: the alias is inside itself
                raise YAMLLimitError(f"recursive alias *{short(event.anchor)} at {_at(event.start_mark)}")
            self._count(size, event.start_mark)
            return node
        event = self.peek_event()
        collection = isinstance(event, (SequenceStartEvent, MappingStartEvent))
        if collection:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise YAMLLimitError(f"nested deeper than {MAX_DEPTH} levels at {_at(event.start_mark)}")
        try:
            node = super().compose_node(parent, index)
        finally:
            if collection:
                self._depth -= 1
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._sizes[id(child)] for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        self._sizes[id(node)] = size
        self._count(1, node.start_mark)
        return node

    def _count(self, nodes: int, mark: Any) -> None:
        self._total += nodes
        if self._total > MAX_NODES:
            raise YAMLLimitError(
                f"more than {MAX_NODES} nodes after alias expansion (at {_at(mark)}); "
                "a config this large, or aliases that multiply content, are refused"
            )


for _tag in ("bool", "int", "float", "timestamp", "str"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _text_scalar)
_Loader.add_constructor("tag:yaml.org,2002:binary", _binary_scalar)


def _at(mark: Any) -> str:
    return f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else "unknown position"


def load(data: bytes | str) -> Any:
    """Load one YAML document within the limits. Raises YAMLLimitError or yaml.YAMLError."""
    if len(data) > MAX_BYTES:
        raise YAMLLimitError(f"file is {len(data)} bytes, more than the {MAX_BYTES} allowed")
    loader = _Loader(data)
    try:
        # The first document only, as yaml.v2's Unmarshal: what follows a `---` is never even scanned.
        return loader.get_data() if loader.check_data() else None
    except RecursionError:
        # Not reachable within MAX_DEPTH on a normal stack; kept so no input can ever surface as a traceback.
        raise YAMLLimitError("document nested too deeply to load") from None
    finally:
        loader.dispose()


def describe(e: Exception) -> str:
    """One bounded line for a loading failure: the position and PyYAML's problem, or the limit hit."""
    if isinstance(e, YAMLLimitError):
        return str(e)
    mark = getattr(e, "problem_mark", None)
    where = f" at {_at(mark)}" if mark is not None else ""
    problem = getattr(e, "problem", None) or (str(e).splitlines() or ["unreadable"])[0]
    if len(problem) > 2 * QUOTE_MAX:  # PyYAML quotes tags, anchors and characters from the input
        problem = problem[: 2 * QUOTE_MAX] + "..."
    return f"invalid YAML{where}: {problem}"


def read_bounded(path: str) -> bytes:
    """The file's bytes, reading at most one byte past MAX_BYTES (a 10 GB file is never read whole).

    Raises OSError, or YAMLLimitError when the file is too large.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise YAMLLimitError(f"file is larger than the {MAX_BYTES} bytes allowed")
    return data
