"""HTTP endpoints: the telemetry path (default /metrics), /healthz, POST /-/reload, and a small landing page.

Called by cli.py. A deliberately small HTTP/1.1 server on socketserver (one thread per connection, keep-alive,
idle connections closed after 60 s): the stdlib http.server pulls in http.client, email and ssl, about 6 MB of
resident memory the agent does not need. Concurrent scrapes share one collection through
collector.Collector.exposition(). `-web.config.file` takes the exporter-toolkit format's `tls_server_config`
(cert_file, key_file, client_ca_file; ssl is imported only then) and `basic_auth_users` (bcrypt hashes, checked
with the system crypt(3)); any other key is rejected at start-up with a message.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any

from .log import log

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_HEADER = 65536
IDLE_TIMEOUT = 60.0
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           413: "Payload Too Large", 500: "Internal Server Error"}


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
        self.ssl_context: Any = None
        self.users: dict[str, str] = {}
        # A bcrypt check costs as much CPU as a whole scrape of 2,000 processes, so (like exporter-toolkit) remember
        # the last password verified per user, as a keyed digest: one entry per configured user at most, and a
        # different password always goes through crypt again. The key is per process, never stored anywhere.
        self._verified: dict[str, bytes] = {}
        self._digest_key = os.urandom(32)

    def check_auth(self, header: str | None) -> bool:
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        import base64
        import binascii

        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            return False
        import hashlib  # only with basic auth configured: keeps the open agent's RSS down
        import hmac

        digest = hmac.new(self._digest_key, f"{hashed}\0{password}".encode(), hashlib.sha256).digest()
        known = self._verified.get(user)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        if self._crypt(password, hashed):
            self._verified[user] = digest
            return True
        return False

    @staticmethod
    def _crypt(password: str, hashed: str) -> bool:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # stdlib in 3.11; bcrypt ($2y$/$2b$) through libxcrypt

        return crypt.crypt(password, hashed) == hashed


def load_web_config(path: str) -> WebConfig:
    wc = WebConfig()
    if not path:
        return wc
    import yaml

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
        import ssl

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


class _Request:
    __slots__ = ("body", "headers", "method", "path", "version")

    def __init__(self, method: str, path: str, version: str, headers: dict[str, str]) -> None:
        self.method = method
        self.path = path
        self.version = version
        self.headers = headers
        self.body = b""


def _read_request(rfile: Any) -> _Request | None:
    line = rfile.readline(MAX_HEADER)
    while line in (b"\r\n", b"\n"):  # tolerate stray blank lines between keep-alive requests
        line = rfile.readline(MAX_HEADER)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("malformed request line")
    headers: dict[str, str] = {}
    total = len(line)
    while True:
        h = rfile.readline(MAX_HEADER)
        total += len(h)
        if total > MAX_HEADER:
            raise ValueError("headers too large")
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    req = _Request(parts[0].upper(), parts[1], parts[2], headers)
    length = int(headers.get("content-length") or 0)
    if length < 0 or length > MAX_HEADER:
        raise ValueError("body too large")
    if length:
        req.body = rfile.read(length)
    return req


def make_server(
    listen: str,
    telemetry_path: str,
    exposition: Callable[[], bytes],
    reload: Callable[[], tuple[bool, str]] | None,
    web: WebConfig,
) -> socketserver.ThreadingTCPServer:
    host, port = parse_listen_address(listen)

    def route(req: _Request) -> tuple[int, bytes, str, list[tuple[str, str]]]:
        plain = "text/plain; charset=utf-8"
        if not web.check_auth(req.headers.get("authorization")):
            return 401, b"Unauthorized\n", plain, [("WWW-Authenticate", 'Basic realm="process-monitor-agent"')]
        path = req.path.split("?", 1)[0]
        if req.method in ("GET", "HEAD"):
            if path == telemetry_path:
                try:
                    return 200, exposition(), CONTENT_TYPE, []
                except Exception as e:  # a collection bug must answer 500, not kill the connection thread
                    log.exception("collection failed")
                    return 500, f"collection failed: {e}\n".encode(), plain, []
            if path == "/healthz":
                return 200, b"ok\n", plain, []
            if path == "/":
                return 200, LANDING.format(path=telemetry_path).encode(), "text/html; charset=utf-8", []
            if path == "/-/reload":
                return 405, b"use POST /-/reload\n", plain, [("Allow", "POST")]
            return 404, b"404 page not found\n", plain, []
        if req.method == "POST":
            if path != "/-/reload":
                return 404, b"404 page not found\n", plain, []
            if reload is None:
                return 400, b"nothing to reload: the agent was started without -config.path\n", plain, []
            ok, msg = reload()
            return (200 if ok else 500), (msg + "\n").encode(), plain, []
        return 405, b"method not allowed\n", plain, [("Allow", "GET, HEAD, POST")]

    class Handler(socketserver.StreamRequestHandler):
        timeout = IDLE_TIMEOUT

        def handle(self) -> None:
            while True:
                try:
                    req = _read_request(self.rfile)
                except (ValueError, UnicodeDecodeError):
                    self._respond(400, b"bad request\n", "text/plain; charset=utf-8", [], "HEAD", False)
                    return
                except OSError:  # timeout or reset
                    return
                if req is None:
                    return
                keep = req.version == "HTTP/1.1" and req.headers.get("connection", "").lower() != "close"
                code, body, ctype, extra = route(req)
                log.debug("http: %s %s %d", req.method, req.path, code)
                try:
                    self._respond(code, body, ctype, extra, req.method, keep)
                except OSError:
                    return
                if not keep:
                    return

        def _respond(
            self, code: int, body: bytes, ctype: str, extra: list[tuple[str, str]], method: str, keep: bool
        ) -> None:
            head = [
                f"HTTP/1.1 {code} {REASONS.get(code, 'Unknown')}",
                f"Content-Type: {ctype}",
                f"Content-Length: {len(body)}",
                "Connection: " + ("keep-alive" if keep else "close"),
            ]
            head += [f"{k}: {v}" for k, v in extra]
            data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
            self.wfile.write(data if method == "HEAD" else data + body)

    family = socket.AF_INET
    bind_host = host
    if host == "" and socket.has_ipv6:
        family, bind_host = socket.AF_INET6, "::"
    elif ":" in host:
        family = socket.AF_INET6
    elif host == "":
        bind_host = "0.0.0.0"

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        address_family = family

        def server_bind(self) -> None:
            if self.address_family == socket.AF_INET6 and bind_host == "::":
                with contextlib.suppress(OSError):
                    self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

        def get_request(self) -> tuple[Any, Any]:
            conn, addr = super().get_request()
            if web.ssl_context is not None:
                # Handshake on first read, in the connection's own thread, not in the accept loop.
                conn = web.ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            return conn, addr

    try:
        srv: socketserver.ThreadingTCPServer = Server((bind_host, port), Handler)
    except OSError:
        if bind_host != "::":
            raise

        class Server4(Server):
            address_family = socket.AF_INET

        srv = Server4(("0.0.0.0", port), Handler)
    return srv


def serve_in_thread(srv: socketserver.ThreadingTCPServer) -> threading.Thread:
    # serve_forever wakes every poll_interval to check for shutdown(): 2 s keeps idle wake-ups rare.
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 2.0}, name="http", daemon=True)
    t.start()
    return t
