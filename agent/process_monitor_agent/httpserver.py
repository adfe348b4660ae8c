"""A small HTTP/1.1 server: bounded in connections, time and bytes, whoever connects and whatever they send.

Called by server.py, which supplies the routes. Built on sockets and threads, not http.server (which pulls in
http.client, email and ssl, about 6 MB of resident memory the agent does not need). What bounds it:
- Connections: at most `max_connections` are served at once, one thread each; past that, new connections wait in
  the listen backlog (`BACKLOG`, the kernel caps it at net.core.somaxconn), as Go's netutil.LimitListener makes
  them wait, except that the oldest idle keep-alive connection is closed to make room, so idle connections
  cannot lock scrapers out.
- Time: a request (request line, headers and body) must arrive whole within `REQUEST_TIMEOUT` of its first byte,
  or of the accept for a new connection (not per read: a client sending a byte every few seconds is cut off all
  the same); a keep-alive connection may idle `IDLE_TIMEOUT` between requests; a response must be taken within
  `WRITE_TIMEOUT`. A TLS handshake gets `REQUEST_TIMEOUT` too.
- Bytes: request line and headers at most `MAX_HEADER` (431), a body at most `MAX_BODY` (413).
- Malformed requests get 400 (bad request line, header line or Content-Length), 501 (Transfer-Encoding: the agent
  takes no chunked bodies) or 505 (an HTTP major version other than 1), and the connection is closed after them.
The accept thread blocks in select() with no timeout (zero CPU while idle); shutdown() wakes it through a pipe.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from .export import own
from .log import log

MAX_HEADER = 65536
MAX_BODY = 65536
REQUEST_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0
WRITE_TIMEOUT = 30.0
BACKLOG = 1024
MAX_CONNECTIONS = 64

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 413: "Content Too Large", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
           505: "HTTP Version Not Supported"}

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/(\d)\.(\d)")
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")


class Request:
    __slots__ = ("body", "headers", "method", "path", "query", "version")

    def __init__(self, method: str, path: str, query: str, version: str, headers: dict[str, str]) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers  # lower-case names; repeated headers joined with ", " (RFC 9110 5.3)
        self.body = b""


class Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
                 headers: list[tuple[str, str]] | None = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []


class HTTPError(Exception):
    """A request that cannot be served; answered with `status` and `message`, then the connection closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Timeout(Exception):
    pass


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding value offers gzip with a non-zero q (as promhttp negotiates it)."""
    if not header:
        return False
    for item in header.split(",")[:32]:
        coding, _, params = item.partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip"):
            continue
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v.strip())
                except ValueError:
                    q = 0.0
        if q > 0:
            return True
    return False


def parse_head(head: bytes) -> Request:
    """Request line and header fields (without the blank line). Raises HTTPError."""
    lines = head.split(b"\n")
    lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
        raise HTTPError(400, "malformed request line")
    method, target, version = parts
    m = _VERSION.fullmatch(version)
    if m is None:
        raise HTTPError(400, "malformed HTTP version")
    if m.group(1) != b"1":
        raise HTTPError(505, "only HTTP/1.x is served")
    if target.startswith((b"http://", b"https://")):  # absolute form: keep the path
        slash = target.find(b"/", target.find(b"//") + 2)
        target = target[slash:] if slash >= 0 else b"/"
    if not target.startswith(b"/") or any(c <= 0x20 or c == 0x7F for c in target):
        raise HTTPError(400, "malformed request target")
    headers: dict[str, str] = {}
    for ln in lines[1:]:
        name, sep, value = ln.partition(b":")
        if not sep or not _TOKEN.fullmatch(name):  # also refuses obsolete line folding (a leading space)
            raise HTTPError(400, "malformed header line")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        headers[key] = headers[key] + ", " + text if key in headers else text
    path, _, query = target.decode("latin-1").partition("?")
    return Request(method.decode("ascii"), path, query, version.decode("ascii"), headers)


def body_length(req: Request) -> int:
    if "transfer-encoding" in req.headers:
        raise HTTPError(501, "Transfer-Encoding is not supported; send a Content-Length")
    raw = req.headers.get("content-length")
    if raw is None:
        return 0
    values = {v.strip() for v in raw.split(",")}  # repeated identical values are allowed (RFC 9110 8.6)
    if len(values) != 1:
        raise HTTPError(400, "conflicting Content-Length")
    value = values.pop()
    if not value.isdigit() or not value.isascii() or len(value) > 18:
        raise HTTPError(400, "malformed Content-Length")
    n = int(value)
    if n > MAX_BODY:
        raise HTTPError(413, f"request body larger than {MAX_BODY} bytes")
    return n


class _Conn:
    """One accepted connection: its socket, read buffer and whether it is idle (evictable at the cap)."""

    __slots__ = ("buf", "evicted", "idle_since", "sock")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.idle_since: float | None = time.monotonic()
        self.evicted = False

    def _recv(self, deadline: float) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout()
        self.sock.settimeout(left)
        try:
            return self.sock.recv(65536)
        except TimeoutError:
            raise _Timeout() from None

    def read_request(self, first_byte_deadline: float) -> Request | None:
        """The next request, or None when the client closed (or went quiet) between requests."""
        deadline = first_byte_deadline
        started = bool(self.buf)
        if started:
            deadline = time.monotonic() + REQUEST_TIMEOUT
        while True:
            # Tolerate blank lines between keep-alive requests (RFC 9112 2.2).
            while self.buf[:1] in (b"\r", b"\n"):
                del self.buf[:1]
            m = _END_OF_HEAD.search(self.buf, 0, MAX_HEADER + 4)
            if m is not None:
                break
            if len(self.buf) > MAX_HEADER:
                raise HTTPError(431, f"request line and headers larger than {MAX_HEADER} bytes")
            try:
                chunk = self._recv(deadline)
            except _Timeout:
                if not started:
                    return None  # idle too long: close quietly
                raise HTTPError(408, f"request not complete within {REQUEST_TIMEOUT:g}s") from None
            if not chunk:
                if self.buf.strip():
                    raise HTTPError(400, "connection closed inside a request")
                return None
            if not started:
                started = True
                self.idle_since = None
                deadline = time.monotonic() + REQUEST_TIMEOUT  # the whole request, from its first byte
            self.buf += chunk
        self.idle_since = None
        head = bytes(self.buf[: m.start()])
        del self.buf[: m.end()]
        req = parse_head(head)
        n = body_length(req)
        while len(self.buf) < n:
            try:
                chunk = self._recv(deadline)
            except _Timeout:
                raise HTTPError(408, f"request not complete within {REQUEST_TIMEOUT:g}s") from None
            if not chunk:
                raise HTTPError(400, "connection closed inside a request body")
            self.buf += chunk
        req.body = bytes(self.buf[:n])
        del self.buf[:n]
        return req

    def send(self, resp: Response, method: str, keep: bool) -> None:
        head = [
            f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Unknown')}",
            f"Content-Type: {resp.content_type}",
            f"Content-Length: {len(resp.body)}",
            "Connection: " + ("keep-alive" if keep else "close"),
        ]
        head += [f"{k}: {v}" for k, v in resp.headers]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self.sock.settimeout(WRITE_TIMEOUT)  # sendall: the timeout bounds the whole send (Python >= 3.5)
        self.sock.sendall(data if method == "HEAD" else data + resp.body)


class HTTPServer:
    """Accept loop plus one thread per connection; see the module docstring for the bounds."""

    def __init__(
        self,
        sock: socket.socket,
        handler: Callable[[Request], Response],
        ssl_context: Any = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.socket = sock
        self.server_address = sock.getsockname()
        self.handler = handler
        self.ssl_context = ssl_context
        self.max_connections = max(1, max_connections)
        self._cond = threading.Condition()
        self._conns: list[_Conn] = []
        self._stopping = False
        self._stop_r, self._stop_w = os.pipe()
        self._stopped = threading.Event()
        self.evictions = 0
        self.refused: dict[int, int] = {}  # malformed or oversized requests by the status they got
        self._last_failure = ""

    # -- accept loop ---------------------------------------------------------------------------------------------
    def serve_forever(self) -> None:
        try:
            while True:
                r, _, _ = select.select([self.socket, self._stop_r], [], [])
                if self._stop_r in r:
                    return
                if not self._wait_for_slot():
                    return
                try:
                    sock, _addr = self.socket.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                except OSError as e:  # EMFILE and friends: keep serving the connections we have
                    log.warning("http: accept failed: %s", e)
                    time.sleep(0.1)
                    continue
                conn = _Conn(sock)
                with self._cond:
                    self._conns.append(conn)
                threading.Thread(target=self._serve_conn, args=(conn,), name="http-conn", daemon=True).start()
        finally:
            self._stopped.set()

    def _wait_for_slot(self) -> bool:
        with self._cond:
            while len(self._conns) >= self.max_connections and not self._stopping:
                idle = [c for c in self._conns if c.idle_since is not None and not c.evicted]
                if idle:
                    victim = min(idle, key=lambda c: c.idle_since or 0.0)
                    victim.evicted = True
                    self.evictions += 1
                    with contextlib.suppress(OSError):
                        victim.sock.shutdown(socket.SHUT_RDWR)  # wakes its recv(); its thread frees the slot
                self._cond.wait(1.0)
            return not self._stopping

    # -- one connection ------------------------------------------------------------------------------------------
    def _serve_conn(self, conn: _Conn) -> None:
        try:
            if self.ssl_context is not None:
                conn.sock.settimeout(REQUEST_TIMEOUT)
                conn.sock = self.ssl_context.wrap_socket(conn.sock, server_side=True)
            first_deadline = time.monotonic() + REQUEST_TIMEOUT
            while not conn.evicted:
                try:
                    req = conn.read_request(first_deadline)
                except HTTPError as e:
                    with self._cond:
                        self.refused[e.status] = self.refused.get(e.status, 0) + 1
                    conn.send(Response(e.status, (e.message + "\n").encode()), "GET", False)
                    return
                if req is None:
                    return
                keep = req.version == "HTTP/1.1" and req.headers.get("connection", "").lower() != "close"
                try:
                    resp = self.handler(req)
                except Exception as e:  # a bug answers 500 and keeps the server up
                    reason = f"{type(e).__name__}: {e}"[:300]
                    if reason != self._last_failure:  # a traceback per distinct failure, not per request
                        self._last_failure = reason
                        log.exception("http: handler failed for %s %s", req.method, req.path[:200])
                    resp = Response(500, b"internal error\n")
                log.debug("http: %s %s %d", req.method, req.path[:200], resp.status)
                conn.send(resp, req.method, keep)
                if not keep:
                    return
                conn.idle_since = time.monotonic()
                first_deadline = conn.idle_since + IDLE_TIMEOUT
        except (OSError, ValueError):  # reset, timeout on write, TLS failure, evicted (socket shut down)
            return
        finally:
            with contextlib.suppress(OSError):
                conn.sock.close()
            with self._cond:
                self._conns.remove(conn)
                self._cond.notify_all()

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the accept loop (open connections finish on their own; their threads are daemons)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        self._stopped.wait(10)

    def server_close(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.close()
        for fd in (self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def active_connections(self) -> int:
        with self._cond:
            return len(self._conns)

    def write_metrics(self, out: list[str]) -> None:
        """The server's own families (collector.extra_writers): connections, idle closes, refused requests."""
        with self._cond:
            active, evictions, refused = len(self._conns), self.evictions, sorted(self.refused.items())
        own.HTTP_CONNECTIONS.write(out, [((), active)])
        own.HTTP_CONNECTIONS_MAX.write(out, [((), self.max_connections)])
        own.HTTP_IDLE_CONNECTIONS_CLOSED_TOTAL.write(out, [((), evictions)])
        own.HTTP_REQUESTS_REFUSED_TOTAL.write(out, [((code,), n) for code, n in refused])


def listen(host: str, port: int) -> socket.socket:
    """A listening socket for Go-style host (empty: every address, IPv6 dual-stack where available)."""
    candidates: list[tuple[int, str]] = []
    if host == "":
        if socket.has_ipv6:
            candidates.append((socket.AF_INET6, "::"))
        candidates.append((socket.AF_INET, "0.0.0.0"))
    elif ":" in host:
        candidates.append((socket.AF_INET6, host))
    else:
        candidates.append((socket.AF_INET, host))
    err: OSError | None = None
    for family, addr in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and addr == "::":
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((addr, port))
            sock.listen(BACKLOG)
            sock.setblocking(False)  # accept() after select() must never block the loop
            return sock
        except OSError as e:
            sock.close()
            err = e
    assert err is not None
    raise err
