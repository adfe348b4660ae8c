#!/usr/bin/env python3
"""Device check for a machine with an NVIDIA GPU: the agent's per-group GPU memory and utilisation are real.

One short script, no network, no CUDA toolkit: it needs the NVIDIA driver (libcuda.so.1, libnvidia-ml.so.1) and
the agent's Python dependencies in a folder beside the checkout (see --deps). Steps:

1. starts two child processes of this script, named (comm) `pm-gpucheck-a` and `pm-gpucheck-b`, each of which
   creates a CUDA context on GPU --device through the driver API (ctypes over libcuda.so.1: cuInit, cuDeviceGet,
   cuCtxCreate, cuMemAlloc) and allocates a known amount (--alloc-a, --alloc-b MiB);
2. runs this checkout's agent with -gpu.enabled on 127.0.0.1 and a config whose `gpu: true` rule names them;
3. checks each group's namedprocess_namegroup_gpu_memory_bytes >= what it allocated, gpu_num_procs == 1,
   gpu_up == 1 and no GPU scrape errors;
4. makes child b run a kernel-free busy loop (cuMemcpyDtoD between two device buffers) and checks that its
   group's utilisation (engine sm or memory) rises above --min-util and above child a's (idle) while it runs.

Prints every figure; exits 0 when all checks pass, 1 on a mismatch, 2 when the machine cannot run the check
(no driver, no dependencies). Every process it starts is killed before it exits; children also exit on their own
after --ttl seconds.

Preparing the dependency folder (on a machine with network, for the device machine's Python version/arch):

    python3 -m pip install --target bench/.gpu-deps google-re2 PyYAML nvidia-ml-py  # git-ignored
    python3 bench/gpu_check.py                     # picks bench/.gpu-deps up by default

For a device machine with another Python, add `--python-version 3.X --only-binary=:all: --platform
manylinux2014_x86_64` (google-re2 and PyYAML ship compiled wheels; nvidia-ml-py is pure
Python). The script prints SKIP and exits 2 when the folder does not import there.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # harness.supervise and localcluster.ports: standard library only

from harness.supervise import ProcessExited, Supervised  # noqa: E402
from harness.wait import WaitTimeout  # noqa: E402
from localcluster.ports import free_port  # noqa: E402

DEFAULT_DEPS = ROOT / "bench" / ".gpu-deps"
NAMES = ("pm-gpucheck-a", "pm-gpucheck-b")
MIB = 1 << 20
# Its own small reader, not harness.exposition: the device machine has only the agent's dependencies (--deps), and
# prometheus_client is a test dependency.
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


# -- child: a CUDA context holding memory, optionally busy ------------------------------------------------------
def _cu(lib: ctypes.CDLL, name: str, *args: object) -> None:
    rc = getattr(lib, name)(*args)
    if rc != 0:
        msg = ctypes.c_char_p()
        lib.cuGetErrorString(rc, ctypes.byref(msg))
        raise RuntimeError(f"{name} failed: {rc} {msg.value.decode() if msg.value else ''}")


def child(name: str, device: int, alloc_mib: int, ttl: float) -> int:
    """Hold a context with `alloc_mib` allocated; on stdin `busy SECONDS` copy device-to-device that long."""
    libc = ctypes.CDLL(None)
    libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME: the comm the agent's rules see
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: never outlive the check
    cuda = ctypes.CDLL("libcuda.so.1")
    dev, ctx = ctypes.c_int(), ctypes.c_void_p()
    held, src, dst = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint64()
    chunk = 256 * MIB
    _cu(cuda, "cuInit", 0)
    _cu(cuda, "cuDeviceGet", ctypes.byref(dev), device)
    _cu(cuda, "cuCtxCreate_v2", ctypes.byref(ctx), 0, dev)
    _cu(cuda, "cuMemAlloc_v2", ctypes.byref(held), ctypes.c_size_t(alloc_mib * MIB))
    _cu(cuda, "cuMemsetD8_v2", held, 1, ctypes.c_size_t(alloc_mib * MIB))  # touch it: resident, not lazy
    _cu(cuda, "cuCtxSynchronize")
    print(f"READY {os.getpid()}", flush=True)
    deadline = time.monotonic() + ttl
    for line in sys.stdin:
        if time.monotonic() > deadline or line.strip() == "exit":
            break
        if line.startswith("busy"):
            seconds = min(float(line.split()[1]), 60.0)
            if not src.value:
                _cu(cuda, "cuMemAlloc_v2", ctypes.byref(src), ctypes.c_size_t(chunk))
                _cu(cuda, "cuMemAlloc_v2", ctypes.byref(dst), ctypes.c_size_t(chunk))
            end = time.monotonic() + seconds
            copies = 0
            while time.monotonic() < end:
                for _ in range(8):
                    _cu(cuda, "cuMemcpyDtoD_v2", dst, src, ctypes.c_size_t(chunk))
                _cu(cuda, "cuCtxSynchronize")
                copies += 8
            print(f"BUSY-DONE {copies} copies of {chunk // MIB} MiB in {seconds:g} s", flush=True)
    return 0


# -- parent ------------------------------------------------------------------------------------------------------
def series(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m and m.group(1) == name:
            out.append((dict(_PAIR.findall(m.group(2) or "")), float(m.group(3))))
    return out


def pick(text: str, name: str, **labels: str) -> list[float]:
    return [v for lab, v in series(text, name) if all(lab.get(k) == w for k, w in labels.items())]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20) as r:
        return r.read().decode()


class Check:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, ok: bool, what: str) -> None:
        print(("PASS " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failed.append(what)


def _device_utilisation(deps: str, index: int) -> object:
    """A callable printing the whole GPU's utilisation (for diagnosis next to the per-process figures), or None."""
    if Path(deps).is_dir() and deps not in sys.path:
        sys.path.insert(0, deps)
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    except Exception as e:  # diagnosis only: the checks do not depend on it
        print(f"(no whole-GPU utilisation: {type(e).__name__}: {e})")
        return None

    def read() -> str:
        try:
            u = pynvml.nvmlDeviceGetUtilizationRates(handle)
            return f"gpu {u.gpu}% memory {u.memory}%"
        except Exception as e:
            return f"{type(e).__name__}: {e}"

    return read


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", type=int, default=0, help="CUDA device ordinal for both children")
    p.add_argument("--alloc-a", type=int, default=512, help="MiB child a allocates")
    p.add_argument("--alloc-b", type=int, default=1536, help="MiB child b allocates")
    p.add_argument("--busy", type=float, default=8.0, help="seconds child b copies memory")
    p.add_argument("--min-util", type=float, default=0.02, help="utilisation ratio the busy group must exceed")
    p.add_argument("--deps", default=str(DEFAULT_DEPS),
                   help="folder with google-re2, PyYAML, nvidia-ml-py")
    p.add_argument("--ttl", type=float, default=180.0, help="children exit on their own after this")
    p.add_argument("--child", nargs=2, metavar=("NAME", "MIB"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child[0], args.device, int(args.child[1]), args.ttl)

    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        print(f"SKIP: no NVIDIA driver here (libcuda.so.1: {e})")
        return 2
    env = dict(os.environ)
    path = [str(ROOT / "agent")] + ([args.deps] if Path(args.deps).is_dir() else [])
    env["PYTHONPATH"] = os.pathsep.join(path + [q for q in env.get("PYTHONPATH", "").split(os.pathsep) if q])
    imports = "import re2, yaml, pynvml; print(pynvml.__file__)"
    probe = subprocess.run([sys.executable, "-c", imports], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    if probe.returncode != 0:
        print(f"SKIP: the agent's dependencies do not import (deps folder {args.deps}):\n{probe.stderr.strip()}")
        return 2
    print(f"python {sys.version.split()[0]}, pynvml from {probe.stdout.strip()}")

    check = Check()
    children: list[subprocess.Popen[str]] = []
    agent: Supervised | None = None
    try:
        pids = {}
        for name, mib in zip(NAMES, (args.alloc_a, args.alloc_b), strict=True):
            c = subprocess.Popen([sys.executable, __file__, "--child", name, str(mib), "--device", str(args.device),
                                  "--ttl", str(args.ttl)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, env=env)
            children.append(c)
            line = c.stdout.readline() if c.stdout else ""
            if not line.startswith("READY"):
                print(f"FAIL child {name} did not create its context: {line!r}")
                return 1
            pids[name] = int(line.split()[1])
            print(f"child {name}: pid {pids[name]}, {mib} MiB allocated on CUDA device {args.device}")
        with tempfile.TemporaryDirectory(prefix="pm-gpu-check-") as tmp:
            cfg = Path(tmp) / "config.yaml"
            cfg.write_text('process_names:\n  - name: "{{.Comm}}"\n    gpu: true\n    comm: [' + ", ".join(NAMES)
                           + ']\n  - name: other\n    cmdline: [".+"]\n')
            port = free_port()
            log = Path(tmp) / "agent.log"
            agent = Supervised("agent", [sys.executable, "-m", "process_monitor_agent", f"-config.path={cfg}",
                                         f"-web.listen-address=127.0.0.1:{port}", "-gpu.enabled", "-threads=false"],
                               log, env=env)
            try:
                agent.wait_ready("/metrics", lambda: scrape(port), 20.0, interval=0.2)
            except (ProcessExited, WaitTimeout):
                print("FAIL the agent did not answer:\n" + agent.log_tail())
                return 1
            time.sleep(1.2)
            text = scrape(port)
            print("--- agent GPU lines (idle) ---")
            for line in text.splitlines():
                if line.startswith(("namedprocess_namegroup_gpu_", "process_monitor_agent_gpu_")):
                    print(line)
            check(pick(text, "process_monitor_agent_gpu_up") == [1.0], "NVML answered (gpu_up 1)")
            check(not [v for v in pick(text, "process_monitor_agent_gpu_scrape_errors_total") if v],
                  "no GPU scrape errors")
            tracked = pick(text, "process_monitor_agent_gpu_processes", state="tracked")
            ignored = pick(text, "process_monitor_agent_gpu_processes", state="ignored")
            print(f"GPU processes tracked {tracked}, ignored {ignored}")
            for name, mib in zip(NAMES, (args.alloc_a, args.alloc_b), strict=True):
                mem = pick(text, "namedprocess_namegroup_gpu_memory_bytes", groupname=name)
                got = sum(mem)
                check(bool(mem) and got >= mib * MIB,
                      f"group {name}: GPU memory {got / MIB:.0f} MiB >= {mib} MiB allocated")
                procs = pick(text, "namedprocess_namegroup_gpu_num_procs", groupname=name)
                check(procs == [1.0], f"group {name}: 1 process on a GPU (got {procs})")
            if not tracked or not tracked[0]:
                print("hint: NVML lists PIDs this /proc does not have: is this a container without the host PID "
                      "namespace? (the agent needs hostPID)")
            # Busy loop in b; sample the utilisation every second while it runs.
            assert children[1].stdin is not None
            children[1].stdin.write(f"busy {args.busy}\n")
            children[1].stdin.flush()
            best = {n: 0.0 for n in NAMES}
            device_util = _device_utilisation(args.deps, args.device)
            t_end = time.monotonic() + args.busy
            time.sleep(1.5)
            sampled = 0
            while sampled == 0 or time.monotonic() < t_end:  # at least one sample, however loaded the machine
                sampled += 1
                text = scrape(port)
                if device_util is not None:
                    print(f"  whole GPU {args.device} (nvmlDeviceGetUtilizationRates): {device_util()}")
                for name in NAMES:
                    util = {lab["engine"]: v for lab, v in
                            series(text, "namedprocess_namegroup_gpu_utilization_ratio") if lab["groupname"] == name}
                    if util:
                        print(f"  {name}: " + " ".join(f"{k}={v:.3f}" for k, v in sorted(util.items())))
                    best[name] = max(best[name], util.get("sm", 0.0), util.get("memory", 0.0))
                time.sleep(1.0)
            done = children[1].stdout.readline().strip() if children[1].stdout else ""
            print(f"child b: {done}")
            a, b = best[NAMES[0]], best[NAMES[1]]
            check(b > args.min_util and b > a,
                  f"utilisation moved: busy group peak {b:.3f} > {args.min_util} and > idle group peak {a:.3f}")
            print(f"NVML read time {pick(text, 'process_monitor_agent_gpu_read_duration_seconds')} s, "
                  f"collection {pick(text, 'process_monitor_agent_collection_duration_seconds')} s")
    finally:
        if agent is not None:
            agent.stop()
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait(10)
    if check.failed:
        print(f"{len(check.failed)} check(s) failed: " + "; ".join(check.failed))
        return 1
    print("all GPU checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
