"""Basic auth must not cost a bcrypt hash per scrape (a unit test of the agent's check, no processes).

process-exporter's exporter-toolkit remembers credentials it has verified, so an authenticated scrape costs what an
open one does. The agent checked every request with a bcrypt hash until 5c8f24d: one cost-10 bcrypt is ~0.06 CPU s, as
much as a whole catch-all scrape of 2,000 processes (bench/README.md, `--basic-auth-cost`). This counts the hash
computations instead of timing them; a cached success must still never let a different password through.
"""

from __future__ import annotations

import base64
import pathlib

import bcrypt
import pytest
import yaml
from process_monitor_agent.http import routes as server


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def web(tmp_path: pathlib.Path) -> server.WebConfig:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump({"basic_auth_users": {"scraper": hashed}}))
    return server.load_web_config(str(path))


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password.decode())
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


def test_repeated_scrapes_with_the_same_credentials_hash_once(web: server.WebConfig, hashes: list[str]) -> None:
    assert all(web.check_auth(header("scraper", "s3cret")) for _ in range(5))
    assert len(hashes) <= 1, f"{len(hashes)} bcrypt computations for 5 identical authenticated requests"


def test_cached_success_never_admits_another_password(web: server.WebConfig, hashes: list[str]) -> None:
    assert web.check_auth(header("scraper", "s3cret"))
    assert not web.check_auth(header("scraper", "wrong"))
    assert not web.check_auth(header("other", "s3cret"))
    assert not web.check_auth(None)
    assert web.check_auth(header("scraper", "s3cret"))
