"""Hot reload (issue 3): the kubelet's atomic `..data` symlink swap, an in-place edit, SIGHUP and POST /-/reload;
counters continuous across reloads; a bad config changes nothing until a good one arrives. The agent runs as a
subprocess on a fake procfs tree (deterministic values), serving HTTP on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from agent_runner import (
    CPU_WEB,
    FAILURE,
    FILE_REFUSED,
    FILE_UNCHANGED,
    OK,
    PROCS_CACHE,
    SUCCESS,
    Running,
    start,
    wait_for,
)
from kubelet_volume import KubeletVolume
from process_monitor_agent.watch import Watcher

WEB_ONLY = "process_names:\n  - name: web\n    comm: [nginx]\n"
WEB_AND_CACHE = WEB_ONLY + "  - name: cache\n    comm: [redis]\n"
BAD_REGEX = WEB_AND_CACHE + "  - name: broken\n    cmdline: ['(']\n"



@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[Running, KubeletVolume]]:
    vol = KubeletVolume(tmp_path / "config")
    vol.write(WEB_ONLY)
    with start(tmp_path, vol.path) as r:
        yield r, vol


def test_kubelet_symlink_swap_reloads_and_counters_continue(kube: tuple[Running, KubeletVolume]) -> None:
    r, vol = kube
    r.burn(30)
    m = r.m()
    assert PROCS_CACHE not in m and m[CPU_WEB] == pytest.approx(0.30)
    vol.write(WEB_AND_CACHE)
    wait_for(lambda: PROCS_CACHE in r.m(), "new group after the ..data swap")
    r.burn(20)
    m = r.m()
    assert m[PROCS_CACHE] == 1 and m[OK] == 1 and m[SUCCESS] == 1
    assert m[CPU_WEB] == pytest.approx(0.50)  # no reset, no jump
    assert m['namedprocess_namegroup_cpu_seconds_total{groupname="cache",mode="user"}'] == 0  # new group: zero
    # Remove the cache rule again: the group stays with frozen counters like any empty group.
    vol.write(WEB_ONLY)
    wait_for(lambda: r.m()[SUCCESS] == 2, "second reload")
    assert r.m()[PROCS_CACHE] == 0


def test_bad_config_changes_nothing_until_a_good_one(kube: tuple[Running, KubeletVolume]) -> None:
    r, vol = kube
    vol.write(BAD_REGEX)
    wait_for(lambda: r.m()[FAILURE] >= 1, "failed reload")
    m = r.m()
    assert m[OK] == 0 and PROCS_CACHE not in m and 'namedprocess_namegroup_num_procs{groupname="web"}' in m
    # The same bad content again (kubelet resync): seen, not parsed again, not logged again.
    vol.write(BAD_REGEX)
    wait_for(lambda: r.m()[FILE_UNCHANGED] >= 1, "the watcher to see the same bad bytes")
    m = r.m()
    assert m[FAILURE] == 1 and m[FILE_REFUSED] == 1
    errors = [ln for ln in r.log.read_text().splitlines() if "config reload" in ln and "failed" in ln]
    assert len(errors) == 1 and "process_names[2] (name 'broken')" in errors[0] and "Traceback" not in errors[0]
    vol.write(WEB_AND_CACHE)
    wait_for(lambda: PROCS_CACHE in r.m(), "good config after a bad one")
    assert r.m()[OK] == 1


def test_in_place_edit_sighup_and_http(tmp_path: Path) -> None:
    cfg = tmp_path / "pm.yaml"
    cfg.write_text(WEB_ONLY)
    with start(tmp_path, cfg, "-web.enable-lifecycle") as r:
        with open(cfg, "w") as f:  # in place: same inode
            f.write(WEB_AND_CACHE)
        wait_for(lambda: PROCS_CACHE in r.m(), "in-place edit")
        time.sleep(0.5)  # let any trailing events of the edit settle before counting
        n = r.m()[SUCCESS]
        r.proc.send_signal(signal.SIGHUP)  # same content: only SIGHUP can cause this reload
        wait_for(lambda: r.m()[SUCCESS] >= n + 1, "SIGHUP reload")
        assert r.proc.poll() is None  # process-exporter dies on SIGHUP; we reload
        resp = requests.post(r.base + "/-/reload", timeout=10)  # same bytes again: a success, not re-parsed
        assert resp.status_code == 200 and resp.text == "config unchanged\n" and r.m()[SUCCESS] >= n + 2
        assert requests.get(r.base + "/-/reload", timeout=10).status_code == 405
        # A bad file through HTTP: 500 with the reason, old rules keep serving.
        os.rename(_write(tmp_path / "bad.yaml", "process_names: [\n"), cfg)
        wait_for(lambda: r.m()[OK] == 0, "watch sees the bad file")
        resp = requests.post(r.base + "/-/reload", timeout=10)
        assert resp.status_code == 500 and "invalid YAML" in resp.text
        assert r.m()[PROCS_CACHE] == 1


def _write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


@pytest.mark.parametrize("mode", ["inotify", "poll"])
def test_watcher_fires_on_swap_and_edit(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import process_monitor_agent.watch as w

    if mode == "poll":
        def no_inotify() -> None:
            raise OSError(38, "inotify disabled for this test")

        monkeypatch.setattr(w, "_Inotify", no_inotify)
        monkeypatch.setattr(w, "POLL_INTERVAL", 0.1)
    vol = KubeletVolume(tmp_path / "cfg")
    vol.write("a: 1\n")
    fired: list[float] = []
    watcher = Watcher(str(vol.path), lambda: fired.append(time.monotonic())).start()
    try:
        time.sleep(0.3)
        vol.write("a: 2\n")
        wait_for(lambda: len(fired) >= 1, f"{mode}: swap")
        n = len(fired)
        time.sleep(0.3)
        real = vol.dir / vol.current / vol.filename
        with open(real, "a") as f:  # in-place edit of the file behind the symlinks
            f.write("b: 3\n")
        wait_for(lambda: len(fired) > n, f"{mode}: in-place edit")
        assert watcher.mode == mode
    finally:
        watcher.stop()
        watcher.thread.join(5)
    assert not watcher.thread.is_alive()
