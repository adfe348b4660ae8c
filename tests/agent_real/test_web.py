"""The HTTP side, side by side: -web.telemetry-path and -web.config.file basic auth (exporter-toolkit format,
bcrypt hashes) answer the same in process-exporter and the agent. A config matching nothing keeps /proc reads
cheap; the point here is the HTTP surface, not the groups.
"""

from __future__ import annotations

import pathlib

import bcrypt
import pytest
import yaml
from harness import exporters
from harness import exposition as ex

from agent_real.conftest import require

pytestmark = [pytest.mark.realproc, pytest.mark.peer, pytest.mark.timeout(300)]

IMPLS = [exporters.DEBIAN, exporters.UPSTREAM, exporters.AGENT]


def bcrypt_hash(password: str, rounds: int = 2**4) -> str:
    """A $2b$ bcrypt hash (the `bcrypt` package; stdlib crypt is gone in Python 3.13)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds.bit_length() - 1)).decode()


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    d = tmp_path_factory.mktemp("web")
    cfg = exporters.write_config(d / "none.yaml", [{"name": "none", "comm": ["no-such-comm-xyzzy"]}])
    web = d / "web.yaml"
    web.write_text(yaml.safe_dump({"basic_auth_users": {"scraper": bcrypt_hash("s3cret")}}))
    return cfg, web


@pytest.mark.parametrize("impl", IMPLS)
def test_custom_telemetry_path(configs: tuple[pathlib.Path, pathlib.Path], impl: str, tmp_path: pathlib.Path) -> None:
    cfg, _ = configs
    args = ["-config.path", str(cfg), "-web.telemetry-path", "/custom-metrics"]
    with exporters.Exporter(require(impl), args, tmp_path, telemetry_path="/custom-metrics") as exp:
        body = exp.scrape()
        assert ex.select(ex.parse(body), "namedprocess_scrape_errors")
        # Upstream's "/" handler answers every other path with its landing page; metrics only at the new path.
        _, other = exporters.http_request(exp.port, "/metrics")
        assert "namedprocess_" not in other


@pytest.mark.parametrize("impl", IMPLS)
def test_basic_auth_from_web_config_file(configs: tuple[pathlib.Path, pathlib.Path], impl: str,
                                         tmp_path: pathlib.Path) -> None:
    cfg, web = configs
    args = ["-config.path", str(cfg), "-web.config.file", str(web)]
    with exporters.Exporter(require(impl), args, tmp_path, auth=("scraper", "s3cret")) as exp:
        assert ex.select(ex.parse(exp.scrape()), "namedprocess_scrape_errors")
        assert exporters.http_request(exp.port, "/metrics")[0] == 401
        assert exporters.http_request(exp.port, "/metrics", auth=("scraper", "wrong"))[0] == 401
        assert exporters.http_request(exp.port, "/metrics", auth=("nobody", "s3cret"))[0] == 401


@pytest.mark.parametrize("impl", IMPLS)
def test_gzip_when_the_scraper_accepts_it(configs: tuple[pathlib.Path, pathlib.Path], impl: str,
                                          tmp_path: pathlib.Path) -> None:
    """promhttp compresses for `Accept-Encoding: gzip` (Prometheus always sends it); the agent does the same."""
    import gzip
    import http.client

    cfg, _ = configs
    with exporters.Exporter(require(impl), ["-config.path", str(cfg)], tmp_path) as exp:
        conn = http.client.HTTPConnection("127.0.0.1", exp.port, timeout=30)
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        assert r.status == 200 and r.getheader("Content-Encoding") == "gzip"
        assert ex.select(ex.parse(gzip.decompress(body).decode()), "namedprocess_scrape_errors")
