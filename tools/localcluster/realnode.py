"""The real node: containerd + runc + a kubelet of the pinned Kubernetes version, registered beside the kwok nodes.

Called by localcluster.cluster (`up --real-nodes 1`, `down`, `status`). Recipe and every trap it avoids:
shared/reference/real-node.md. What this module guarantees:

- all state under `<state_dir>/realnode/` (containerd root/state/socket, kubelet root, pod logs, certificates), and
  every listener on 127.0.0.1 (kubelet 10250/10248, containerd's stream server);
- no pod network: a loopback-only CNI config, so only `hostNetwork: true` pods run here (a bridge network would put
  pods on private addresses, which nothing here may send traffic to);
- one kubelet per machine (its ports and /var/lib/kubelet/device-plugins are fixed): a machine-wide owner file says
  which state directory holds it, and a second request fails with that in the message;
- `stop()` leaves nothing: kubelet stopped, every container task killed and removed, containerd stopped, shims
  killed, mounts under the state directory unmounted, the `kubepods` cgroups removed in every hierarchy, and the
  /var/log/containers symlinks of its pods deleted.

This module holds preflight and start; the pure configuration is in realnode_config, the teardown (and the check
that nothing is left) in realnode_teardown, both re-exported here. Pure parts are unit-tested
(tests/cluster/test_realnode_unit.py); the rest is proven by tests/realnode on this machine.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import yaml

from . import images, procs, tools
from . import pki as pki_mod
from .ports import port_free
from .realnode_config import (
    CGROUP_ROOT,
    CNI_BIN_DIR,
    HOST_KUBELET_DIR,
    KUBELET_HEALTHZ_PORT,
    KUBELET_PORT,
    LOOPBACK_CNI,
    NODE_LABELS,
    NODE_NAME,
    OWNER_FILE,
    SYNC_FREQUENCY,
    Paths,
    containerd_config,
    ctr_argv,
    kubelet_argv,
    kubelet_config,
    kubelet_kubeconfig,
)
from .realnode_teardown import leftovers, stop

__all__ = ["KUBELET_HEALTHZ_PORT", "KUBELET_PORT", "LOOPBACK_CNI", "NODE_LABELS", "NODE_NAME", "SYNC_FREQUENCY",
           "Paths", "RealNodeError", "containerd_config", "ctr_argv", "kubelet_argv", "kubelet_config",
           "kubelet_kubeconfig", "leftovers", "owner", "preflight", "runtime_version", "start", "stop"]

Progress = Callable[[str], None]


class RealNodeError(procs.SupervisionError):
    """The real node could not start or stop; the message says which part and why."""


# --- preflight --------------------------------------------------------------------------------------------------------

def _cgroups_usable() -> str | None:
    """None if this process can create and remove a cgroup in the hierarchies the kubelet uses, else why not."""
    v1 = [CGROUP_ROOT / c for c in ("cpu", "memory", "pids") if (CGROUP_ROOT / c / "cgroup.procs").exists()]
    probes = v1 or ([CGROUP_ROOT] if (CGROUP_ROOT / "cgroup.controllers").exists() else [])
    if not probes:
        return f"no usable cgroup hierarchy under {CGROUP_ROOT}"
    for base in probes:
        probe = base / f"pm-realnode-probe-{os.getpid()}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError as err:
            return f"cannot create a cgroup in {base} ({err.strerror})"
    return None


def _owner_record() -> tuple[dict[str, Any], bool] | None:
    """The recorded real node of this machine and whether its kubelet still runs; None when none is recorded."""
    try:
        data = json.loads(OWNER_FILE.read_text())
    except (OSError, ValueError):
        return None
    kubelet = data.get("kubelet") if isinstance(data, dict) else None
    if not isinstance(kubelet, dict):
        return None
    return data, procs.alive(kubelet)


def owner() -> dict[str, Any] | None:
    """The machine's live real node, if any: {"state_dir", "kubelet": {pid, starttime}}."""
    record = _owner_record()
    return record[0] if record and record[1] else None


def stale_owner() -> str | None:
    """The state dir of a real node whose kubelet is gone but that was never stopped (its starter was killed, e.g.
    a pytest run ended by a signal: shims, mounts and log links stay behind), or None."""
    record = _owner_record()
    if record is None or record[1]:
        return None
    return str(record[0].get("state_dir") or "") or None


def preflight(state_dir: pathlib.Path) -> str | None:
    """None when this machine can run the real node for `state_dir`, else a one-line reason (then the cluster
    starts with kwok nodes only)."""
    if os.geteuid() != 0:
        return "needs root (containerd, runc and the kubelet manage mounts and cgroups)"
    if "overlay" not in pathlib.Path("/proc/filesystems").read_text():
        return "the kernel has no overlay filesystem (containerd's snapshotter needs it)"
    for exe in ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "buildah", "gcc"):
        if shutil.which(exe) is None:
            return f"{exe} is not installed (run `make setup`)"
    if not (CNI_BIN_DIR / "loopback").exists():
        return f"no loopback CNI plugin in {CNI_BIN_DIR} (run `make setup`: containernetworking-plugins)"
    if tools.missing(("kubelet",)):
        return "the kubelet is not built (run `make setup`)"
    reason = _cgroups_usable()
    if reason:
        return reason
    live = owner()
    if live is not None and pathlib.Path(live["state_dir"]) != state_dir:
        return (f"a real node already runs on this machine for {live['state_dir']} (kubelet pid "
                f"{live['kubelet']['pid']}); one kubelet fits per machine (ports {KUBELET_PORT}/"
                f"{KUBELET_HEALTHZ_PORT}, /var/lib/kubelet/device-plugins): stop that cluster first")
    for port in (KUBELET_PORT, KUBELET_HEALTHZ_PORT):
        if live is None and not port_free(port):
            return f"127.0.0.1:{port} is in use (another kubelet?); one kubelet fits per machine"
    return None


# --- start ------------------------------------------------------------------------------------------------------------

def _ctr_ok(paths: Paths) -> bool:
    try:
        return subprocess.run([*ctr_argv(paths), "version"], capture_output=True, timeout=5,
                              check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _write_configs(paths: Paths, server: str, pki: pki_mod.Pki) -> None:
    """containerd's config, the loopback CNI, the kubelet's config and kubeconfig (its client cert made here)."""
    for d in (paths.containerd_root, paths.containerd_state, paths.cni_conf_dir, paths.kubelet_root, paths.pod_logs,
              paths.volume_plugins, paths.cert_dir):
        d.mkdir(parents=True, exist_ok=True)
    paths.containerd_config.write_text(containerd_config(paths))
    (paths.cni_conf_dir / "10-loopback.conflist").write_text(json.dumps(LOOPBACK_CNI) + "\n")
    paths.kubelet_config.write_text(yaml.safe_dump(kubelet_config(paths, pki.ca_crt), sort_keys=True))
    crt, key = pki_mod.ensure_node_client(pki, NODE_NAME)
    paths.kubelet_kubeconfig.write_text(kubelet_kubeconfig(server, pki.ca_crt, crt, key))


def _await_node(kubectl: Callable[..., Any], timeout: float, watch: list[tuple[str, dict[str, Any]]],
                log_dir: pathlib.Path) -> None:
    """Wait until the kubelet registered the node, give it its address, wait until it is Ready and untainted."""
    def registered() -> bool:
        return kubectl("get", "node", NODE_NAME, check=False, timeout=20).returncode == 0

    procs.wait(f"node {NODE_NAME} to register", registered, timeout, watch=watch, log_dir=log_dir)
    # The kubelet refuses a loopback node IP and then publishes no address, so logs/exec would fail; a status
    # patch sticks (the kubelet's address setter errors out before it touches addresses). No Hostname address:
    # the API server would try it first and it does not resolve.
    patch = {"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}
    kubectl("patch", "node", NODE_NAME, "--subresource=status", "--type=merge", "-p", json.dumps(patch))

    def ready() -> bool:
        proc = kubectl("get", "node", NODE_NAME, "-o", "json", check=False, timeout=20)
        if proc.returncode != 0:
            return False
        node = json.loads(proc.stdout)
        conds = node.get("status", {}).get("conditions", [])
        is_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
        return is_ready and not node.get("spec", {}).get("taints")

    procs.wait(f"node {NODE_NAME} Ready and untainted", ready, timeout, watch=watch, log_dir=log_dir)


def start(state_dir: pathlib.Path, server: str, pki: pki_mod.Pki, kubectl: Callable[..., Any],
          *, timeout: float, die_with_parent: bool, progress: Progress) -> dict[str, Any]:
    """Start containerd and the kubelet for node real-node-0 and wait until it is Ready and untainted.
    Returns the state entry {"node", "paths", "processes": {containerd, kubelet}, "created_host_kubelet_dir"}."""
    paths = Paths(state_dir / "realnode")
    log_dir = state_dir / "logs"
    _write_configs(paths, server, pki)
    entry: dict[str, Any] = {"node": NODE_NAME, "root": str(paths.root), "processes": {},
                             "created_host_kubelet_dir": not HOST_KUBELET_DIR.exists()}

    stale = stale_owner()
    if stale:
        progress(f"real node: cleaning up after the real node of {stale}, which was never stopped")
        # stop() also removes the owner file, which names that state dir
        for line in stop({"root": str(pathlib.Path(stale) / "realnode"), "processes": {}}, 10.0):
            progress(f"  {line}")
    try:
        progress("real node: starting containerd")
        containerd = procs.spawn("containerd", ["containerd", "--config", str(paths.containerd_config)], log_dir,
                                 die_with_parent)
        entry["processes"]["containerd"] = containerd
        watch = [("containerd", containerd)]
        procs.wait("containerd's socket", lambda: _ctr_ok(paths), timeout, watch=watch, log_dir=log_dir, interval=0.2)

        progress(f"real node: importing the sandbox image {images.PAUSE_IMAGE}")
        b = images.Buildah.in_cache(images.cache_dir())
        images.cache_dir().mkdir(parents=True, exist_ok=True)
        pause = images.ensure_pause(b, images.cache_dir(), progress)
        images.import_archive(ctr_argv(paths), pause, images.PAUSE_IMAGE)

        progress(f"real node: starting the kubelet as {NODE_NAME}")
        kubelet = procs.spawn("kubelet", kubelet_argv(tools.binary("kubelet"), paths), log_dir, die_with_parent)
        entry["processes"]["kubelet"] = kubelet
        watch.append(("kubelet", kubelet))
        OWNER_FILE.parent.mkdir(parents=True, exist_ok=True)
        OWNER_FILE.write_text(json.dumps({"state_dir": str(state_dir), "kubelet": kubelet}) + "\n")

        _await_node(kubectl, timeout, watch, log_dir)
        return entry
    except BaseException:
        # A half-started node must not outlive the failure (containerd, a kubelet, mounts, cgroups).
        stop(entry, 10.0)
        raise


def runtime_version(kubectl: Callable[..., Any]) -> str | None:
    proc = kubectl("get", "node", NODE_NAME, "-o", "jsonpath={.status.nodeInfo.containerRuntimeVersion}",
                   check=False, timeout=20)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None
