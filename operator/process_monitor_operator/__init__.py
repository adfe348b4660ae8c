"""process-monitor operator: a kopf operator that owns everything a ProcessMonitor needs.

Public surface: `render.render_all` (pure renderer), `main.main` (the operator), `cli.main` (the user CLI).
Everything else is internal and thin (handlers, apply, status).
"""

from __future__ import annotations

__version__ = "0.1.0"
