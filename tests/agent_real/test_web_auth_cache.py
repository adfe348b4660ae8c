"""Basic auth must not cost a bcrypt hash per scrape (a unit test of the agent's check, no processes).

process-exporter's exporter-toolkit remembers credentials it has verified, so an authenticated scrape costs what an
open one does. The agent checked every request with crypt(3) until 5c8f24d: one cost-10 bcrypt is ~0.06 CPU s, as
much as a whole catch-all scrape of 2,000 processes (bench/README.md, `--basic-auth-cost`). This counts the hash
computations instead of timing them; a cached success must still never let a different password through.
"""

from __future__ import annotations

import base64
import pathlib
import warnings

import pytest
import yaml
from process_monitor_agent import server

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def web(tmp_path: pathlib.Path) -> server.WebConfig:
    hashed = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**4))
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump({"basic_auth_users": {"scraper": hashed}}))
    return server.load_web_config(str(path))


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = crypt.crypt

    def counting(word: str, salt: str | None = None) -> str:
        calls.append(word)
        return real(word, salt)

    monkeypatch.setattr(crypt, "crypt", counting)
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
