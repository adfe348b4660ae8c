"""procfs parsers on real file samples (tests/fixtures/procfs-samples, captured from a `sleep` on Linux 6.x) and
on edge cases (comm with spaces and parentheses, kernel threads, unlimited limits, missing lines)."""

from __future__ import annotations

from pathlib import Path

import pytest
from process_monitor_agent.procfs import line_after, stat
from process_monitor_agent.procfs.cgroup import parse_cgroup
from process_monitor_agent.procfs.cmdline import parse_cmdline
from process_monitor_agent.procfs.io import parse_io
from process_monitor_agent.procfs.limits import parse_max_open_files
from process_monitor_agent.procfs.schedstat import parse_runtime_ns
from process_monitor_agent.procfs.smaps import parse_smaps_rollup
from process_monitor_agent.procfs.stat import comm_of, parse_stat, split_stat
from process_monitor_agent.procfs.status import parse_status
from process_monitor_agent.procfs.system import list_pids, parse_boot_time, parse_uptime
from process_monitor_agent.procfs.wchan import parse_wchan

S = Path(__file__).resolve().parent.parent / "fixtures" / "procfs-samples"


def read(name: str) -> bytes:
    return (S / name).read_bytes()


def test_stat_sample() -> None:
    st = parse_stat(read("stat"))
    assert st.comm == "sleep" and st.state == "S" and st.ppid == 1
    assert (st.minflt, st.majflt, st.utime, st.stime) == (138, 0, 0, 0)
    assert (st.num_threads, st.starttime, st.vsize, st.rss) == (1, 48366, 2990080, 403)


def test_stat_comm_with_spaces_and_parens() -> None:
    line = b"42 (a) b (c) R 7 42 42 0 -1 0 11 0 12 0 13 14 0 0 20 0 3 0 999 4096 5 0\n"
    st = parse_stat(line)
    assert st.comm == "a) b (c" and st.state == "R" and st.ppid == 7
    assert (st.minflt, st.majflt, st.utime, st.stime, st.num_threads, st.starttime) == (11, 12, 13, 14, 3, 999)


def test_status_sample_and_kernel_thread() -> None:
    st = parse_status(read("status"))
    assert st.euid == 0 and st.vmswap_bytes == 0
    assert st.voluntary_ctxt_switches >= 1 and st.nonvoluntary_ctxt_switches >= 0
    kthread = b"Name:\tkworker/0:1\nState:\tI (idle)\nUid:\t0\t0\t0\t0\nvoluntary_ctxt_switches:\t5\n" \
        b"nonvoluntary_ctxt_switches:\t6\n"
    assert parse_status(kthread) == (0, 0, 5, 6)
    other = b"Name:\tx\nUid:\t1000\t1001\t1000\t1000\nVmSwap:\t     12 kB\n"
    assert parse_status(other) == (1001, 12 * 1024, -1, -1)  # no context switch lines: a truncated file


def test_io_limits_smaps_samples() -> None:
    assert parse_io(read("io")) == (0, 0)
    assert parse_io(b"rchar: 5\nwchar: 6\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n") == (
        4096,
        8192,
    )
    assert parse_max_open_files(read("limits")) > 0
    unl = b"Limit Soft Hard Units\nMax open files            unlimited            unlimited            files\n"
    assert parse_max_open_files(unl) == 0
    pss, swappss = parse_smaps_rollup(read("smaps_rollup"))
    assert pss > 0 and swappss == 0
    assert parse_smaps_rollup(b"") == (0, 0)


def test_cgroup_cmdline_schedstat_wchan_btime() -> None:
    assert parse_cgroup(b"0::/kubepods/burstable/pod1/abc\n") == ["/kubepods/burstable/pod1/abc"]
    assert parse_cgroup(b"2:cpu,cpuacct:/a\n1:name=systemd:/b\n") == ["/a", "/b"]
    assert parse_cgroup(read("cgroup"))
    assert parse_cmdline(read("cmdline")) == ["my sleeper", "300"]
    assert parse_cmdline(b"") == []
    assert parse_cmdline(b"nginx: worker process") == ["nginx: worker process"]  # setproctitle, no NUL
    assert parse_runtime_ns(read("schedstat")) == 1660222
    assert parse_wchan(read("wchan")) == "hrtimer_nanosleep"
    assert parse_wchan(b"0") == ""
    assert parse_boot_time(read("proc-stat")) > 1_000_000_000
    assert parse_boot_time(b"btime 17\n") == 17


@pytest.mark.parametrize("line", [
    read("stat"),
    b"42 (a) b (c) R 7 42 42 0 -1 0 11 0 12 0 13 14 0 0 20 0 3 0 999 4096 5 0\n",
])
def test_split_stat_offsets_agree_with_parse_stat(line: bytes) -> None:
    """The hot path's named offsets read the same fields as the full parser, comm with parentheses included."""
    st = parse_stat(line)
    rp, f = split_stat(line)
    assert comm_of(line, rp) == st.comm and f[stat.STATE].decode() == st.state
    got = [int(f[i]) for i in (stat.PPID, stat.MINFLT, stat.MAJFLT, stat.UTIME, stat.STIME, stat.NUM_THREADS,
                               stat.STARTTIME, stat.VSIZE, stat.RSS)]
    assert got == [st.ppid, st.minflt, st.majflt, st.utime, st.stime, st.num_threads, st.starttime, st.vsize,
                   st.rss]


@pytest.mark.parametrize("data, key, want", [
    (b"a: 1\nread_bytes: 4096\nx: 2\n", b"\nread_bytes:", b" 4096"),
    (b"a: 1\nread_bytes: 4096", b"\nread_bytes:", b" 4096"),  # last line without its newline: taken whole
    (b"a: 1\n", b"\nread_bytes:", None),
])
def test_line_after(data: bytes, key: bytes, want: bytes | None) -> None:
    assert line_after(data, key) == want


def test_uptime_and_pid_list(tmp_path: Path) -> None:
    assert parse_uptime(b"12345.67 54321.00\n") == 12345.67
    for name in ("1", "42", "self", "sys"):
        (tmp_path / name).mkdir()
    assert sorted(list_pids(str(tmp_path)), key=int) == ["1", "42"]
