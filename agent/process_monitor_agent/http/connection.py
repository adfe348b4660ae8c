"""One accepted connection: reading whole requests within deadlines, and writing responses within one.

Called by http/server.py, one thread per connection. A request (request line, headers and body) must arrive whole
within `REQUEST_TIMEOUT` of its first byte, or of the accept for a new connection (not per read: a client sending
a byte every few seconds is cut off all the same); a keep-alive connection may idle `IDLE_TIMEOUT` between
requests; a response must be taken within `WRITE_TIMEOUT`. Request line and headers at most `MAX_HEADER` (431).
"""

from __future__ import annotations

import re
import time
from typing import Any

from .protocol import MAX_HEADER, REASONS, HTTPError, Request, Response, body_length, parse_head

REQUEST_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0
WRITE_TIMEOUT = 30.0

_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")


class _Timeout(Exception):
    pass


class Connection:
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
