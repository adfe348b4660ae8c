"""`process-monitor-operator`: run the kopf operator (also `python -m process_monitor_operator`).

With no arguments it watches ProcessMonitors in all namespaces, authenticating with KUBECONFIG or, in a pod, the
in-cluster ServiceAccount at KUBERNETES_SERVICE_HOST/PORT (login.py; the `kubernetes` package is deliberately not
installed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

import kopf

from . import __version__
from . import constants as c
from .settings import OperatorConfig

if TYPE_CHECKING:
    from collections.abc import Sequence


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="process-monitor-operator",
                                description="Kubernetes operator for ProcessMonitor objects (kopf).")
    p.add_argument("-n", "--namespace", action="append", default=[], metavar="NS",
                   help="watch this namespace (repeatable, globs allowed); default: all namespaces")
    p.add_argument("--liveness-address", default="0.0.0.0:8080",
                   help="host:port of the liveness endpoint /healthz (kopf's); empty disables it")
    p.add_argument("--metrics-address", default="0.0.0.0:8081", help="host:port of /metrics; empty disables it")
    p.add_argument("--agent-image", default=c.DEFAULT_AGENT_IMAGE,
                   help="agent image for ProcessMonitors that do not set spec.agent.image")
    p.add_argument("--resync-interval", type=float, default=60.0,
                   help="seconds between full resyncs (a no-op resync writes nothing)")
    p.add_argument("--crd-check-interval", type=float, default=30.0,
                   help="seconds between checks for prometheus-operator CRDs")
    p.add_argument("--peering", default="", help="kopf peering object name (several replicas); default standalone")
    p.add_argument("--priority", type=int, default=0, help="kopf peering priority")
    p.add_argument("--apply-log", default="", help="append every apply body to this file (debugging, tests)")
    p.add_argument("--verbose", action="store_true", help="verbose logs")
    p.add_argument("--debug", action="store_true", help="debug logs")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = OperatorConfig(
        agent_image=args.agent_image,
        resync_interval=args.resync_interval,
        crd_check_interval=args.crd_check_interval,
        metrics_address=args.metrics_address,
        apply_log=args.apply_log,
    )
    kopf.configure(verbose=args.verbose, debug=args.debug)
    from . import handlers  # noqa: F401  (registers the handlers in kopf's default registry)

    liveness = f"http://{args.liveness_address}/healthz" if args.liveness_address else None
    try:
        kopf.run(
            standalone=not args.peering,
            peering_name=args.peering or None,
            priority=args.priority,
            clusterwide=not args.namespace,
            namespaces=args.namespace,
            liveness_endpoint=liveness,
            memo=kopf.Memo(config=config),
        )
    except KeyboardInterrupt:
        return 0
    except asyncio.CancelledError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
