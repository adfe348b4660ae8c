"""The pod/container name index over a fake kubelet log tree (kube/podlogs.py): naming rules, bad entries,
rescans only on request and at most once per interval."""

from __future__ import annotations

from pathlib import Path

import pytest
from process_monitor_agent.kube.podlogs import PodLogIndex, parse_container_link, parse_pod_dir

UID = "6f9c2b1e-3d4a-4b5c-8d7e-0a1b2c3d4e5f"
CID = "ab" * 32


@pytest.mark.parametrize("name, want", [
    (f"kube-system_coredns-5d78c9869d-x2x7k_{UID}", (UID, "kube-system", "coredns-5d78c9869d-x2x7k")),
    (f"default_web-0_{UID}", (UID, "default", "web-0")),
    ("kube-system_etcd-node1_5d3c1a9f0b8e7d6c5b4a39281706f5e4",  # static pod: MD5 UID
     ("5d3c1a9f0b8e7d6c5b4a39281706f5e4", "kube-system", "etcd-node1")),
    (f"a.b_pod_{UID}", None),  # a namespace is a DNS label: no dots
    (f"default_web_0_{UID}", None),  # four parts
    ("default_web-0_not-a-uid", None),
    ("lost+found", None),
])
def test_parse_pod_dir(name: str, want: tuple[str, str, str] | None) -> None:
    assert parse_pod_dir(name) == want


@pytest.mark.parametrize("name, want", [
    (f"web-0_default_nginx-{CID}.log", (CID, "default", "web-0", "nginx")),
    (f"coredns-5d78c9869d-x2x7k_kube-system_coredns-{CID}.log",
     (CID, "kube-system", "coredns-5d78c9869d-x2x7k", "coredns")),
    (f"my.pod_ns_side-car-{CID}.log", (CID, "ns", "my.pod", "side-car")),  # pod names are subdomains
    (f"web-0_default_nginx-{CID}", None),  # no .log
    (f"web-0_default_nginx-{CID[:-1]}.log", None),  # short ID
    (f"web-0_default_-{CID}.log", None),  # empty container name
    ("web-0_default_nginx.log", None),
])
def test_parse_container_link(name: str, want: tuple[str, str, str, str] | None) -> None:
    assert parse_container_link(name) == want


class Clock:
    """Test double for time.monotonic (pure logic: the rate limit)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make_tree(tmp_path: Path) -> tuple[Path, Path]:
    pods, links = tmp_path / "pods", tmp_path / "containers"
    (pods / f"default_web-0_{UID}" / "nginx").mkdir(parents=True)
    (pods / "junk_entry").mkdir()
    links.mkdir()
    (links / f"web-0_default_nginx-{CID}.log").symlink_to(pods / f"default_web-0_{UID}" / "nginx" / "0.log")
    (links / "README").write_text("not a link")
    return pods, links


def test_scan_reads_names_and_counts_junk(tmp_path: Path) -> None:
    pods, links = make_tree(tmp_path)
    idx = PodLogIndex(str(pods), str(links))
    idx.scan()
    assert idx.pods == {UID: ("default", "web-0")}
    assert idx.containers == {CID: ("default", "web-0", "nginx")}
    assert idx.skipped == 2


def test_refresh_is_rate_limited_and_scan_replaces(tmp_path: Path) -> None:
    pods, links = make_tree(tmp_path)
    clock = Clock()
    idx = PodLogIndex(str(pods), str(links), min_interval=1.0, clock=clock)
    assert idx.refresh() and idx.scans == 1
    for _ in range(100):  # a burst of unknown IDs: one listing
        assert not idx.refresh()
    assert idx.scans == 1
    (links / f"web-0_default_nginx-{CID}.log").unlink()
    clock.t += 1.0
    assert idx.refresh() and idx.scans == 2
    assert idx.containers == {}, "a deleted container's names go with its symlink"


def test_missing_dirs_are_empty_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from process_monitor_agent.log import log

    stream = io.StringIO()
    monkeypatch.setattr(log, "stream", stream)
    idx = PodLogIndex(str(tmp_path / "nope"), str(tmp_path / "nope2"))
    idx.scan()
    idx.scan()
    assert idx.pods == {} and idx.containers == {}
    assert stream.getvalue().count("cannot list") == 2, "one line per directory, not one per scan"
