"""What Prometheus and Grafana get besides scrape targets: rules, alerts and the dashboard (content, no Kubernetes).

- promql.py: PromQL literals, RE2 escaping, durations, quantities, matchers (leaf).
- metricnames.py: `agent_metric` / `operator_metric`, the one way a rule or panel names a metric.
- recording.py: the recording rules and their names.
- alerts.py: the per-group checks as the `CHECKS` table, `spec.alerts` validation, alerting rules.
- rules.py: the rule groups of one ProcessMonitor and the plain rules-file text.
- grafana.py, panels.py, dashboard.py: Grafana's building blocks, the panels, the dashboard model.
Imported by render/prometheusrule.py, render/grafanadashboard.py, validation.py and the CLI; imports nothing from
render/.
"""
