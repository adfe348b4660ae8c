"""kopf handlers: thin glue between kopf's watches and the `Reconciler`.

- login: the in-cluster address from KUBERNETES_SERVICE_HOST/PORT as client-go uses it, else KUBECONFIG (login.py).
- startup: configure kopf (our persistence prefixes and finalizer), build the API client, the reconciler and the
  /metrics server, check optional CRDs once, start the periodic resync; cleanup undoes it.
- ProcessMonitor create/update/resume: reconcile now (server-side apply of the full desired state).
- every ProcessMonitor event: keep the latest body (status included) for background reconciles; forget on delete.
- every event on a child (our label or a ProcessMonitor owner reference): update the live-object cache and
  re-reconcile its owner, so an edited or deleted child is restored and the status follows the DaemonSet.
No delete handler, so kopf adds no finalizer: owner references let the garbage collector remove children, and a
ProcessMonitor can be deleted even while the operator is down. Loaded by `main` (or `kopf run -m`).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

import kopf

from . import constants as c
from . import login as login_mod
from . import render
from .apply import Api, Applier, child_key
from .metrics import Metrics, serve
from .reconcile import Reconciler, owner_key
from .settings import OperatorConfig, configure_kopf, split_address

log = logging.getLogger(__name__)


def _post_event(body: dict[str, Any], type_: str, reason: str, message: str) -> None:
    kopf.event(body, type=type_, reason=reason, message=message)


def _apply_logger(path: str) -> Any:
    def write(body: bytes) -> None:
        with open(path, "ab") as fh:
            fh.write(body + b"\n")
    return write if path else None


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **kwargs: Any) -> kopf.ConnectionInfo | None:
    return login_mod.login(settings, **kwargs)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    configure_kopf(settings)
    config: OperatorConfig = getattr(memo, "config", None) or OperatorConfig.from_env()
    metrics = Metrics()
    api = Api(metrics)
    for api_version, kind, plural in render.child_kinds():
        api.register(api_version, kind, plural)
    reconciler = Reconciler(api, Applier(api, _apply_logger(config.apply_log)), config, _post_event)
    memo.reconciler = reconciler
    memo.stop = asyncio.Event()
    memo.metrics_runner = None
    if config.metrics_address:
        host, port = split_address(config.metrics_address)
        memo.metrics_runner = await serve(metrics, host, port)
    try:
        await reconciler.refresh_apis()
    except Exception as exc:  # a failed first check is retried by the periodic task
        log.warning("initial CRD check failed: %s", exc)
    memo.periodic = asyncio.get_running_loop().create_task(reconciler.periodic(memo.stop))


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    if getattr(memo, "stop", None) is not None:
        memo.stop.set()
        await asyncio.gather(memo.periodic, return_exceptions=True)
    reconciler: Reconciler | None = getattr(memo, "reconciler", None)
    if reconciler is not None:
        await reconciler.drain()
        await reconciler.api.close()
    if getattr(memo, "metrics_runner", None) is not None:
        await memo.metrics_runner.cleanup()


@kopf.on.resume(c.GROUP, c.VERSION, c.PLURAL)
@kopf.on.create(c.GROUP, c.VERSION, c.PLURAL)
@kopf.on.update(c.GROUP, c.VERSION, c.PLURAL)
async def converge(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await memo.reconciler.run_now(copy.deepcopy(dict(body)))


@kopf.on.event(c.GROUP, c.VERSION, c.PLURAL)
async def processmonitor_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    reconciler: Reconciler = memo.reconciler
    obj = event["object"]
    meta = obj.get("metadata") or {}
    key = (meta.get("namespace", ""), meta.get("name", ""))
    if event["type"] == "DELETED":
        reconciler.forget(key)
    else:
        reconciler.remember(copy.deepcopy(obj))


async def child_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    reconciler: Reconciler = memo.reconciler
    obj = event["object"]
    key = owner_key(obj)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    ours = labels.get(c.MANAGED_BY_LABEL) == c.MANAGED_BY_VALUE or key is not None
    # Objects that are not (or no longer) ours are still observed if we cached them: a child whose label or owner
    # reference someone removed must not stay "up to date" in our cache.
    if not ours and child_key(obj) not in reconciler.applier.cache:
        return
    reconciler.applier.observe(obj, deleted=event["type"] == "DELETED")
    if key is not None:
        # A short delay merges the burst of events one apply or rollout produces into one reconcile.
        reconciler.trigger(key, delay=0.1)


def _register_child_watches() -> None:
    # No label filter on purpose (see child_event); kopf keeps no bodies for event-only handlers.
    for api_version, _kind, plural in render.child_kinds():
        group, _, version = api_version.rpartition("/")
        kopf.on.event(group, version, plural, id=f"child-{plural}")(child_event)


_register_child_watches()
