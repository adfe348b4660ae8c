"""Fixtures for the real-node layer: the chart's operator as a pod on real-node-0, namespaces for agents.

`real_cluster` (localcluster.pytest_plugin) gives a cluster with one kwok node and the real node, our images loaded.
`operator_release` installs charts/process-monitor once per session with the operator image, its own
ServiceAccount and RBAC, hostNetwork and the API server at 127.0.0.1 (this cluster has no pod network and its
`kubernetes` Service IP is fiction). `agent_namespace` gives each test a namespace at Pod Security `privileged`
(what the agent needs) and, afterwards, deletes it and waits until none of its pods is left on the real node.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from localcluster import realpods
from localcluster.cluster import Cluster
from localcluster.ports import free_port
from realnode_helpers import OPERATOR_NS, RELEASE, ROOT, privileged_namespace


@pytest.fixture(scope="session")
def operator_release(real_cluster: Cluster) -> Iterator[dict[str, Any]]:
    c = real_cluster
    c.kubectl("create", "namespace", OPERATOR_NS)
    # hostNetwork is forbidden by `baseline` and `restricted`: this namespace must allow it here (no pod network).
    c.kubectl("label", "namespace", OPERATOR_NS, "pod-security.kubernetes.io/enforce=privileged")
    # short resyncs, so drift tests stay short
    values = realpods.chart_values(c.server, probe_port=free_port(), metrics_port=free_port(),
                                   extra_args=["--resync-interval=10", "--crd-check-interval=10"])
    values["tests"] = {"enabled": False}
    c.helm("install", RELEASE, str(ROOT / "charts" / "process-monitor"), "--namespace", OPERATOR_NS,
           "-f", "-", "--wait", "--timeout", "4m", input=json.dumps(values), timeout=300)
    try:
        yield values
    finally:
        c.helm("uninstall", RELEASE, "--namespace", OPERATOR_NS, "--wait", "--timeout", "2m", check=False,
               timeout=180)
        c.kubectl("delete", "namespace", OPERATOR_NS, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture
def agent_namespace(real_cluster: Cluster, operator_release: dict[str, Any]) -> Iterator[str]:
    with privileged_namespace(real_cluster, "pm-agents") as name:
        yield name
