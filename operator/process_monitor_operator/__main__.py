"""`python -m process_monitor_operator` runs the operator (same as `process-monitor-operator`)."""

from __future__ import annotations

import sys

from .main import main

sys.exit(main())
