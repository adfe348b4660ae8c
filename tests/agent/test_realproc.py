"""The agent on the real /proc: spawn processes with known names, threads, fds and children; run the agent as a
subprocess (HTTP on 127.0.0.1) and check groups and values. Also: concurrent scrapes share one collection,
/healthz, and the error counters are present. Every spawned process is killed at the end."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from harness import exposition
from harness.supervise import Supervised
from localcluster.ports import free_port

pytestmark = pytest.mark.realproc

HELPER = r"""
import ctypes, os, subprocess, sys, threading, time
libc = ctypes.CDLL(None)
libc.prctl(15, b"pmt-threads", 0, 0, 0)   # PR_SET_NAME on the main thread = the process comm
files = [open(os.devnull) for _ in range(10)]
ev = threading.Event()
def work():
    libc.prctl(15, b"pmt-worker", 0, 0, 0)
    ev.wait()
ts = [threading.Thread(target=work, daemon=True) for _ in range(3)]
for t in ts: t.start()
child = subprocess.Popen(["sleep", "300"])
print(child.pid, flush=True)
end = time.time() + 120
x = 0
while time.time() < end:
    x += 1                                # burn a little CPU so cpu_seconds_total moves
    if x % 200000 == 0: time.sleep(0.01)
"""



parse = exposition.flat  # {'name{labels}': value}


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[dict]:
    tag = f"pm{os.getpid() % 100000}"
    sleep_bin = tmp_path / f"{tag}-slp"  # comm = basename, <= 15 chars
    shutil.copy(shutil.which("sleep"), sleep_bin)
    started: list[subprocess.Popen] = []
    try:
        for _ in range(3):
            started.append(subprocess.Popen([str(sleep_bin), "300"]))
        helper = subprocess.Popen(
            [sys.executable, "-c", HELPER, "pmtest-threads", tag], stdout=subprocess.PIPE, text=True
        )
        started.append(helper)
        child_pid = int(helper.stdout.readline())
        time.sleep(0.3)
        yield {"tag": tag, "sleep_comm": sleep_bin.name, "helper": helper.pid, "child": child_pid}
    finally:
        for p in started:
            p.kill()
        for p in started:
            p.wait(timeout=10)
        with contextlib.suppress(OSError, UnboundLocalError):
            os.kill(child_pid, 9)


def write_config(tmp_path: Path, procs: dict) -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "process_names:\n"
        f"  - name: sleepers\n    comm: [{procs['sleep_comm']}]\n"
        "  - name: 'thr:{{.Matches.tag}}'\n"
        f"    cmdline: ['pmtest-threads (?P<tag>{procs['tag']})']\n"
    )
    return cfg


def once(*args: str) -> dict[str, float]:
    r = subprocess.run(
        [sys.executable, "-m", "process_monitor_agent", *args, "-once-to-stdout-delay", "300ms"],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return parse(r.stdout)


def test_groups_threads_fds_children(tmp_path: Path, procs: dict) -> None:
    cfg = write_config(tmp_path, procs)
    m = once("-config.path", str(cfg))
    thr = f'groupname="thr:{procs["tag"]}"'
    assert m['namedprocess_namegroup_num_procs{groupname="sleepers"}'] == 3
    assert m['namedprocess_namegroup_num_threads{groupname="sleepers"}'] == 3
    assert m[f"namedprocess_namegroup_num_procs{{{thr}}}"] == 2  # helper + its `sleep` child (-children)
    assert m[f"namedprocess_namegroup_num_threads{{{thr}}}"] == 5
    states = sum(v for k, v in m.items() if k.startswith(f"namedprocess_namegroup_states{{{thr}"))
    assert states == 5  # each thread once (upstream would say 6: bug #338)
    assert m[f'namedprocess_namegroup_thread_count{{{thr},threadname="pmt-worker"}}'] == 3
    assert m[f"namedprocess_namegroup_open_filedesc{{{thr}}}"] >= 13 + 3
    assert m[f'namedprocess_namegroup_cpu_seconds_total{{{thr},mode="user"}}'] > 0
    assert m[f'namedprocess_namegroup_memory_bytes{{{thr},memtype="resident"}}'] > 1_000_000
    assert m["namedprocess_scrape_errors"] == 0
    assert m["process_resident_memory_bytes"] > 0 and m["process_cpu_seconds_total"] > 0

    m = once("-config.path", str(cfg), "-children=false", "-threads=false")
    assert m[f"namedprocess_namegroup_num_procs{{{thr}}}"] == 1
    assert not any(k.startswith("namedprocess_namegroup_thread_count") for k in m)
    assert not any(k.startswith("namedprocess_namegroup_threads_wchan") for k in m)


def test_procnames_flag(procs: dict) -> None:
    m = once("-procnames", procs["sleep_comm"])
    assert m[f'namedprocess_namegroup_num_procs{{groupname="{procs["sleep_comm"]}"}}'] == 3


def test_http_endpoints_and_shared_collection(tmp_path: Path, procs: dict) -> None:
    cfg = write_config(tmp_path, procs)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Supervised("agent", [sys.executable, "-m", "process_monitor_agent", "-config.path", str(cfg),
                              "-web.listen-address", f"127.0.0.1:{port}"], tmp_path / "agent.log") as agent:
        agent.wait_ready("/healthz", lambda: requests.get(base + "/healthz", timeout=2).status_code == 200, 30,
                         errors=(requests.ConnectionError,))
        r = requests.get(base + "/metrics", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        before = parse(r.text)["process_monitor_agent_collections_total"]
        results: list[str] = []

        def scrape() -> None:
            results.append(requests.get(base + "/metrics", timeout=20).text)

        ts = [threading.Thread(target=scrape) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        after = max(parse(t)["process_monitor_agent_collections_total"] for t in results)
        assert len(results) == 8
        assert after - before <= 3, "8 concurrent scrapes must share collections"
        assert requests.get(base + "/nope", timeout=5).status_code == 404
        assert re.search(r"process_monitor_agent_config_last_reload_successful 1", results[0])
