"""Small pure PromQL helpers: string literals, RE2 escaping, durations, byte quantities, label matchers.

Called by monitoring/alerts.py (validation of `spec.alerts`), monitoring/rules.py (building expressions) and,
through them, by the renderer, the CLI and validation.py. No I/O, no state.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Prometheus' duration syntax (model.ParseDuration), units in descending order, at least one.
_DURATION = re.compile(r"^(?!$)((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGTPE]i|[kKMGTPE])?$")
_QUANTITY_FACTOR = {
    None: 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
# One PromQL label matcher: name, operator, double-quoted string (escapes allowed).
_MATCHER = re.compile(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*')
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RE2_META = set("\\.+*?()|[]{}^$")


def promql_string(value: str) -> str:
    """A PromQL double-quoted string literal (Go escapes: backslash, quote, control characters)."""
    return json.dumps(value, ensure_ascii=False)


def re2_escape(value: str) -> str:
    """Escape RE2 metacharacters only (Go's regexp.QuoteMeta); Python's re.escape also escapes spaces, which RE2
    rejects."""
    return "".join("\\" + ch if ch in _RE2_META else ch for ch in value)


def parse_quantity(value: Any) -> int:
    """Bytes from an int or a Kubernetes quantity string ('512Mi', '2G'); ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError("must be a number of bytes or a quantity such as 512Mi")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("must be > 0")
        return value
    if isinstance(value, float) and value > 0:
        return int(value)
    m = _QUANTITY.match(str(value).strip()) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{value!r} is not a number of bytes or a quantity such as 512Mi or 2G")
    result = int(float(m.group(1)) * _QUANTITY_FACTOR[m.group(2)])
    if result <= 0:
        raise ValueError("must be > 0")
    return result


def is_duration(value: Any) -> bool:
    return isinstance(value, str) and bool(_DURATION.match(value))


def is_label_name(value: str) -> bool:
    return bool(_LABEL_NAME.match(value))


def is_matchers(text: str) -> bool:
    """Whether `text` is a comma-separated list of PromQL label matchers (what goes between `{` and `}`)."""
    pos = 0
    while pos < len(text):
        m = _MATCHER.match(text, pos)
        if not m:
            return False
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                return False
            pos += 1
    return True


def re2_problems(regex: str) -> list[str]:
    """[] when `regex` compiles as RE2 (the syntax Prometheus, i.e. Go regexp, accepts), else the error."""
    try:
        import re2  # google-re2: the same syntax Prometheus (Go regexp) accepts
    except ImportError:  # pragma: no cover - a declared dependency; fall back to Python's parser
        try:
            re.compile(regex)
        except re.error as exc:
            return [f"invalid regular expression: {exc}"]
        return []
    try:
        re2.compile(regex)
    except Exception as exc:
        return [f"invalid regular expression: {exc}"]
    return []
