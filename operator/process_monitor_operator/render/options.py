"""Settings of one render: what the cluster offers and operator-wide defaults. Passed in, never global.

Built by the operator from its flags and its view of the cluster's CRDs, and by the CLI from its flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import constants as c

SERVICEMONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"
PODMONITOR_API = "monitoring.coreos.com/v1/PodMonitor"
PROMETHEUSRULE_API = "monitoring.coreos.com/v1/PrometheusRule"
# Kinds the operator renders only when their CRD is installed (apiVersion + "/" + kind).
OPTIONAL_APIS = frozenset({SERVICEMONITOR_API, PODMONITOR_API, PROMETHEUSRULE_API})


@dataclass(frozen=True)
class RenderOptions:
    """Inputs of `render_all` besides the ProcessMonitor itself."""

    agent_image: str = c.DEFAULT_AGENT_IMAGE
    """Image of the agent when `spec.agent.image` is empty (operator flag --agent-image)."""

    available_apis: frozenset[str] = field(default_factory=lambda: OPTIONAL_APIS)
    """Optional kinds whose CRD is installed, as "group/version/Kind". The CLI assumes all of them by default."""

    def has(self, api: str) -> bool:
        return api in self.available_apis
