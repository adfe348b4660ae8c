"""A real process with a chosen shape, started by `harness.realprocs.ProcSet.worker` (stdlib only, runs as a script).

It sets its comm (prctl PR_SET_NAME), starts extra threads (optionally renamed), opens files, burns a chosen amount
of CPU, starts child processes, then prints one JSON line `{"pid": ..., "children": [...]}` on stdout and sleeps
until killed or until --ttl seconds pass (a safety net: nothing it starts outlives a crashed test run for long).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
_libc = ctypes.CDLL(None, use_errno=True)


def set_comm(name: str | bytes) -> None:
    """Rename the calling thread (the main thread's name is the process comm); the kernel keeps 15 bytes."""
    raw = name if isinstance(name, bytes) else name.encode()
    _libc.prctl(PR_SET_NAME, raw[:15], 0, 0, 0)


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL us when our parent dies (used in children, before exec)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def state_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def burn_cpu(seconds: float) -> None:
    """Spin in user space until this process has used `seconds` of CPU."""
    start = time.process_time()
    x = 0
    while time.process_time() - start < seconds:
        for i in range(10_000):
            x += i * i


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--comm", default="")
    ap.add_argument("--comm-hex", default="", help="comm as hex bytes (for names that are not valid UTF-8)")
    ap.add_argument("--threads", type=int, default=1, help="total threads, main thread included")
    ap.add_argument("--thread-name", default="")
    ap.add_argument("--files", type=int, default=0, help="extra open file descriptors")
    ap.add_argument("--burn", type=float, default=0.0, help="CPU seconds to burn before reporting ready")
    ap.add_argument("--child", action="append", default=[], help="JSON argv of a child process to start")
    ap.add_argument("--ttl", type=float, default=300.0)
    ap.add_argument("--burner-thread", default="", help="name of one more thread that burns CPU on SIGUSR2")
    ap.add_argument("--burner-seconds", type=float, default=0.3)
    ap.add_argument("--zombies", type=int, default=0, help="children that exit at once and are never reaped")
    ap.add_argument("--exec-on-usr1", default="", help="JSON argv to exec when SIGUSR1 arrives (exec wrappers)")
    ap.add_argument("--token", action="append", default=[], help="ignored; lets tests shape the cmdline")
    args = ap.parse_args(argv)

    if args.comm_hex:
        set_comm(bytes.fromhex(args.comm_hex))
    elif args.comm:
        set_comm(args.comm)
    # Keep the file objects referenced so the descriptors stay open.
    files = [open(os.devnull, "rb") for _ in range(args.files)]  # noqa: SIM115
    stop = threading.Event()

    def idle() -> None:
        if args.thread_name:
            set_comm(args.thread_name)
        stop.wait(args.ttl)

    threads = [threading.Thread(target=idle, daemon=True) for _ in range(max(0, args.threads - 1))]
    for t in threads:
        t.start()
    burn_cpu(args.burn)
    go = threading.Event()
    if args.burner_thread:
        def burner() -> None:
            set_comm(args.burner_thread)
            go.wait(args.ttl)
            start = time.thread_time()
            x = 0
            while time.thread_time() - start < args.burner_seconds:
                for i in range(10_000):
                    x += i * i
            sys.stdout.write("burned\n")
            sys.stdout.flush()
            stop.wait(args.ttl)

        threading.Thread(target=burner, daemon=True).start()
        signal.signal(signal.SIGUSR2, lambda *_: go.set())
    children = [
        subprocess.Popen(
            json.loads(spec), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent
        )
        for spec in args.child
    ]
    # Children are "ready" once they exec'd (comm no longer ours); wait for that, bounded.
    deadline = time.monotonic() + 10
    for c in children:
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{c.pid}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[0] == json.loads(args.child[children.index(c)])[0].encode():
                        break
            except OSError:
                pass
            time.sleep(0.005)
    zombies = []
    for _ in range(args.zombies):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        zombies.append(pid)
    deadline = time.monotonic() + 10
    while zombies and time.monotonic() < deadline and not all(state_of(z) == "Z" for z in zombies):
        time.sleep(0.005)
    if args.exec_on_usr1:
        target = json.loads(args.exec_on_usr1)
        signal.signal(signal.SIGUSR1, lambda *_: os.execv(target[0], target))
    sys.stdout.write(json.dumps({"pid": os.getpid(), "children": [c.pid for c in children] + zombies}) + "\n")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    time.sleep(args.ttl)
    del files
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
