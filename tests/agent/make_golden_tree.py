"""Regenerate the static fake procfs tree tests/fixtures/procfs-golden (run: python tests/agent/make_golden_tree.py).

Used by test_cli.py (the CLI end to end on a fixed tree) and test_golden.py. Kept small and deterministic.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))  # harness, when run as a script

from harness.fakeproc import FakeProc

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "procfs-golden"


def build(root: Path) -> FakeProc:
    fp = FakeProc(root)
    fp.add(1, comm="systemd", cmdline=["/sbin/init"], ppid=0, starttime=1, utime=300, stime=200, fds=40,
           max_open_files=524288, rss=3000, vsize=170_000_000, pss_kb=9000, runtime=10)
    fp.add(2, comm="kthreadd", cmdline=[], ppid=0, starttime=1, state="S", fds=1, rss=0, vsize=0, pss_kb=0,
           wchan="kthreadd", runtime=10)
    fp.add(100, comm="nginx", cmdline=["nginx: master process /usr/sbin/nginx"], starttime=5000, utime=50,
           stime=20, fds=8, max_open_files=1024, rss=2000, vsize=60_000_000, vmswap_kb=64, pss_kb=4000,
           read_bytes=1 << 20, write_bytes=4096, vcs=100, nvcs=3, wchan="do_sigsuspend", runtime=10)
    fp.add(101, comm="nginx", cmdline=["nginx: worker process"], ppid=100, starttime=5010, utime=400,
           stime=80, fds=20, max_open_files=1024, rss=2500, vsize=61_000_000, pss_kb=1500, vcs=5000, nvcs=40,
           wchan="ep_poll", runtime=10)
    fp.add(200, comm="java", cmdline=["/usr/bin/java", "-jar", "/srv/app-orders.jar"], starttime=8000,
           utime=9000, stime=700, fds=120, max_open_files=4096, rss=100_000, vsize=4_000_000_000,
           pss_kb=390_000, runtime=10,
           threads=[
               {"tid": 200, "comm": "java", "state": "S", "utime": 100, "wchan": "futex_wait_queue", "runtime": 10},
               {"tid": 201, "comm": "GC Thread#0", "state": "S", "utime": 3000, "wchan": "futex_wait_queue",
                "runtime": 10},
               {"tid": 202, "comm": "http-nio-1", "state": "R", "utime": 5900, "wchan": "0", "runtime": 10},
           ])
    fp.add(300, comm="bash", cmdline=["-bash"], starttime=9000, fds=4, runtime=10)
    return fp


if __name__ == "__main__":
    shutil.rmtree(ROOT, ignore_errors=True)
    build(ROOT)
    print(f"wrote {ROOT}")
