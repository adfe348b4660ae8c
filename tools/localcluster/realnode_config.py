"""The real node's configuration, pure: where its state lives, containerd's config, the kubelet's config, kubeconfig
and command line. Used by localcluster.realnode (start) and localcluster.realnode_teardown (stop); unit-tested in
tests/cluster/test_realnode_unit.py. Why each setting: shared/reference/real-node.md.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

from . import images

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
