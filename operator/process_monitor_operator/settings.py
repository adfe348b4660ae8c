"""Operator settings: our own dataclass (flags) and the kopf settings we fix from the first release.

`OperatorConfig` is built by `main` from flags (or from PM_OPERATOR_* environment variables when kopf is started
directly with `-m process_monitor_operator.handlers`, as tests may do) and reaches app.py through kopf's
`memo`. `configure_kopf` is called by app.start (the startup handler): kopf's progress/diff-base annotations and its
finalizer live under our domain (changing them later would make kopf re-handle every object), watches time out and
resume.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import kopf

from . import constants as c


@dataclass(frozen=True)
class OperatorConfig:
    """Settings of one operator process."""

    agent_image: str = c.DEFAULT_AGENT_IMAGE
    """Agent image used when a ProcessMonitor does not name one."""
    resync_interval: float = 60.0
    """Seconds between level-based resyncs of every ProcessMonitor (a no-op resync makes zero writes)."""
    crd_check_interval: float = 30.0
    """Seconds between checks for prometheus-operator CRDs (a ServiceMonitor appears once its CRD is installed)."""
    metrics_address: str = "0.0.0.0:8081"
    """host:port of /metrics; empty disables it."""
    apply_log: str = ""
    """If set, append every server-side-apply body (bytes as sent, one per line) to this file (tests, debugging)."""

    @classmethod
    def from_env(cls) -> OperatorConfig:
        env = os.environ
        return cls(
            agent_image=env.get("PM_OPERATOR_AGENT_IMAGE", c.DEFAULT_AGENT_IMAGE),
            resync_interval=float(env.get("PM_OPERATOR_RESYNC_INTERVAL", "60")),
            crd_check_interval=float(env.get("PM_OPERATOR_CRD_CHECK_INTERVAL", "30")),
            metrics_address=env.get("PM_OPERATOR_METRICS_ADDRESS", ""),
            apply_log=env.get("PM_OPERATOR_APPLY_LOG", ""),
        )


def split_address(address: str) -> tuple[str, int]:
    """"host:port" or ":port" -> (host, port); host "" means all interfaces."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=c.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=c.GROUP, key="last-handled-configuration")
    settings.persistence.finalizer = f"{c.GROUP}/finalizer"
    # Watches: bookmarks + inactivity timeout catch silently stalled streams; server/client timeouts make every
    # watch reconnect now and then anyway (kopf resumes from the last resourceVersion).
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    # Handler errors are retried by the reconciler itself; keep kopf's own retry short.
    settings.execution.default_backoff = 5
    settings.posting.level = logging.INFO
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for name in ("httpx", "httpx2", "httpcore", "httpcore2"):  # lightkube's HTTP stack: one line per request
        logging.getLogger(name).setLevel(logging.WARNING)
