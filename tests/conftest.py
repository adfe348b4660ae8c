"""Session-wide test setup shared by every test layer.

Puts this checkout's sources first on PYTHONPATH for subprocesses too, so an agent or operator started by a test
(`python -m process_monitor_agent ...`) runs the code under test, not a pip-installed copy.
"""

from __future__ import annotations

import os
import pathlib

# Fixtures `kube_cluster` and `namespace` (local control plane on 127.0.0.1); see tools/localcluster/pytest_plugin.py.
pytest_plugins = ["localcluster.pytest_plugin"]

ROOT = pathlib.Path(__file__).resolve().parent.parent
_SRC = [str(ROOT / "agent"), str(ROOT / "operator"), str(ROOT / "tools")]
os.environ["PYTHONPATH"] = os.pathsep.join(_SRC + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
