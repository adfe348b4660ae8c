"""Fixed names of the ProcessMonitor API and of the labels on its children (design.md: do not change lightly).

Imported by the renderer, the operator and the CLI; holds no logic.
"""

from __future__ import annotations

GROUP = "monitoring.process-monitor.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ProcessMonitor"
PLURAL = "processmonitors"

# The one field manager for every server-side apply the operator makes.
FIELD_MANAGER = "process-monitor-operator"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "process-monitor-operator"
PARENT_LABEL = f"{GROUP}/processmonitor"
NAME_LABEL = "app.kubernetes.io/name"
AGENT_NAME = "process-monitor-agent"
COMPONENT_LABEL = "app.kubernetes.io/component"

# Stamped on every child: the digest of its manifest (render/__init__.py writes it, k8s apply compares it).
DIGEST_ANNOTATION = f"{GROUP}/applied-digest"

# Target labels every discovery path we ship sets (ServiceMonitor, PodMonitor, the documented kubernetes_sd job):
# the shipped rules select a ProcessMonitor's series by them. With spec.kubernetes.labels, `namespace` is the
# workload's (cAdvisor's meaning), so the ProcessMonitor's namespace travels as SCOPE_NAMESPACE_LABEL instead.
SCOPE_LABEL = "processmonitor"
SCOPE_NAMESPACE_LABEL = "processmonitor_namespace"

# process-exporter's default port; the agent keeps it.
DEFAULT_PORT = 9256
PORT_NAME = "http-metrics"
CONFIG_KEY = "config.yaml"
CONFIG_DIR = "/etc/process-monitor"
HOST_PROC = "/host/proc"

# The image the operator deploys when spec.agent.image is empty; the operator's --agent-image flag overrides it.
DEFAULT_AGENT_IMAGE = "ghcr.io/process-monitor/process-monitor-agent:0.1.0"
