"""EXPORT: the agent's metric families as data and the one text writer (Prometheus text format 0.0.4).

`textformat` (leaf: value formatting, escaping, `Family` and its writer), `families` (every namedprocess_* family
of a group, the selection for the flags, `BY_NAME` over every family the agent declares), `own` (the agent's own
families), `process` (its standard process/Python metrics, as prometheus_client names them). Nothing is imported here,
so `from process_monitor_agent.export.families import BY_NAME` stays light (no prometheus_client, no procfs).
"""
