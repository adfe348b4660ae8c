"""Start-up wiring of one operator process: what kopf's startup and cleanup handlers do, and the /metrics server.

`start` configures kopf (our persistence prefixes and finalizer), builds the metrics, the API client, the applier
and the reconciler, serves /metrics, checks the optional CRDs once and starts the periodic resync; everything it
makes lives on kopf's `memo` (no module state). `stop` undoes it in reverse. Called by handlers.py only; main.py
passes the `OperatorConfig` in through the memo (or it comes from PM_OPERATOR_* variables under `kopf run -m`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import kopf
from aiohttp import web

from . import render
from .k8s.api import Api
from .k8s.applier import Applier
from .metrics import Metrics
from .reconcile import Reconciler
from .settings import OperatorConfig, configure_kopf, split_address

log = logging.getLogger(__name__)


def post_event(body: dict[str, Any], type_: str, reason: str, message: str) -> None:
    kopf.event(body, type=type_, reason=reason, message=message)


def apply_logger(path: str) -> Callable[[bytes], None] | None:
    """A writer appending each apply body as one line to `path` (--apply-log), or None when `path` is empty."""
    def write(body: bytes) -> None:
        with open(path, "ab") as fh:
            fh.write(body + b"\n")
    return write if path else None


async def serve_metrics(metrics: Metrics, host: str, port: int) -> web.AppRunner:
    """Start an HTTP server answering /metrics (and /healthz for convenience); returns the runner to clean up."""

    async def handle_metrics(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def handle_health(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_get("/healthz", handle_health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host or None, port).start()
    return runner


def build(config: OperatorConfig, metrics: Metrics) -> Reconciler:
    """The reconciler with its API client (every child kind registered) and applier."""
    api = Api(metrics)
    for api_version, kind, plural in render.child_kinds():
        api.register(api_version, kind, plural)
    return Reconciler(api, Applier(api, apply_logger(config.apply_log)), config, post_event)


async def start(settings: kopf.OperatorSettings, memo: kopf.Memo) -> None:
    configure_kopf(settings)
    config: OperatorConfig = getattr(memo, "config", None) or OperatorConfig.from_env()
    metrics = Metrics()
    reconciler = build(config, metrics)
    memo.reconciler = reconciler
    memo.stop = asyncio.Event()
    memo.metrics_runner = None
    if config.metrics_address:
        host, port = split_address(config.metrics_address)
        memo.metrics_runner = await serve_metrics(metrics, host, port)
    try:
        await reconciler.refresh_apis()
    except Exception as exc:  # a failed first check is retried by the periodic task
        log.warning("initial CRD check failed: %s", exc)
    memo.periodic = asyncio.get_running_loop().create_task(reconciler.periodic(memo.stop))


async def stop(memo: kopf.Memo) -> None:
    if getattr(memo, "stop", None) is not None:
        memo.stop.set()
        await asyncio.gather(memo.periodic, return_exceptions=True)
    reconciler: Reconciler | None = getattr(memo, "reconciler", None)
    if reconciler is not None:
        await reconciler.drain()
        await reconciler.api.close()
    if getattr(memo, "metrics_runner", None) is not None:
        await memo.metrics_runner.cleanup()
