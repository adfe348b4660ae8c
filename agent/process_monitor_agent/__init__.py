"""process-monitor agent: a drop-in, cheaper, hot-reloading successor of ncabatoff/process-exporter.

Entry points: `process-monitor-agent` / `python -m process_monitor_agent` (cli.main). Module map: cli (flags),
config + rules + template (grouping rules), procfs/ (file parsers), tracker (per-process state), grouper
(per-group accumulators), export/ (families as data, text format, own and standard metrics), collector (one
shared collection), http/ (routes, bounded server, web config), reload (file watch, SIGHUP, HTTP reload).
Nothing heavy is imported here.
"""

__version__ = "0.1.0"
