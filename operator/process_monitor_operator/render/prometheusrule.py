"""prometheus-operator PrometheusRule: the recording rules and alerts of `spec.alerts`. Pure, called by render_all.

The rule groups come from monitoring/rules.py, the same function `process-monitor render --rules` prints as a plain
rules file, so Prometheus with and without the operator evaluates identical rules. Rendered when
`spec.alerts.enabled` (default true) and the `prometheusrules.monitoring.coreos.com` CRD is installed; without
that CRD the status says it was skipped and where the plain rules file comes from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..monitoring import rules
from . import kubernetes
from .common import metadata
from .options import PROMETHEUSRULE_API, RenderOptions

if TYPE_CHECKING:
    from ..spec import Source

API_VERSION = "monitoring.coreos.com/v1"
KIND = "PrometheusRule"
PLURAL = "prometheusrules"
OPTIONAL_API = PROMETHEUSRULE_API


def _alerts(src: Source) -> dict[str, Any]:
    return src.spec.get("alerts") or {}


def wanted(src: Source) -> bool:
    return _alerts(src).get("enabled", True) is not False


def skipped(src: Source, options: RenderOptions) -> str | None:
    if wanted(src) and not options.has(OPTIONAL_API):
        return ("PrometheusRule skipped: CRD prometheusrules.monitoring.coreos.com is not installed "
                "(`process-monitor render --rules` prints the same rules as a plain Prometheus rules file)")
    return None


def render(src: Source, options: RenderOptions) -> list[dict[str, Any]]:
    if not wanted(src) or not options.has(OPTIONAL_API):
        return []
    groups = rules.rule_groups(_alerts(src), src.name, src.namespace, kubernetes.labels_on(src))
    if not groups:
        return []
    return [{
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(src, labels=dict(_alerts(src).get("ruleLabels") or {})),
        "spec": {"groups": groups},
    }]
