"""The local cluster's one error type, shared by cluster.py and the modules it calls (state, nodes).

Kept apart so modules below cluster.py can raise it without importing cluster.py (which imports them).
"""

from __future__ import annotations

from . import procs


class ClusterError(procs.SupervisionError):
    """The local control plane could not be started/stopped; the message says which component and why.
    (A failed wait raises its base class, procs.SupervisionError: catch that one.)"""
