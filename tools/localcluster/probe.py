"""Probing the local control plane over HTTP(S): one GET with no proxy, the admin TLS context, and the
"is the cluster recorded in this state live?" check (every component alive and the apiserver's /readyz 200).

Called by localcluster.cluster (`up` waits on etcd's /health and the apiserver's /readyz; `up` and `status`
ask whether a recorded cluster is live). Every request goes to 127.0.0.1 and is bounded by a timeout.
"""

from __future__ import annotations

import pathlib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from . import pki as pki_mod
from . import procs
from .components import COMPONENTS, recorded_components


# No proxies ever: this cluster is on loopback only, and urllib would otherwise honour *_proxy variables.
def _opener(context: ssl.SSLContext | None) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers)


def get(url: str, context: ssl.SSLContext | None = None, timeout: float = 3.0) -> tuple[int, str]:
    """(HTTP status, body) of a GET; (0, the error) when nothing answered."""
    try:
        with _opener(context).open(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (OSError, ssl.SSLError) as err:
        return 0, str(err)


def tls_context(p: pki_mod.Pki) -> ssl.SSLContext:
    """Client TLS context that trusts the cluster CA and presents the admin client cert."""
    ctx = ssl.create_default_context(cafile=str(p.ca_crt))
    ctx.load_cert_chain(str(p.admin_crt), str(p.admin_key))
    return ctx


def etcd_healthy(client_port: int) -> bool:
    """etcd's /health says healthy."""
    return '"health":"true"' in get(f"http://127.0.0.1:{client_port}/health")[1]


def apiserver_ready(server: str, ctx: ssl.SSLContext) -> bool:
    """The apiserver's /readyz answers 200."""
    return get(f"{server}/readyz", ctx)[0] == 200


def is_live(state_dir: pathlib.Path, state: Mapping[str, Any]) -> bool:
    """Every recorded component runs (same PID and start time) and the apiserver is ready."""
    comps = recorded_components(state)
    if len(comps) != len(COMPONENTS) or not all(procs.alive(e) for _, e in comps):
        return False
    return apiserver_ready(state["server"], tls_context(pki_mod.Pki(state_dir / "pki")))
