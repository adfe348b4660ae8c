"""Why `securityMode: full` adds exactly SYS_PTRACE and DAC_READ_SEARCH, measured on the real kernel.

The agent runs once (`-once-to-stdout-delay`) under `setpriv` with each set of capabilities (uid 0, bounding set
reduced, so root keeps nothing else: no DAC_OVERRIDE), against a process of another uid, and reports in
`process_monitor_agent_read_errors_total{file}` what it could not read. The expected failures are the table in
docs/security.md: `io` needs both capabilities, `smaps_rollup` needs SYS_PTRACE, listing `fd/` needs
DAC_READ_SEARCH (Linux >= 6.2 counts fds from the directory's size, which needs neither). With no capability the
agent stands where `restricted` mode (uid 65534) stands for every process not its own.
Needs root and util-linux's setpriv; skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import pathlib
import platform
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

pytestmark = [pytest.mark.realproc, pytest.mark.timeout(120)]

TARGET_UID = 23456  # no such user needed: the kernel only compares numbers
SETPRIV = shutil.which("setpriv")


def _new_kernel() -> bool:
    """Linux >= 6.2 reports the number of open fds as the size of /proc/PID/fd."""
    m = re.match(r"(\d+)\.(\d+)", platform.release())
    return bool(m) and (int(m[1]), int(m[2])) >= (6, 2)


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    """A sleeping process of another uid, with a unique command line; yields the regex that matches it."""
    if os.geteuid() != 0 or not SETPRIV:
        pytest.skip("needs root and setpriv (util-linux) to run processes as another uid and drop capabilities")
    token = secrets.token_hex(4)
    proc = subprocess.Popen([SETPRIV, f"--reuid={TARGET_UID}", f"--regid={TARGET_UID}", "--clear-groups",
                             "sleep", "600", f"0.{int(token, 16)}"])
    try:
        yield rf"^sleep 600 0\.{int(token, 16)}$"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _read_errors(config: str, caps: list[str], tmp: str) -> dict[str, float]:
    """Run the agent once with only `caps` (besides uid 0) -> its read_errors_total by file, plus num_procs."""
    spec = ",".join(["-all", *(f"+{c}" for c in caps)])
    path = os.path.join(tmp, f"config-{'-'.join(caps) or 'none'}.yaml")
    with open(path, "w") as fh:
        fh.write(config)
    proc = subprocess.run([SETPRIV or "setpriv", f"--inh-caps={spec}", f"--bounding-set={spec}", sys.executable, "-m",
                           "process_monitor_agent", "-config.path", path, "-once-to-stdout-delay", "0.3s",
                           "-gather-smaps=true", "-threads=false"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, float] = {}
    for m in re.finditer(r'^process_monitor_agent_read_errors_total\{file="(\w+)"\} (\S+)$', proc.stdout, re.M):
        out[m[1]] = float(m[2])
    procs = re.search(r'^namedprocess_namegroup_num_procs\{groupname="target"\} (\S+)$', proc.stdout, re.M)
    assert procs and float(procs[1]) == 1, "the agent did not find the target process"
    return out


@pytest.mark.parametrize(("caps", "unreadable"), [
    ([], {"io", "smaps_rollup"} | (set() if _new_kernel() else {"fd"})),
    (["sys_ptrace"], {"io"} | (set() if _new_kernel() else {"fd"})),
    (["dac_read_search"], {"io", "smaps_rollup"}),
    (["sys_ptrace", "dac_read_search"], set()),
], ids=["none", "sys_ptrace", "dac_read_search", "both (securityMode full)"])
def test_each_capability_unlocks_its_files(target: str, tmp_path: pathlib.Path, caps: list[str],
                                           unreadable: set[str]) -> None:
    config = f"process_names:\n  - name: target\n    cmdline: ['{target}']\n"
    errors = _read_errors(config, caps, str(tmp_path))
    assert {f for f, n in errors.items() if n > 0} == unreadable, errors
