"""Builder of fake procfs trees for the agent's unit tests (tests/agent/*) and bench/attribution_micro.py.

A FakeProc writes, under a root directory, the files the agent reads for each process (stat, status, io, limits,
fd/, smaps_rollup, cmdline, cgroup, wchan, schedstat, task/<tid>/...), in the kernel's exact formats, from a dict
of values per pid; `update` rewrites them, `remove` deletes the process. The same builder produced the static
tree under tests/fixtures/procfs-golden (see tests/agent/test_golden.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

BTIME = 1700000000

DEFAULTS: dict[str, Any] = {
    "comm": "proc",
    "cmdline": None,  # list of args; None -> [comm]; [] -> kernel thread
    "ppid": 1,
    "state": "S",
    "utime": 0,
    "stime": 0,
    "minflt": 0,
    "majflt": 0,
    "num_threads": 1,
    "starttime": 100,
    "vsize": 10_000_000,
    "rss": 100,  # pages
    "uid": 0,
    "vmswap_kb": 0,
    "vcs": 0,
    "nvcs": 0,
    "read_bytes": 0,
    "write_bytes": 0,
    "fds": 3,
    "max_open_files": 1024,
    "pss_kb": 50,
    "swappss_kb": 0,
    "cgroup": "0::/system.slice/demo.service",
    "wchan": "do_wait",
    "runtime": 1000,
    "threads": None,  # list of dicts (tid, comm, state, utime, stime, minflt, majflt, vcs, nvcs, read_bytes, ...)
}


def stat_line(pid: int, v: dict[str, Any]) -> str:
    fields = [
        str(pid), f"({v['comm']})", v["state"], str(v["ppid"]), str(pid), str(pid), "0", "-1", "4194560",
        str(v["minflt"]), "0", str(v["majflt"]), "0", str(v["utime"]), str(v["stime"]), "0", "0", "20", "0",
        str(v["num_threads"]), "0", str(v["starttime"]), str(v["vsize"]), str(v["rss"]),
        "18446744073709551615", "1", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "17", "0", "0", "0",
        "0", "0", "0", "0", "0", "0", "0", "0", "0", "0",
    ]
    return " ".join(fields) + "\n"


def status_text(pid: int, v: dict[str, Any]) -> str:
    uid = v["uid"]
    lines = [
        f"Name:\t{v['comm']}",
        "Umask:\t0022",
        f"State:\t{v['state']} (sleeping)",
        f"Tgid:\t{pid}",
        f"Pid:\t{pid}",
        f"PPid:\t{v['ppid']}",
        f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}",
        f"Gid:\t{uid}\t{uid}\t{uid}\t{uid}",
        f"VmRSS:\t{v['rss'] * 4}\tkB",
        f"VmSwap:\t{v['vmswap_kb']:8d} kB",
        f"Threads:\t{v['num_threads']}",
        f"voluntary_ctxt_switches:\t{v['vcs']}",
        f"nonvoluntary_ctxt_switches:\t{v['nvcs']}",
    ]
    return "\n".join(lines) + "\n"


def io_text(v: dict[str, Any]) -> str:
    return (
        f"rchar: {v['read_bytes'] + 100}\nwchar: {v['write_bytes'] + 100}\nsyscr: 10\nsyscw: 10\n"
        f"read_bytes: {v['read_bytes']}\nwrite_bytes: {v['write_bytes']}\ncancelled_write_bytes: 0\n"
    )


def limits_text(v: dict[str, Any]) -> str:
    mof = v["max_open_files"]
    return (
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max cpu time              unlimited            unlimited            seconds   \n"
        f"Max open files            {mof!s:<21}{mof!s:<21}files     \n"
        "Max locked memory         8388608              8388608              bytes     \n"
    )


def smaps_text(v: dict[str, Any]) -> str:
    return (
        "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0                          [rollup]\n"
        f"Rss:                 {v['rss'] * 4} kB\nPss:                 {v['pss_kb']} kB\n"
        f"Pss_Anon:            {v['pss_kb']} kB\nSwap:                  0 kB\n"
        f"SwapPss:               {v['swappss_kb']} kB\n"
    )


class FakeProc:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.procs: dict[int, dict[str, Any]] = {}
        (self.root / "stat").write_text(f"cpu  1 2 3 4\nintr 0\nbtime {BTIME}\nprocesses 10\n")
        (self.root / "uptime").write_text("1000.00 1900.00\n")

    def add(self, pid: int, **values: Any) -> None:
        v = dict(DEFAULTS)
        v.update(values)
        if v["cmdline"] is None:
            v["cmdline"] = [v["comm"]]
        if v["threads"]:
            v["num_threads"] = len(v["threads"])
        self.procs[pid] = v
        self._write(pid)

    def update(self, pid: int, **values: Any) -> None:
        self.procs[pid].update(values)
        if values.get("threads"):
            self.procs[pid]["num_threads"] = len(values["threads"])
        self._write(pid)

    def remove(self, pid: int) -> None:
        self.procs.pop(pid, None)
        shutil.rmtree(self.root / str(pid), ignore_errors=True)

    def _write(self, pid: int) -> None:
        v = self.procs[pid]
        d = self.root / str(pid)
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        (d / "stat").write_text(stat_line(pid, v))
        (d / "comm").write_text(v["comm"] + "\n")
        (d / "status").write_text(status_text(pid, v))
        (d / "io").write_text(io_text(v))
        (d / "limits").write_text(limits_text(v))
        (d / "smaps_rollup").write_text(smaps_text(v))
        (d / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in v["cmdline"]))
        (d / "cgroup").write_text(v["cgroup"] + "\n")
        (d / "wchan").write_text(v["wchan"])
        (d / "schedstat").write_text(f"{v['runtime']} 0 1\n")
        fd = d / "fd"
        fd.mkdir()
        for i in range(v["fds"]):
            os.symlink("/dev/null", fd / str(i))
        task = d / "task"
        task.mkdir()
        threads = v["threads"] or [{"tid": pid}]
        for t in threads:
            tv = dict(v)
            tv.update(t)
            tv["num_threads"] = v["num_threads"]
            td = task / str(t["tid"])
            td.mkdir()
            (td / "stat").write_text(stat_line(t["tid"], tv))
            (td / "status").write_text(status_text(t["tid"], tv))
            (td / "io").write_text(io_text(tv))
            (td / "wchan").write_text(tv["wchan"])
            (td / "schedstat").write_text(f"{tv['runtime']} 0 1\n")
