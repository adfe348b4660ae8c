"""Spawn real processes with chosen comm names, cmdlines, parents, threads and open files; read their /proc truth.

Called by the side-by-side tests (tests/agent_real, through fixtures in its conftest.py) and by `bench/`. Every
process is started in its own session with a parent-death signal and a bounded lifetime, and `ProcSet.close()`
SIGKILLs every process group it started, so nothing outlives a test even when the test fails.

Comm names come from the file name that is exec'd (a symlink to /bin/sleep named as wanted), or from prctl
PR_SET_NAME in `worker.py` (python processes whose cmdline the test shapes with --token).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from .supervise import die_with_parent
from .wait import WaitTimeout, wait_for

WORKER = pathlib.Path(__file__).with_name("worker.py")
SLEEP = pathlib.Path(os.path.realpath(shutil.which("sleep") or "/bin/sleep"))
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Proc:
    """A process this harness started (and the pids of the children it started in turn)."""

    pid: int
    popen: subprocess.Popen[bytes] | None
    children: list[int] = field(default_factory=list)


class SpawnError(RuntimeError):
    """A process did not come up as asked within its time bound."""


def _stat_fields(path: str) -> list[str]:
    data = pathlib.Path(path).read_bytes().decode("utf-8", "surrogateescape")
    lpar, rpar = data.index("("), data.rindex(")")  # comm may hold spaces and parentheses
    return [data[:lpar].strip(), data[lpar + 1 : rpar], *data[rpar + 2 :].split()]


def read_stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat, 0-based as in proc(5) minus one: [0]=pid, [1]=comm, [2]=state, ..."""
    return _stat_fields(f"/proc/{pid}/stat")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    st = read_stat(pid)
    return (int(st[13]) + int(st[14])) / CLK_TCK


def status_field(pid: int, key: str) -> str:
    """A line's value from /proc/<pid>/status (e.g. 'VmHWM' -> '12345 kB'), '' when absent."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k == key:
            return v.strip()
    return ""


def vm_hwm_bytes(pid: int) -> int:
    """Peak resident set size (VmHWM) in bytes."""
    return int(status_field(pid, "VmHWM").split()[0]) * 1024


@dataclass(frozen=True)
class Truth:
    """What /proc says about one process, in the units process-exporter reports."""

    comm: str
    state: str
    num_threads: int
    open_fds: int
    resident: int
    virtual: int
    user: float
    system: float
    thread_states: tuple[str, ...]


def truth(pid: int) -> Truth:
    st = read_stat(pid)
    tasks = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    thread_states = tuple(read_stat_task(pid, int(t))[2] for t in tasks)
    return Truth(
        comm=st[1],
        state=st[2],
        num_threads=int(st[19]),
        open_fds=len(os.listdir(f"/proc/{pid}/fd")),
        resident=int(st[23]) * PAGE_SIZE,
        virtual=int(st[22]),
        user=int(st[13]) / CLK_TCK,
        system=int(st[14]) / CLK_TCK,
        thread_states=thread_states,
    )


def read_stat_task(pid: int, tid: int) -> list[str]:
    """read_stat for one thread: /proc/<pid>/task/<tid>/stat."""
    return _stat_fields(f"/proc/{pid}/task/{tid}/stat")


def comm_of(pid: int) -> str:
    """The comm of a process ('' if gone); bytes that are not UTF-8 come back as surrogate escapes."""
    try:
        return pathlib.Path(f"/proc/{pid}/comm").read_bytes().rstrip(b"\n").decode("utf-8", "surrogateescape")
    except OSError:
        return ""


class ProcSet(contextlib.AbstractContextManager["ProcSet"]):
    """Owns every process it starts; `close()` (or leaving the `with`) kills them all.

    `workdir` holds the renamed symlinks; `ttl` bounds each process's life in seconds even if close() never runs.
    """

    def __init__(self, workdir: pathlib.Path, ttl: float = 300.0) -> None:
        self.workdir = workdir
        self.bindir = workdir / "bin"
        self.bindir.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self.procs: list[Proc] = []
        # Processes run as another user cannot reach a private tmp dir; their symlinks go here (0755, in /tmp).
        self._public: pathlib.Path | None = None

    def __exit__(self, *exc: object) -> None:
        self.close()

    def link(self, name: str, target: pathlib.Path = SLEEP, public: bool = False) -> pathlib.Path:
        """A symlink named `name` to `target`: exec'ing it gives comm `name` (first 15 bytes).

        `public` puts it where any user can exec it (for processes started with `user=`).
        """
        if public and self._public is None:
            self._public = pathlib.Path(tempfile.mkdtemp(prefix="pm-realproc-bin-"))
            self._public.chmod(0o755)
        path = (self._public if public and self._public else self.bindir) / name
        if not path.exists():
            path.symlink_to(target)
        return path

    def sleeper(self, comm: str, *, argv0: str | None = None, ttl: float | None = None,
                user: int | None = None) -> Proc:
        """Start /bin/sleep under the name `comm`; argv[0] is the symlink's path unless `argv0` is given;
        `user` runs it under that uid and gid (needs root).

        sleep's only argument is its duration, so the cmdline is `<argv0> <ttl>`.
        """
        path = self.link(comm, public=user is not None)
        argv = [argv0 or str(path), f"{ttl or self.ttl:g}"]
        popen = subprocess.Popen(
            argv, executable=str(path), stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=die_with_parent, user=user, group=user, extra_groups=None if user is None else [],
        )
        proc = Proc(popen.pid, popen)
        self.procs.append(proc)
        self._wait_comm(popen.pid, comm[:15])
        return proc

    def worker(
        self,
        comm: str | bytes,
        *,
        threads: int = 1,
        thread_name: str = "",
        files: int = 0,
        burn: float = 0.0,
        children: list[list[str]] | None = None,
        tokens: list[str] | None = None,
        zombies: int = 0,
        exec_on_usr1: list[str] | None = None,
        burner_thread: str = "",
        timeout: float = 20.0,
    ) -> Proc:
        """Start `worker.py` (a python process) shaped as asked; returns once it reports ready.

        `children` are argvs it starts (see child_argv); `zombies` children exit at once and stay unreaped;
        `exec_on_usr1` is an argv it execs on SIGUSR1 (an exec wrapper). Their pids land in Proc.children.
        `burner_thread` names one more thread that burns 0.3 s of CPU on SIGUSR2 (see `burn_in_thread`).
        """
        name = ["--comm-hex", comm.hex()] if isinstance(comm, bytes) else ["--comm", comm]
        argv = [sys.executable, str(WORKER), *name, "--threads", str(threads), "--files", str(files),
                "--burn", str(burn), "--ttl", f"{self.ttl:g}"]
        if thread_name:
            argv += ["--thread-name", thread_name]
        for child in children or []:
            argv += ["--child", json.dumps(child)]
        if zombies:
            argv += ["--zombies", str(zombies)]
        if exec_on_usr1:
            argv += ["--exec-on-usr1", json.dumps(exec_on_usr1)]
        if burner_thread:
            argv += ["--burner-thread", burner_thread]
        for tok in tokens or []:
            argv.append(f"--token={tok}")
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True,
            preexec_fn=die_with_parent,
        )
        proc = Proc(popen.pid, popen)
        self.procs.append(proc)
        assert popen.stdout is not None
        line = _readline(popen.stdout, timeout)
        if not line:
            raise SpawnError(f"worker {comm!r} (pid {popen.pid}) did not report ready within {timeout}s")
        proc.children = json.loads(line)["children"]
        if comm:
            text = comm if isinstance(comm, str) else comm[:15].decode("utf-8", "surrogateescape")
            self._wait_comm(popen.pid, text[:15])
        return proc

    def burn_in_thread(self, proc: Proc, timeout: float = 30.0) -> None:
        """Make a worker's burner thread burn its CPU now; returns once it is done."""
        assert proc.popen is not None and proc.popen.stdout is not None
        proc.popen.send_signal(signal.SIGUSR2)
        if _readline(proc.popen.stdout, timeout) != b"burned":
            raise SpawnError(f"burner thread of pid {proc.pid} did not finish within {timeout}s")

    def child_argv(self, comm: str) -> list[str]:
        """argv of a renamed sleep, for `worker(children=[...])`."""
        return [str(self.link(comm)), f"{self.ttl:g}"]

    def _wait_comm(self, pid: int, comm: str, timeout: float = 10.0) -> None:
        try:
            wait_for(f"pid {pid} to take comm {comm!r}", lambda: comm_of(pid) == comm, timeout, 0.005)
        except WaitTimeout:
            raise SpawnError(f"pid {pid} did not take comm {comm!r} within {timeout}s (has {comm_of(pid)!r})") from None

    def kill(self, proc: Proc) -> None:
        """Kill one process (and its process group) now and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=10)
            if proc.popen.stdout is not None:
                proc.popen.stdout.close()
        # Its children are reaped by init (or a subreaper), not by us: wait until they are gone, bounded.
        with contextlib.suppress(WaitTimeout):
            wait_for(f"children of pid {proc.pid} gone", lambda: not any(os.path.exists(f"/proc/{c}")
                                                                      for c in proc.children), 10, 0.01)
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self) -> None:
        for proc in list(self.procs):
            self.kill(proc)
        if self._public is not None:
            shutil.rmtree(self._public, ignore_errors=True)
            self._public = None

    def wait_for_comm_count(self, comm: str, count: int, timeout: float = 10.0) -> list[int]:
        """Pids of processes named `comm` once there are exactly `count` of them (for grandchildren a test
        does not start itself); raises SpawnError after `timeout` seconds."""
        pids: list[int] = []

        def exactly() -> bool:
            pids[:] = [int(d) for d in os.listdir("/proc") if d.isdigit() and comm_of(int(d)) == comm[:15]]
            return len(pids) == count

        try:
            wait_for(f"{count} processes named {comm!r}", exactly, timeout, 0.02)
        except WaitTimeout:
            raise SpawnError(f"expected {count} processes named {comm!r}, found {len(pids)} after {timeout}s") from None
        return sorted(pids)


def _readline(stream: object, timeout: float) -> bytes:
    """One line from a pipe, or b'' if none arrives within `timeout` seconds."""
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)  # type: ignore[arg-type]
    buf = b""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()  # type: ignore[attr-defined]
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return b""
            chunk = os.read(fd, 4096)
            if not chunk:
                return b""
            buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0]


class SleepFarm(contextlib.AbstractContextManager["SleepFarm"]):
    """N plain `sleep` processes in one process group, for benchmarks (posix_spawn: fast, little memory).

    Each sleeps at most `ttl` seconds, so even a killed benchmark leaves nothing behind for long.
    """

    def __init__(self, count: int, ttl: float = 1800.0) -> None:
        self.count = count
        self.ttl = ttl
        self.pids: list[int] = []
        self.pgid = 0

    def __enter__(self) -> SleepFarm:
        try:
            for _ in range(self.count):
                pid = os.posix_spawn(str(SLEEP), ["sleep", f"{self.ttl:g}"], os.environ, setpgroup=self.pgid)
                if not self.pgid:
                    self.pgid = pid
                self.pids.append(pid)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.pgid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        for pid in self.pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.pids.clear()
        self.pgid = 0
