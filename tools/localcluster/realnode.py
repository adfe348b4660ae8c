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

Pure parts (`containerd_config`, `kubelet_config`, `preflight` given its probes) are unit-tested; the rest is proven
by tests/realnode on this machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from . import images, procs, tools
from . import pki as pki_mod
from .ports import port_free

NODE_NAME = "real-node-0"
NODE_LABELS = {"type": "real", "process-monitor.dev/real-node": "true"}
KUBELET_PORT, KUBELET_HEALTHZ_PORT = 10250, 10248
CNI_BIN_DIR = pathlib.Path("/usr/lib/cni")
OWNER_FILE = pathlib.Path("/run/process-monitor/real-node.json")
HOST_KUBELET_DIR = pathlib.Path("/var/lib/kubelet")  # device-plugins socket path is fixed, whatever --root-dir says
HOST_CONTAINER_LOGS = pathlib.Path("/var/log/containers")  # the kubelet's symlinks, whatever podLogsDir says
CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")
# kubelet's syncFrequency bounds how fast a ConfigMap change reaches a mounted volume (reference: 9-10 s here;
# the upstream default of 1 m gives ~30-90 s). 10 s keeps the reload tests and quick start short.
SYNC_FREQUENCY = "10s"

Progress = Callable[[str], None]


class RealNodeError(procs.SupervisionError):
    """The real node could not start or stop; the message says which part and why."""


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where one real node keeps everything (all under the cluster's state directory)."""

    root: pathlib.Path

    @property
    def containerd_root(self) -> pathlib.Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> pathlib.Path:
        return self.root / "containerd" / "state"

    @property
    def containerd_sock(self) -> pathlib.Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def containerd_config(self) -> pathlib.Path:
        return self.root / "containerd" / "config.toml"

    @property
    def cni_conf_dir(self) -> pathlib.Path:
        return self.root / "cni" / "net.d"

    @property
    def kubelet_root(self) -> pathlib.Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> pathlib.Path:
        return self.root / "kubelet-config.yaml"

    @property
    def kubelet_kubeconfig(self) -> pathlib.Path:
        return self.root / "kubelet.kubeconfig"

    @property
    def pod_logs(self) -> pathlib.Path:
        return self.root / "pod-logs"

    @property
    def volume_plugins(self) -> pathlib.Path:
        return self.root / "volume-plugins"

    @property
    def cert_dir(self) -> pathlib.Path:
        return self.root / "kubelet-pki"


def ctr_argv(paths: Paths) -> list[str]:
    """`ctr` against this node's containerd (never blocks 10 s on a missing socket: 1 s connect timeout)."""
    return ["ctr", "--address", str(paths.containerd_sock), "--connect-timeout", "1s"]


# --- configuration (pure) -------------------------------------------------------------------------------------------

def containerd_config(paths: Paths) -> str:
    """containerd 1.6 config (version 2): own root/state/socket, CRI with the local pause image, loopback CNI,
    runc without systemd cgroups, and the settings this VM needs (no CAP_SYS_RESOURCE, no hugetlb, no AppArmor)."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{paths.containerd_root}"
state = "{paths.containerd_state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{paths.containerd_sock}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{paths.root / 'containerd' / 'opt'}"

[{cri}]
  sandbox_image = "{images.PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # This VM lacks CAP_SYS_RESOURCE: CRI's oom_score_adj=-998 for sandboxes would fail every runc create.
  restrict_oom_score_adj = true
  disable_hugetlb_controller = true
  tolerate_missing_hugetlb_controller = true

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{paths.cni_conf_dir}"
"""


LOOPBACK_CNI = {"cniVersion": "1.0.0", "name": "lo", "plugins": [{"type": "loopback"}]}


def kubelet_config(paths: Paths, ca_file: pathlib.Path) -> dict[str, Any]:
    """KubeletConfiguration for this VM: cgroup v1 allowed, cgroupfs driver, loopback listeners, x509 + webhook auth
    (the API server presents a client certificate for logs/exec), small-disk eviction thresholds."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "address": "127.0.0.1",
        "port": KUBELET_PORT,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": KUBELET_HEALTHZ_PORT,
        "readOnlyPort": 0,
        "containerRuntimeEndpoint": f"unix://{paths.containerd_sock}",
        "podLogsDir": str(paths.pod_logs),
        "volumePluginDir": str(paths.volume_plugins),
        "enforceNodeAllocatable": ["pods"],
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
        "serializeImagePulls": False,
        "syncFrequency": SYNC_FREQUENCY,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(ca_file)}},
        "authorization": {"mode": "Webhook"},
        "clusterDomain": "cluster.local",
        "resolvConf": "/etc/resolv.conf",
        "staticPodPath": "",
        "cgroupsPerQOS": True,
        "registerNode": True,
        "registerWithTaints": [],
    }


def kubelet_kubeconfig(server: str, ca: pathlib.Path, crt: pathlib.Path, key: pathlib.Path) -> str:
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": NODE_NAME, "user": {"client-certificate": str(crt), "client-key": str(key)}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": NODE_NAME}}],
        "current-context": "local",
    }
    return json.dumps(config, indent=2) + "\n"


def kubelet_argv(binary: pathlib.Path, paths: Paths) -> list[str]:
    labels = ",".join(f"{k}={v}" for k, v in NODE_LABELS.items())
    return [str(binary), f"--config={paths.kubelet_config}", f"--kubeconfig={paths.kubelet_kubeconfig}",
            f"--root-dir={paths.kubelet_root}", f"--cert-dir={paths.cert_dir}", f"--hostname-override={NODE_NAME}",
            # Rejected as loopback (the kubelet then publishes no address): the status patch in start() sets it.
            "--node-ip=127.0.0.1", f"--node-labels={labels}", "--v=1"]


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


def owner() -> dict[str, Any] | None:
    """The machine's live real node, if any: {"state_dir", "kubelet": {pid, starttime}}."""
    try:
        data = json.loads(OWNER_FILE.read_text())
    except (OSError, ValueError):
        return None
    kubelet = data.get("kubelet")
    return data if isinstance(kubelet, dict) and procs.alive(kubelet) else None


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


def start(state_dir: pathlib.Path, server: str, pki: pki_mod.Pki, kubectl: Callable[..., Any],
          *, timeout: float, die_with_parent: bool, progress: Progress) -> dict[str, Any]:
    """Start containerd and the kubelet for node real-node-0 and wait until it is Ready and untainted.
    Returns the state entry {"node", "paths", "processes": {containerd, kubelet}, "created_host_kubelet_dir"}."""
    paths = Paths(state_dir / "realnode")
    log_dir = state_dir / "logs"
    for d in (paths.containerd_root, paths.containerd_state, paths.cni_conf_dir, paths.kubelet_root, paths.pod_logs,
              paths.volume_plugins, paths.cert_dir):
        d.mkdir(parents=True, exist_ok=True)
    paths.containerd_config.write_text(containerd_config(paths))
    (paths.cni_conf_dir / "10-loopback.conflist").write_text(json.dumps(LOOPBACK_CNI) + "\n")
    paths.kubelet_config.write_text(yaml.safe_dump(kubelet_config(paths, pki.ca_crt), sort_keys=True))
    crt, key = pki_mod.ensure_node_client(pki, NODE_NAME)
    paths.kubelet_kubeconfig.write_text(kubelet_kubeconfig(server, pki.ca_crt, crt, key))
    entry: dict[str, Any] = {"node": NODE_NAME, "root": str(paths.root), "processes": {},
                             "created_host_kubelet_dir": not HOST_KUBELET_DIR.exists()}

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


# --- stop -------------------------------------------------------------------------------------------------------------

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


def _remove_cgroups() -> int:
    """rmdir the kubelet's `kubepods` trees in every cgroup hierarchy, leaves first; returns how many removed."""
    removed = 0
    tops = [CGROUP_ROOT / "kubepods"] + [d / "kubepods" for d in CGROUP_ROOT.iterdir() if d.is_dir()]
    for top in tops:
        if not top.is_dir():
            continue
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
