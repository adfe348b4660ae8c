"""Does a live object already hold what we would apply? Pure; used by k8s/applier.py to skip needless writes.

`contains(desired, live)`: every field we set is present in the live object with the same value (mappings may have
extra keys that the API server or other managers added; lists must match element by element; Kubernetes
quantities compare by value, so "0.5" equals "500m"). Fields removed from the desired state are caught separately
by the digest annotation the renderer stamps on every child.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$")
_FACTORS = {
    None: Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": Decimal("1e3"),
    "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def quantity(value: str) -> Decimal | None:
    """The value of a Kubernetes quantity string, or None if it is not one."""
    m = _QUANTITY.match(value)
    if not m:
        return None
    try:
        number = Decimal(m.group(1))
        suffix = m.group(2)
        if suffix and suffix[0] in "eE":
            return number * (Decimal(10) ** int(suffix[1:]))
        return number * _FACTORS[suffix]
    except (InvalidOperation, KeyError, ValueError):
        return None


def _same_scalar(desired: Any, live: Any) -> bool:
    if desired == live and type(desired) is type(live):
        return True
    if isinstance(desired, str) and isinstance(live, str):
        a, b = quantity(desired), quantity(live)
        return a is not None and a == b
    return False


def contains(desired: Any, live: Any) -> bool:
    """True when `live` holds every field of `desired` with an equal value."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(k in live and contains(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(contains(d, x) for d, x in zip(desired, live, strict=True))
    return _same_scalar(desired, live)
