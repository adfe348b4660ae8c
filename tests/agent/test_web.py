"""-web.config.file: basic auth with bcrypt hashes (exporter-toolkit format) and rejection of unknown keys; the
small HTTP server's routing and keep-alive, in-process on 127.0.0.1."""

from __future__ import annotations

import base64
import http.client
from pathlib import Path

import bcrypt
import pytest
from process_monitor_agent.http.routes import WebConfigError, load_web_config, make_server, serve_in_thread


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_and_routes(tmp_path: Path) -> None:
    h = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
    wc_file = tmp_path / "web.yaml"
    wc_file.write_text(f"basic_auth_users:\n  prom: '{h}'\n")
    web = load_web_config(str(wc_file))
    assert web.check_auth(basic("prom", "s3cret"))
    assert not web.check_auth(basic("prom", "nope")) and not web.check_auth(None)
    reloads: list[int] = []
    srv = make_server("127.0.0.1:0", "/m", lambda: b"x 1\n", lambda: (reloads.append(1) or True, "config reloaded"),
                      web, lifecycle=True)
    serve_in_thread(srv)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=10)
        conn.request("GET", "/m")
        r = conn.getresponse()
        assert r.status == 401 and r.read() == b"Unauthorized\n"
        auth = {"Authorization": basic("prom", "s3cret")}
        for _ in range(2):  # same connection: keep-alive
            conn.request("GET", "/m", headers=auth)
            r = conn.getresponse()
            assert r.status == 200 and r.read() == b"x 1\n"
            assert r.getheader("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
        conn.request("POST", "/-/reload", body=b"", headers=auth)
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b"config reloaded\n" and reloads == [1]
        conn.request("GET", "/other", headers=auth)
        r = conn.getresponse()
        assert r.status == 404
        r.read()
        conn.request("HEAD", "/healthz")  # probes carry no credentials
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b""
        conn.close()
    finally:
        srv.shutdown()
        srv.server_close()


def test_bad_web_config(tmp_path: Path) -> None:
    f = tmp_path / "web.yaml"
    f.write_text("tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n")
    with pytest.raises(WebConfigError, match=r"web\.config\.file"):
        load_web_config(str(f))
    f.write_text("unknown: 1\n")
    with pytest.raises(WebConfigError, match="unsupported key 'unknown'"):
        load_web_config(str(f))
    assert load_web_config("").users == {}
