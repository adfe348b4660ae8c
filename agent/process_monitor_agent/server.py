"""HTTP endpoints: the telemetry path (default /metrics), /healthz, POST /-/reload, and a small landing page.

Called by cli.py. Stdlib ThreadingHTTPServer: each request gets a thread, and concurrent scrapes share one
collection through collector.Collector.exposition(). `-web.config.file` takes the exporter-toolkit format's
`tls_server_config` (cert_file, key_file, client_ca_file) and `basic_auth_users` (bcrypt hashes, checked with the
system crypt(3)); anything else in it is rejected at start-up with a message.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import logging
import socket
import ssl
import threading
import warnings
from collections.abc import Callable
from typing import Any

import yaml

log = logging.getLogger("process_monitor_agent")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class WebConfigError(ValueError):
    pass


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
    return host, p


class WebConfig:
    def __init__(self) -> None:
        self.ssl_context: ssl.SSLContext | None = None
        self.users: dict[str, str] = {}

    def check_auth(self, header: str | None) -> bool:
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # stdlib in 3.11; bcrypt ($2y$/$2b$) through libxcrypt

        return crypt.crypt(password, hashed) == hashed


def load_web_config(path: str) -> WebConfig:
    wc = WebConfig()
    if not path:
        return wc
    try:
        with open(path, "rb") as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise WebConfigError(f"-web.config.file {path}: {e}") from None
    if not isinstance(doc, dict):
        raise WebConfigError(f"-web.config.file {path}: top level must be a mapping")
    for key in doc:
        if key not in ("tls_server_config", "basic_auth_users", "http_server_config"):
            raise WebConfigError(f"-web.config.file {path}: unsupported key {key!r}")
    tls = doc.get("tls_server_config") or {}
    if tls:
        cert, key = tls.get("cert_file"), tls.get("key_file")
        if not cert or not key:
            raise WebConfigError(f"-web.config.file {path}: tls_server_config needs cert_file and key_file")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(cert, key)
            if tls.get("client_ca_file"):
                ctx.load_verify_locations(tls["client_ca_file"])
                ctx.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as e:
            raise WebConfigError(f"-web.config.file {path}: {e}") from None
        wc.ssl_context = ctx
    users = doc.get("basic_auth_users") or {}
    if not isinstance(users, dict):
        raise WebConfigError(f"-web.config.file {path}: basic_auth_users must be a mapping user: bcrypt-hash")
    wc.users = {str(k): str(v) for k, v in users.items()}
    return wc


LANDING = """<html>
<head><title>process-monitor agent</title></head>
<body>
<h1>process-monitor agent</h1>
<p><a href="{path}">Metrics</a></p>
<p><a href="/healthz">Health</a></p>
<p>POST /-/reload re-reads the configuration file.</p>
</body>
</html>
"""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(
    listen: str,
    telemetry_path: str,
    exposition: Callable[[], bytes],
    reload: Callable[[], tuple[bool, str]] | None,
    web: WebConfig,
) -> http.server.ThreadingHTTPServer:
    host, port = parse_listen_address(listen)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "process-monitor-agent"

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("http: " + fmt, *args)

        def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _authorized(self) -> bool:
            if web.check_auth(self.headers.get("Authorization")):
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="process-monitor-agent"')
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"Unauthorized\n")
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            path = self.path.split("?", 1)[0]
            if path == telemetry_path:
                try:
                    body = exposition()
                except Exception as e:  # never let a collection bug kill the server thread silently
                    log.exception("collection failed")
                    self._send(500, f"collection failed: {e}\n".encode())
                    return
                self._send(200, body, CONTENT_TYPE)
            elif path == "/healthz":
                self._send(200, b"ok\n")
            elif path == "/":
                self._send(200, LANDING.format(path=telemetry_path).encode(), "text/html; charset=utf-8")
            elif path == "/-/reload":
                self._send(405, b"use POST /-/reload\n")
            else:
                self._send(404, b"404 page not found\n")

        do_HEAD = do_GET

        def do_POST(self) -> None:
            if not self._authorized():
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 65536))
            path = self.path.split("?", 1)[0]
            if path != "/-/reload":
                self._send(404 if path != telemetry_path else 405, b"not found\n")
                return
            if reload is None:
                self._send(400, b"nothing to reload: the agent was started without -config.path\n")
                return
            ok, msg = reload()
            self._send(200 if ok else 500, (msg + "\n").encode())

    family = socket.AF_INET
    bind_host = host
    if host == "" and socket.has_ipv6:
        family, bind_host = socket.AF_INET6, "::"
    elif ":" in host:
        family = socket.AF_INET6

    class Server(_Server):
        address_family = family

        def server_bind(self) -> None:
            if self.address_family == socket.AF_INET6 and bind_host == "::":
                with contextlib.suppress(OSError):
                    self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    try:
        srv = Server((bind_host, port), Handler)
    except OSError:
        if bind_host != "::":
            raise
        _Server.address_family = socket.AF_INET
        srv = _Server(("0.0.0.0", port), Handler)
    if web.ssl_context is not None:
        srv.socket = web.ssl_context.wrap_socket(srv.socket, server_side=True)
    return srv


def serve_in_thread(srv: http.server.ThreadingHTTPServer) -> threading.Thread:
    t = threading.Thread(target=srv.serve_forever, name="http", daemon=True)
    t.start()
    return t
