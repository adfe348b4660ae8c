"""HTTP endpoints: the telemetry path (default /metrics), /healthz, POST /-/reload, and a small landing page.

Called by cli.py. The routes live here; the bounded HTTP/1.1 server under them is http/server.py and
-web.config.file (TLS, basic auth) is http/webconfig.py. Concurrent scrapes share one collection through
collector.Collector.exposition(). The exposition is gzip-compressed when the client accepts it, as client_golang's
promhttp does (Prometheus always asks). `/healthz` answers without authentication, so liveness and readiness
probes keep passing once basic auth is on; every other path needs it, and a request whose password would need a
bcrypt check while two are under way gets 429 (http/webconfig.py), so password guessing cannot hold every connection.
`POST /-/reload` (and PUT, as Prometheus) works only with -web.enable-lifecycle; otherwise it answers 403
`Lifecycle API is not enabled.`, Prometheus' words. The file watch reloads without it.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable

from ..log import log
from ..quote import clip
from .protocol import Request, Response, accepts_gzip
from .server import HTTPServer, listen
from .webconfig import WebConfig, WebConfigError, load_web_config

__all__ = ["WebConfig", "WebConfigError", "load_web_config", "make_server", "parse_listen_address",
           "serve_in_thread"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PLAIN = "text/plain; charset=utf-8"
# zlib level 1: a catch-all exposition of 45 KB becomes 5.6 KB in 0.2 ms (level 6: 4.8 KB in 0.7 ms), a small
# fraction of the collection it compresses.
GZIP_LEVEL = 1
LIFECYCLE_DISABLED = b"Lifecycle API is not enabled.\n"


def parse_listen_address(addr: str) -> tuple[str, int]:
    """Go-style host:port; an empty host means all addresses."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        raise ValueError(f"address {addr}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        p = int(port) if port else 0
    except ValueError:
        raise ValueError(f"address {addr}: invalid port") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"address {addr}: invalid port")
    return host, p


LANDING = """<html>
<head><title>process-monitor agent</title></head>
<body>
<h1>process-monitor agent</h1>
<p><a href="{path}">Metrics</a></p>
<p><a href="/healthz">Health</a></p>
</body>
</html>
"""


def gzip_bytes(body: bytes) -> bytes:
    c = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: a gzip member, without the gzip module
    return c.compress(body) + c.flush()


def make_server(
    listen_address: str,
    telemetry_path: str,
    exposition: Callable[[], bytes],
    reload: Callable[[], tuple[bool, str]] | None,
    web: WebConfig,
    lifecycle: bool = False,
    max_connections: int | None = None,
) -> HTTPServer:
    """The agent's HTTP server, bound (not yet serving). `reload` is None without -config.path."""
    host, port = parse_listen_address(listen_address)
    failures: dict[str, str] = {}

    def route(req: Request) -> Response:
        path = req.path
        if path == "/healthz" and req.method in ("GET", "HEAD"):
            return Response(200, b"ok\n")
        auth = web.check_auth(req.headers.get("authorization"))
        if auth is None:
            return Response(429, b"authentication busy: retry shortly\n", headers=[("Retry-After", "1")])
        if not auth:
            return Response(401, b"Unauthorized\n", headers=[("WWW-Authenticate",
                                                              'Basic realm="process-monitor-agent"')])
        if path == "/-/reload":
            if req.method not in ("POST", "PUT"):
                return Response(405, b"use POST /-/reload\n", headers=[("Allow", "POST, PUT")])
            if not lifecycle:
                return Response(403, LIFECYCLE_DISABLED)
            if reload is None:
                return Response(400, b"nothing to reload: the agent was started without -config.path\n")
            ok, msg = reload()
            return Response(200 if ok else 500, (msg + "\n").encode())
        if req.method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n", headers=[("Allow", "GET, HEAD")])
        if path == telemetry_path:
            try:
                body = exposition()
            except Exception as e:  # a collection bug must answer 500, not kill the connection thread
                reason = f"{type(e).__name__}: {clip(str(e))}"
                if reason != failures.get("collection"):  # a traceback per distinct failure, not per scrape
                    failures["collection"] = reason
                    log.exception("collection failed")
                return Response(500, f"collection failed: {reason}\n".encode())
            if accepts_gzip(req.headers.get("accept-encoding")):
                return Response(200, gzip_bytes(body), CONTENT_TYPE,
                                [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")])
            return Response(200, body, CONTENT_TYPE, [("Vary", "Accept-Encoding")])
        if path == "/":
            return Response(200, LANDING.format(path=telemetry_path).encode(), "text/html; charset=utf-8")
        if path == "/healthz":
            return Response(405, b"method not allowed\n", headers=[("Allow", "GET, HEAD")])
        return Response(404, b"404 page not found\n")

    sock = listen(host, port)
    if max_connections is None:
        return HTTPServer(sock, route, web.ssl_context)
    return HTTPServer(sock, route, web.ssl_context, max_connections)


def serve_in_thread(srv: HTTPServer) -> threading.Thread:
    t = threading.Thread(target=srv.serve_forever, name="http", daemon=True)
    t.start()
    return t
