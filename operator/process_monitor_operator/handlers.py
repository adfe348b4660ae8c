"""kopf handlers: each one line, delegating to app.py (start-up wiring) or the `Reconciler` (its `on_*` methods).

- login: the in-cluster address from KUBERNETES_SERVICE_HOST/PORT as client-go uses it, else KUBECONFIG (login.py).
- startup / cleanup: app.start / app.stop (kopf settings, API client, reconciler, /metrics, periodic resync).
- ProcessMonitor create/update/resume: reconcile now (server-side apply of the full desired state).
- every ProcessMonitor event: keep the latest body (status included) for background reconciles; forget on delete.
- every event on a child kind (no label filter: events.child_event decides what is ours): update the live-object
  cache and re-reconcile its owner, so an edited or deleted child is restored and the status follows the DaemonSet.
No delete handler, so kopf adds no finalizer: owner references let the garbage collector remove children, and a
ProcessMonitor can be deleted even while the operator is down. Loaded by `main` (or `kopf run -m`).
"""

from __future__ import annotations

from typing import Any

import kopf

from . import app, render
from . import constants as c
from . import login as login_mod


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **kwargs: Any) -> kopf.ConnectionInfo | None:
    return login_mod.login(settings, **kwargs)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    await app.start(settings, memo)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    await app.stop(memo)


@kopf.on.resume(c.GROUP, c.VERSION, c.PLURAL)
@kopf.on.create(c.GROUP, c.VERSION, c.PLURAL)
@kopf.on.update(c.GROUP, c.VERSION, c.PLURAL)
async def converge(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await memo.reconciler.on_processmonitor_changed(dict(body))


@kopf.on.event(c.GROUP, c.VERSION, c.PLURAL)
async def processmonitor_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.reconciler.on_processmonitor_event(event["type"], event["object"])


async def child_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.reconciler.on_child_event(event["type"], event["object"])


def _register_child_watches() -> None:
    # One watch per child kind the renderer may produce; kopf keeps no bodies for event-only handlers.
    for api_version, _kind, plural in render.child_kinds():
        group, _, version = api_version.rpartition("/")
        kopf.on.event(group, version, plural, id=f"child-{plural}")(child_event)


_register_child_watches()
