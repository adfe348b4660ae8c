"""The operator's Kubernetes client: `Api`, counted GET / server-side apply / status patch / delete / list.

`Api` wraps one lightkube `AsyncClient` (KUBECONFIG or the in-cluster ServiceAccount): every request goes
through it and is counted by verb in `Metrics`. All kinds are handled as lightkube generic resources, so bodies
are plain dicts, sent exactly as rendered (one field manager, `process-monitor-operator`, `force=true`).
Also the small object helpers the applier shares (`child_key`, `strip`, `rv`). Used by k8s/applier.py and
reconcile.py; built by app.py.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import lightkube
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import (
    GenericGlobalResource,
    GenericGlobalStatus,
    GenericNamespacedResource,
    GenericNamespacedStatus,
    _create_subresource,
    create_api_info,
)
from lightkube.types import PatchType

from .. import constants as c

if TYPE_CHECKING:
    from ..metrics import Metrics

log = logging.getLogger(__name__)

ChildKey = tuple[str, str, str, str]  # (apiVersion, kind, namespace, name)


def child_key(obj: dict[str, Any]) -> ChildKey:
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))


_RESOURCES: dict[tuple[str, str, str], Any] = {}


def resource(api_version: str, kind: str, plural: str, namespaced: bool = True) -> Any:
    """A lightkube generic resource class for any kind, core ones included.

    Built directly rather than with `create_namespaced_resource`, whose global registry refuses a generic class for
    a kind lightkube also ships typed (ServiceAccount, ConfigMap, ...); we want dict bodies for every kind.
    """
    key = (api_version, kind, plural)
    if key not in _RESOURCES:
        group, _, version = api_version.rpartition("/")
        base = GenericNamespacedResource if namespaced else GenericGlobalResource
        status = GenericNamespacedStatus if namespaced else GenericGlobalStatus
        info = create_api_info(group, version, kind, plural)
        cls = type(kind, (base,), {"_api_info": info})
        cls.Status = _create_subresource(status, info, action="status")
        _RESOURCES[key] = cls
    return _RESOURCES[key]


def strip(obj: dict[str, Any]) -> dict[str, Any]:
    """A plain dict copy without managedFields (kept out of caches: they are large and unused)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


def rv(obj: dict[str, Any] | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


class Api:
    """The operator's Kubernetes client: counted GET / apply / status patch / delete on generic resources."""

    def __init__(self, metrics: Metrics, client: lightkube.AsyncClient | None = None) -> None:
        self.metrics = metrics
        self.client = client or lightkube.AsyncClient(field_manager=c.FIELD_MANAGER)
        self._plurals: dict[tuple[str, str], str] = {}

    def register(self, api_version: str, kind: str, plural: str) -> None:
        self._plurals[(api_version, kind)] = plural

    def _res(self, api_version: str, kind: str) -> Any:
        return resource(api_version, kind, self._plurals[(api_version, kind)])

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.metrics.api_call("get", kind)
        try:
            obj = await self.client.get(self._res(api_version, kind), name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise
        return strip(dict(obj))

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        api_version, kind, namespace, name = child_key(manifest)
        self.metrics.api_call("apply", kind)
        obj = await self.client.patch(self._res(api_version, kind), name, manifest, namespace=namespace,
                                      patch_type=PatchType.APPLY, field_manager=c.FIELD_MANAGER, force=True)
        return strip(dict(obj))

    async def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        self.metrics.api_call("delete", kind)
        try:
            await self.client.delete(self._res(api_version, kind), name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code != 404:
                raise

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.metrics.api_call("patch", c.KIND)
        res = resource(c.API_VERSION, c.KIND, c.PLURAL)
        await self.client.patch(res.Status, name, {"status": status}, namespace=namespace,
                                patch_type=PatchType.MERGE)

    async def last_failed_create(self, namespace: str, daemonset: str) -> str | None:
        """The message of the newest FailedCreate Event of DaemonSet `daemonset` (the DaemonSet controller's report
        of a pod the API server refused, e.g. by Pod Security admission), or None. A read, never a write."""
        self.metrics.api_call("list", "Event")
        fields = {"involvedObject.kind": "DaemonSet", "involvedObject.name": daemonset, "reason": "FailedCreate"}
        newest: tuple[str, str] | None = None
        async for ev in self.client.list(resource("v1", "Event", "events"), namespace=namespace, fields=fields):
            when = str(ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {}).get(
                "creationTimestamp") or "")
            if newest is None or when >= newest[0]:
                newest = (when, str(ev.get("message") or ""))
        return newest[1] if newest else None

    async def get_crd(self, name: str) -> bool:
        """Whether the CustomResourceDefinition `name` exists (and is established)."""
        self.metrics.api_call("get", "CustomResourceDefinition")
        crd = resource("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions",
                       namespaced=False)
        try:
            obj = await self.client.get(crd, name)
        except ApiError as exc:
            if exc.status.code == 404:
                return False
            raise
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(x.get("type") == "Established" and x.get("status") == "True" for x in conditions)

    async def close(self) -> None:
        await self.client.close()
