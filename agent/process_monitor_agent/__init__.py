"""process-monitor agent: a drop-in, cheaper, hot-reloading successor of ncabatoff/process-exporter.

Entry points: `process-monitor-agent` / `python -m process_monitor_agent` (cli.main). The stages, as
process-exporter splits them: config + rules + template (grouping rules) -> procfs/ (READ: the only code that opens
/proc) -> track/ (TRACK: per-process state and deltas) -> grouper (GROUP: per-group accumulators) -> export/
(EXPORT: families as data, the text writer); model (the records they pass: Counts, ProcState, GroupSnapshot);
collector (one shared collection: track -> group -> export), http/ (routes, bounded server, web config), reload +
watch (file watch, SIGHUP, HTTP reload), gpu/ and kube/ (optional hooks). docs/code-layout.md has every module.
Nothing heavy is imported here.
"""

__version__ = "0.1.0"
