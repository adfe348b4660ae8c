"""The local cluster's admin kubeconfig: one context, the CA and the admin client cert embedded (self-contained).

Called by localcluster.cluster when `up` starts a fresh cluster (written to <state dir>/kubeconfig); pure.
"""

from __future__ import annotations

import base64
import json
import pathlib

from . import pki as pki_mod

CONTEXT = "process-monitor-local"


def kubeconfig_text(server: str, p: pki_mod.Pki) -> str:
    """Admin kubeconfig with the CA, client cert and key embedded (self-contained, JSON is valid YAML)."""
    def b64(path: pathlib.Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server, "certificate-authority-data": b64(p.ca_crt)}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64(p.admin_crt),
                                             "client-key-data": b64(p.admin_key)}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": "admin"}}],
        "current-context": CONTEXT,
    }
    return json.dumps(config, indent=2) + "\n"
