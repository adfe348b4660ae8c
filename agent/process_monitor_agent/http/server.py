"""A small HTTP/1.1 server: bounded in connections, whoever connects; the accept loop and its threads.

Called by http/routes.py (make_server), which supplies the handler. Built on sockets and threads rather than
http.server, whose ThreadingHTTPServer has no bound on connections, no whole-request deadline and no body limit
(http/connection.py and http/protocol.py hold those). At most `max_connections` are served at once, one thread
each; past that, new connections wait in the listen backlog (`BACKLOG`, the kernel caps it at net.core.somaxconn),
as Go's netutil.LimitListener makes them wait, except that the oldest idle keep-alive connection is closed to make
room, so idle connections cannot lock scrapers out. A TLS handshake gets REQUEST_TIMEOUT. A request that cannot
be parsed is answered with its status and the connection closed; a handler that raises answers 500. The accept
thread blocks in select() with no timeout (zero CPU while idle); shutdown() wakes it through a pipe.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ..export import own
from ..log import log
from . import connection
from .connection import Connection
from .protocol import HTTPError, Request, Response

BACKLOG = 1024
MAX_CONNECTIONS = 64


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
        self._conns: list[Connection] = []
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
                conn = Connection(sock)
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
    def _serve_conn(self, conn: Connection) -> None:
        try:
            if self.ssl_context is not None:
                conn.sock.settimeout(connection.REQUEST_TIMEOUT)
                conn.sock = self.ssl_context.wrap_socket(conn.sock, server_side=True)
            first_deadline = time.monotonic() + connection.REQUEST_TIMEOUT
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
                first_deadline = conn.idle_since + connection.IDLE_TIMEOUT
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
