"""ServiceAccount of the agent pods. Pure renderer, called by `render_all`.

The agent reads only /proc and its mounted ConfigMap, never the Kubernetes API, so its account has no token
mounted and no Role or RoleBinding at all (nothing cluster-scoped that a namespaced owner could not own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import metadata

if TYPE_CHECKING:
    from ..spec import Source
    from .options import RenderOptions

API_VERSION = "v1"
KIND = "ServiceAccount"
PLURAL = "serviceaccounts"


def render(src: Source, options: RenderOptions) -> list[dict[str, Any]]:
    return [{
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(src),
        "automountServiceAccountToken": False,
    }]
