"""Golden test of a whole exposition: two collections over a fake tree (tests/agent/make_golden_tree.py) with
changes in between, rendered by the real collector; every namedprocess_* line must equal
tests/fixtures/golden/exposition.txt. Regenerate deliberately with UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

from make_golden_tree import build
from process_monitor_agent.collector import Collector
from process_monitor_agent.config import load_config
from process_monitor_agent.track import Settings

FIX = Path(__file__).resolve().parent.parent / "fixtures"
GOLDEN = FIX / "golden" / "exposition.txt"


def render(tmp_path: Path) -> str:
    fp = build(tmp_path / "proc")
    cfg = load_config(str(FIX / "golden-config.yaml"))
    c = Collector(Settings(procfs=str(fp.root)), cfg, report_missing_groups=True, self_metrics=False)
    c.collect()
    fp.update(101, utime=450, stime=85, vcs=5100, read_bytes=8192, minflt=7, runtime=11)
    threads = [dict(t) for t in fp.procs[200]["threads"]]
    threads[2].update(utime=6000, vcs=10, runtime=11)
    fp.update(200, threads=threads, utime=9100, stime=705)
    fp.add(400, comm="sh", cmdline=["sh", "-c", "reload"], ppid=100, starttime=95_000, utime=3, fds=3, runtime=1)
    fp.remove(300)
    text = c.collect().decode()
    return "".join(line + "\n" for line in text.splitlines() if "namedprocess_" in line)


def test_golden_exposition(tmp_path: Path) -> None:
    got = render(tmp_path)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()
