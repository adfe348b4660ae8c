"""Names and label values of children, valid for every legal ProcessMonitor name.

A ProcessMonitor name is a DNS subdomain (up to 253 characters, dots allowed, may start with a digit); a Service
name must be an RFC 1035 label (63 characters, starts with a letter, no dots) and a label value is at most 63
characters. Long or dotted names are shortened with a stable hash of the full name, so two different parents never
share children and the same parent always gets the same names. Pure; called by the renderer.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
PREFIX = "pmon-"
_BAD = re.compile(r"[^a-z0-9-]")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _shorten(base: str, full: str, limit: int) -> str:
    """`base` if it fits, else a prefix of it plus '-' and an 8-hex hash of `full`."""
    if len(base) <= limit:
        return base
    head = base[: limit - 9].rstrip("-.")
    return f"{head}-{_digest(full)}"


def child_name(pm_name: str, suffix: str = "") -> str:
    """Name of a child: `pmon-<name>[-<suffix>]`, a valid RFC 1035 label for any ProcessMonitor name."""
    clean = _BAD.sub("-", pm_name.lower())
    tail = f"-{suffix}" if suffix else ""
    plain = f"{PREFIX}{clean}{tail}"
    if clean == pm_name and len(plain) <= MAX_NAME:
        return plain
    # Dots were replaced or the name is cut: the hash of the full name keeps `a.b` and `a-b` apart.
    room = MAX_NAME - len(PREFIX) - len(tail) - 9
    head = clean[:room].rstrip("-")
    return f"{PREFIX}{head}-{_digest(pm_name)}{tail}"


def label_value(pm_name: str) -> str:
    """The parent label value: the name itself when it is a valid label value, else a shortened hashed form."""
    if len(pm_name) <= MAX_NAME:
        return pm_name
    return _shorten(pm_name, pm_name, MAX_NAME)
