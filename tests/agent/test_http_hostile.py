"""The agent's HTTP server under clients that misbehave: malformed requests get 400/413/431/501/505 and a closed
connection; a request must arrive whole within the deadline however slowly it trickles in; idle connections
cannot lock scrapers out at the connection cap; many scrapers at once all get answers; gzip as promhttp; /healthz
open while basic auth guards the rest; the lifecycle API off unless asked for. Real sockets on 127.0.0.1, the
server in-process with a fixed exposition."""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.client
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from process_monitor_agent.http import connection as httpconn
from process_monitor_agent.http.routes import load_web_config, make_server, serve_in_thread
from process_monitor_agent.http.webconfig import WebConfig, WebConfigError

BODY = b"".join(b'namedprocess_namegroup_num_procs{groupname="g%d"} 1\n' % i for i in range(2000))


@contextlib.contextmanager
def serving(web: WebConfig | None = None, lifecycle: bool = False, **kw: int) -> Iterator[int]:
    reloads: list[int] = []
    srv = make_server("127.0.0.1:0", "/metrics", lambda: BODY, lambda: (reloads.append(1) or True, "config reloaded"),
                      web or WebConfig(), lifecycle=lifecycle, **kw)
    serve_in_thread(srv)
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data`, return everything the server sends until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /metrics\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET metrics HTTP/1.1\r\n\r\n", 400),
        (b"G(T /metrics HTTP/1.1\r\n\r\n", 400),
        (b"GET /metrics HTTX/1.1\r\n\r\n", 400),
        (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
        (b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nHost: a\r\n folded: continuation\r\n\r\n", 400),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n", 413),
        (b"POST /-/reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        (b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 431),
        (b"GET /metrics HTTP/1.1\r\nHost: a", 400),  # closed inside the headers
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 400),  # closed inside the body
    ],
)
def test_malformed_request_gets_an_error_status_and_a_closed_connection(request_bytes: bytes, status: int) -> None:
    with serving() as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request_bytes)
            s.shutdown(socket.SHUT_WR)  # the server must answer whatever it got, then close
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        assert status_of(out) == status, out[:200]
        assert b"Connection: close" in out
        # The server is still fine for the next client.
        assert status_of(raw(port, b"GET /healthz HTTP/1.0\r\n\r\n")) == 200


def test_a_request_trickling_in_is_cut_off_by_the_whole_request_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A byte every 0.2 s would pass any per-read timeout; the deadline covers the whole request."""
    monkeypatch.setattr(httpconn, "REQUEST_TIMEOUT", 1.0)
    request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 100 + b"\r\n\r\n"
    with serving() as port, socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        sent = 0
        answer = b""
        for i in range(len(request)):  # bounded: at most ~30 s of trickling
            try:
                s.sendall(request[i : i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            r, _, _ = select.select([s], [], [], 0.2)
            if r:
                answer = s.recv(65536)
                break
        assert status_of(answer) == 408 and sent < len(request)


def test_idle_connections_do_not_lock_scrapers_out_at_the_cap() -> None:
    with serving(max_connections=2) as port:
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            assert r.status == 200 and r.read() == BODY
            conn.close()
            # The oldest idle connection was closed to make room.
            idle[0].settimeout(10)
            assert idle[0].recv(1) == b""
        finally:
            for s in idle:
                s.close()


def test_many_scrapers_at_once_all_get_answers_within_the_cap() -> None:
    results: list[int] = []
    lock = threading.Lock()

    def scrape() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        r = conn.getresponse()
        ok = r.status == 200 and gzip.decompress(r.read()) == BODY
        conn.close()
        with lock:
            results.append(ok)

    with serving(max_connections=8) as port:
        threads = [threading.Thread(target=scrape) for _ in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert len(results) == 200 and all(results)


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [("gzip", True), ("deflate, gzip;q=0.5", True), ("GZIP", True), ("gzip;q=0", False), ("identity", False),
     (None, False), ("br", False), ("x-gzip", True)],
)
def test_gzip_when_the_client_accepts_it(accept: str | None, gzipped: bool) -> None:
    with serving() as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/metrics", headers={"Accept-Encoding": accept} if accept else {})
        r = conn.getresponse()
        body = r.read()
        conn.close()
    assert r.status == 200 and r.getheader("Vary") == "Accept-Encoding"
    if gzipped:
        assert r.getheader("Content-Encoding") == "gzip" and gzip.decompress(body) == BODY
        assert len(body) * 5 < len(BODY)
    else:
        assert r.getheader("Content-Encoding") is None and body == BODY


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_healthz_answers_without_auth_and_everything_else_needs_it(tmp_path: Path) -> None:
    f = tmp_path / "web.yaml"
    f.write_text(f"basic_auth_users:\n  prom: '{bcrypt.hashpw(b's3cret', bcrypt.gensalt(4)).decode()}'\n")
    with serving(load_web_config(str(f)), lifecycle=True) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for method, path, headers, want in [
            ("GET", "/healthz", {}, 200),
            ("HEAD", "/healthz", {}, 200),
            ("GET", "/metrics", {}, 401),
            ("GET", "/", {}, 401),
            ("POST", "/-/reload", {}, 401),
            ("GET", "/metrics", basic("prom", "s3cret"), 200),
            ("GET", "/metrics", basic("prom", "x" * 100), 401),  # over bcrypt's 72 bytes: refused, not a 500
            ("GET", "/metrics", {"Authorization": "Basic %%%"}, 401),
            ("POST", "/-/reload", basic("prom", "s3cret"), 200),
        ]:
            conn.request(method, path, headers=headers)
            r = conn.getresponse()
            r.read()
            assert r.status == want, (method, path, headers)
        conn.close()


def test_web_config_refuses_hashes_that_are_not_bcrypt(tmp_path: Path) -> None:
    f = tmp_path / "web.yaml"
    f.write_text("basic_auth_users:\n  prom: plain-text-password\n")
    with pytest.raises(WebConfigError, match="'prom': not a bcrypt hash"):
        load_web_config(str(f))
    f.write_text("basic_auth_users: " + "[" * 1000 + "]" * 1000 + "\n")
    with pytest.raises(WebConfigError, match="nested deeper than 64 levels"):
        load_web_config(str(f))


@pytest.mark.parametrize("lifecycle", [False, True])
def test_reload_endpoint_only_with_the_lifecycle_flag(lifecycle: bool) -> None:
    with serving(lifecycle=lifecycle) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for method in ("POST", "PUT"):
            conn.request(method, "/-/reload")
            r = conn.getresponse()
            body = r.read()
            if lifecycle:
                assert (r.status, body) == (200, b"config reloaded\n")
            else:
                assert (r.status, body) == (403, b"Lifecycle API is not enabled.\n")
        conn.request("GET", "/-/reload")
        r = conn.getresponse()
        r.read()
        assert r.status == 405
        conn.close()


def test_pipelined_requests_on_one_connection_are_answered_in_order() -> None:
    with serving() as port:
        out = raw(port, b"GET /healthz HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n"
                        b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", out)]
    assert statuses == [200, 404, 200]


def test_shutdown_stops_the_accept_loop_while_connections_are_open() -> None:
    srv = make_server("127.0.0.1:0", "/metrics", lambda: BODY, None, WebConfig())
    t = serve_in_thread(srv)
    s = socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=10)
    try:
        srv.shutdown()
        srv.server_close()
        t.join(10)
        assert not t.is_alive()
    finally:
        s.close()


def test_a_failing_collection_answers_500_and_logs_one_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from process_monitor_agent.log import log

    stream = io.StringIO()
    monkeypatch.setattr(log, "stream", stream)

    def broken() -> bytes:
        raise RecursionError("maximum recursion depth exceeded")

    srv = make_server("127.0.0.1:0", "/metrics", broken, None, WebConfig())
    serve_in_thread(srv)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=10)
        for _ in range(5):
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            assert r.status == 500 and b"RecursionError" in r.read()
        conn.close()
    finally:
        srv.shutdown()
        srv.server_close()
    assert stream.getvalue().count("collection failed") == 1


def test_refused_requests_and_idle_closes_are_counted() -> None:
    srv = make_server("127.0.0.1:0", "/metrics", lambda: BODY, None, WebConfig(), max_connections=1)
    serve_in_thread(srv)
    port = srv.server_address[1]
    try:
        assert status_of(raw(port, b"GET /metrics HTTP/2.0\r\n\r\n")) == 505
        assert status_of(raw(port, b"BAD\r\n\r\n")) == 400
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert status_of(raw(port, b"GET /healthz HTTP/1.0\r\n\r\n")) == 200  # closes `idle` to get in
        idle.close()
        out: list[str] = []
        srv.write_metrics(out)
    finally:
        srv.shutdown()
        srv.server_close()
    text = "".join(out)
    assert 'process_monitor_agent_http_requests_refused_total{code="400"} 1\n' in text
    assert 'process_monitor_agent_http_requests_refused_total{code="505"} 1\n' in text
    assert "process_monitor_agent_http_idle_connections_closed_total 1\n" in text
    assert "process_monitor_agent_http_connections_max 1\n" in text


def test_password_guessing_in_parallel_holds_at_most_two_bcrypt_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached scraper keeps passing while wrong passwords pile up; past one running and one waiting bcrypt check,
    a request that would need another is answered 429 at once. bcrypt is replaced by a double that blocks until
    released (timing control only; the real check is exercised by the tests above)."""
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
    web = WebConfig()
    web.users = {"prom": hashed}
    assert web.check_auth(basic("prom", "s3cret")["Authorization"]) is True  # now cached
    release = threading.Event()
    entered: list[int] = []

    def slow_bcrypt(password: str, h: str) -> bool:
        entered.append(1)
        release.wait(30)
        return False

    monkeypatch.setattr(WebConfig, "_bcrypt", staticmethod(slow_bcrypt))
    results: list[bool | None] = []
    guessers = [threading.Thread(target=lambda i=i: results.append(web.check_auth(basic("prom", f"guess{i}")
                                                                                   ["Authorization"])))
                for i in range(2)]
    for t in guessers:
        t.start()
    deadline = time.monotonic() + 10
    while not (entered and web._hash_slots._value == 0) and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    assert web.check_auth(basic("prom", "guess-more")["Authorization"]) is None  # busy: 429
    assert web.check_auth(basic("prom", "s3cret")["Authorization"]) is True  # the cached scraper still passes
    release.set()
    for t in guessers:
        t.join(30)
    assert results == [False, False]
