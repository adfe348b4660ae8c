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

# process-exporter's default port; the agent keeps it.
DEFAULT_PORT = 9256
PORT_NAME = "http-metrics"
CONFIG_KEY = "config.yaml"
CONFIG_DIR = "/etc/process-monitor"
HOST_PROC = "/host/proc"

# The image the operator deploys when spec.agent.image is empty; the operator's --agent-image flag overrides it.
DEFAULT_AGENT_IMAGE = "ghcr.io/process-monitor/process-monitor-agent:0.1.0"
