"""HTTP/1.1 requests as the agent reads them: request line and header parsing, body length, gzip negotiation,
and the Request/Response values the router (http/routes.py) sees. Pure: no sockets.

Called by http/connection.py (each request read) and tests/fuzz. Malformed requests raise HTTPError with the
status they get: 400 (bad request line, header line or Content-Length), 413 (a body over `MAX_BODY`), 501
(Transfer-Encoding: the agent takes no chunked bodies) or 505 (an HTTP major version other than 1).
"""

from __future__ import annotations

import re

MAX_HEADER = 65536
MAX_BODY = 65536

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 413: "Content Too Large", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
           505: "HTTP Version Not Supported"}

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/(\d)\.(\d)")


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
