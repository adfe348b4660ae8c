"""Tearing the real node down completely, and checking that nothing is left.

Called by localcluster.realnode (a failed start), localcluster.cluster (`down`) and the `real_cluster` pytest
fixture (`leftovers` after teardown). Order: SIGTERM the kubelet; kill and remove every task and container in
containerd's k8s.io namespace; stop containerd; kill shims still naming its socket; unmount everything under the
state dir, deepest first; rmdir the `kubepods` cgroups in every hierarchy; remove the /var/log/containers links into
its pod logs; remove /var/lib/kubelet if the node created it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from . import procs
from .realnode_config import CGROUP_ROOT, HOST_CONTAINER_LOGS, HOST_KUBELET_DIR, OWNER_FILE, Paths, ctr_argv


def _ctr(paths: Paths, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ctr_argv(paths), "-n", "k8s.io", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _remove_containers(paths: Paths) -> int:
    """Kill and delete every task and container in containerd's k8s.io namespace; returns how many."""
    listed = _ctr(paths, "containers", "ls", "-q")
    ids = listed.stdout.split() if listed.returncode == 0 else []
    for cid in ids:
        _ctr(paths, "tasks", "kill", "-s", "SIGKILL", cid)
    for cid in ids:
        _ctr(paths, "tasks", "rm", "-f", cid)
        _ctr(paths, "containers", "rm", cid)
    return len(ids)


def _pids_mentioning(needle: str) -> list[int]:
    """PIDs whose command line contains `needle` (the shims name their containerd's socket)."""
    found = []
    for d in pathlib.Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                if needle.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                continue
    return found


def _unmount_under(root: pathlib.Path) -> int:
    """Unmount every mount point at or below `root`, deepest first (lazily if busy); returns how many."""
    prefix = str(root.resolve())
    points = []
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        if subprocess.run(["umount", point], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    return len(set(points))


def _kubepods_tops() -> list[pathlib.Path]:
    tops = [CGROUP_ROOT / "kubepods"] + [d / "kubepods" for d in CGROUP_ROOT.iterdir() if d.is_dir()]
    return [t for t in tops if t.is_dir()]


def _kill_pod_processes() -> int:
    """SIGKILL whatever still runs in the `kubepods` cgroups (the node's containers, when containerd died before it
    could stop them: a killed test run); one kubelet per machine, so every such process is this node's."""
    pids: set[int] = set()
    for top in _kubepods_tops():
        for dirpath, _dirs, _files in os.walk(top):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(x) for x in (pathlib.Path(dirpath) / "cgroup.procs").read_text().split())
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    deadline = time.monotonic() + 5
    while pids and time.monotonic() < deadline:
        pids = {pid for pid in pids if pathlib.Path(f"/proc/{pid}").exists()}
        time.sleep(0.05)
    return len(pids)


def _remove_cgroups() -> int:
    """rmdir the kubelet's `kubepods` trees in every cgroup hierarchy, leaves first; returns how many removed."""
    removed = 0
    for top in _kubepods_tops():
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)
                removed += 1
    return removed


def _remove_log_links(pod_logs: pathlib.Path) -> int:
    if not HOST_CONTAINER_LOGS.is_dir():
        return 0
    removed = 0
    for link in HOST_CONTAINER_LOGS.iterdir():
        with contextlib.suppress(OSError):
            if link.is_symlink() and os.readlink(link).startswith(str(pod_logs)):
                link.unlink()
                removed += 1
    return removed


def leftovers(state_dir: pathlib.Path) -> list[str]:
    """What a stopped real node of `state_dir` left behind (empty when teardown was complete): processes naming
    its state dir (kubelet, containerd, shims), mounts under it, `kubepods` cgroups, links into its pod logs."""
    root = Paths(state_dir.resolve() / "realnode")
    found = []
    pids = _pids_mentioning(str(root.root))
    if pids:
        found.append(f"processes {pids}")
    prefix = str(root.root)
    mounts = [line.split()[4] for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()
              if line.split()[4].startswith(prefix)]
    if mounts:
        found.append(f"{len(mounts)} mounts under {prefix}")
    cgroups = [str(d / "kubepods") for d in CGROUP_ROOT.iterdir() if (d / "kubepods").is_dir()]
    if cgroups:
        found.append(f"cgroups {cgroups}")
    if HOST_CONTAINER_LOGS.is_dir():
        links = [x.name for x in HOST_CONTAINER_LOGS.iterdir()
                 if x.is_symlink() and os.readlink(x).startswith(str(root.pod_logs))]
        if links:
            found.append(f"{len(links)} links in {HOST_CONTAINER_LOGS}")
    return found


def stop(entry: Mapping[str, Any], timeout: float) -> list[str]:
    """Tear the real node down completely (see the module docstring); one report line per step."""
    paths = Paths(pathlib.Path(entry["root"]))
    comps = entry.get("processes", {})
    report = procs.stop([("kubelet", comps["kubelet"])] if "kubelet" in comps else [], timeout)
    if "containerd" in comps and procs.alive(comps["containerd"]):
        n = _remove_containers(paths)
        report.append(f"containers: {n} killed and removed")
    if "containerd" in comps:
        report += procs.stop([("containerd", comps["containerd"])], timeout)
    shims = _pids_mentioning(str(paths.containerd_sock))
    for pid in shims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    if shims:
        report.append(f"shims: {len(shims)} killed")
    deadline = time.monotonic() + 5
    while _pids_mentioning(str(paths.containerd_sock)) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = _kill_pod_processes()
    if survivors:
        report.append(f"pod processes: {survivors} still running after SIGKILL")
    report.append(f"mounts: {_unmount_under(paths.root)} unmounted")
    report.append(f"cgroups: {_remove_cgroups()} kubepods cgroups removed")
    report.append(f"log links: {_remove_log_links(paths.pod_logs)} removed from {HOST_CONTAINER_LOGS}")
    if entry.get("created_host_kubelet_dir"):
        _unmount_under(HOST_KUBELET_DIR)
        shutil.rmtree(HOST_KUBELET_DIR, ignore_errors=True)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(OWNER_FILE.read_text()).get("state_dir") == str(paths.root.parent):
            OWNER_FILE.unlink()
    shutil.rmtree(paths.root, ignore_errors=True)
    return report
