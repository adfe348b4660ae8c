"""How the operator logs in to the API server: the in-cluster address as client-go finds it, else KUBECONFIG.

Registered as kopf's login handler by `handlers` (a registered handler replaces kopf's defaults). kopf's own
service-account login always dials `https://kubernetes.default.svc`, which needs cluster DNS and the `kubernetes`
Service. client-go, kubectl and lightkube (our apply client) instead use KUBERNETES_SERVICE_HOST/PORT, which the
kubelet sets in every pod and which a chart value can point elsewhere (the local real node has no cluster DNS
and its Service IPs are fiction: chart values `apiServer.host/port`). This does the same, so kopf's watches and
lightkube's writes always reach the same server. The token file is read at every login, so kopf's re-login on a
401 picks up the kubelet's rotated token.
"""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING, Any

import kopf

if TYPE_CHECKING:
    from collections.abc import Mapping

SERVICE_ACCOUNT_DIR = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount")
PRIORITY = 30  # above kopf's own handlers (10-20), should any be registered too


def in_cluster_server(env: Mapping[str, str]) -> str | None:
    """The API server URL from KUBERNETES_SERVICE_HOST/PORT (IPv6 hosts bracketed), or None when unset."""
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        return None
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def in_cluster(env: Mapping[str, str], sa_dir: pathlib.Path = SERVICE_ACCOUNT_DIR) -> kopf.ConnectionInfo | None:
    """ConnectionInfo from the pod's ServiceAccount files and the in-cluster address, or None outside a pod."""
    server = in_cluster_server(env)
    token_file = sa_dir / "token"
    if server is None or not token_file.is_file():
        return None
    ns_file, ca_file = sa_dir / "namespace", sa_dir / "ca.crt"
    return kopf.ConnectionInfo(
        server=server,
        ca_path=str(ca_file) if ca_file.is_file() else None,
        token=token_file.read_text().strip() or None,
        default_namespace=ns_file.read_text().strip() if ns_file.is_file() else None,
        priority=PRIORITY,
    )


def login(settings: kopf.OperatorSettings, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf login handler: in-cluster first, then KUBECONFIG / ~/.kube/config as kopf itself would."""
    return in_cluster(os.environ) or kopf.login_with_kubeconfig(settings=settings, **kwargs)
