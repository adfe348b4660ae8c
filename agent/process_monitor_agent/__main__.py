"""`python -m process_monitor_agent`: same as the `process-monitor-agent` console script."""

from .cli import main

raise SystemExit(main())
