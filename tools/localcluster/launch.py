"""A fresh start of the control plane's processes: prepare the state directory (PKI, kubeconfig, ports, bin
links), then spawn etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok in order, each once the
one it needs is healthy.

Called by localcluster.cluster.up when no live cluster is found in the state directory (nodes, the ServiceAccount
wait and the real node come after, in cluster.py). Each spawned component is recorded in state.json at once, so
a start that fails half-way can be stopped by PID; every wait is bounded and watches that nothing we started died.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Callable
from typing import Any

from . import pki as pki_mod
from . import probe, procs, tools
from . import state as state_mod
from .components import CLUSTER_BINARIES, component_argv
from .kubeconfig import kubeconfig_text
from .ports import free_ports


@dataclasses.dataclass
class Launch:
    """What a fresh start needs to spawn the components: paths, ports, PKI, and the state being recorded."""

    state_dir: pathlib.Path
    binaries: dict[str, pathlib.Path]
    stages_dir: pathlib.Path
    p: pki_mod.Pki
    state: dict[str, Any]
    die_with_parent: bool

    @property
    def log_dir(self) -> pathlib.Path:
        return self.state_dir / "logs"

    def start(self, name: str) -> tuple[str, dict[str, Any]]:
        """Spawn one component and record it in state.json at once, so `down` can stop a half-started cluster."""
        argv = component_argv(name, binary=self.binaries[name], state_dir=self.state_dir, p=self.p,
                              ports=self.state["ports"], kubeconfig=self.state_dir / "kubeconfig",
                              stages_dir=self.stages_dir)
        entry = procs.spawn(name, argv, self.log_dir, self.die_with_parent)
        self.state["processes"][name] = entry
        state_mod.save_state(self.state_dir, self.state)
        return name, entry


def prepare(state_dir: pathlib.Path, die_with_parent: bool) -> Launch:
    """Clear what an old cluster left, then write the PKI, kubeconfig and bin links of a fresh one on new ports."""
    binaries = {name: tools.binary(name) for name in CLUSTER_BINARIES}  # a missing tool fails before any change
    stages_dir = tools.kwok_stages_dir()
    state_mod.reset(state_dir)
    p = pki_mod.ensure_pki(state_dir / "pki")
    ports = dict(zip(("etcd_client", "etcd_peer", "apiserver", "scheduler"), free_ports(4), strict=True))
    server = f"https://127.0.0.1:{ports['apiserver']}"
    kubeconfig = state_dir / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(server, p))
    kubeconfig.chmod(0o600)
    state_mod.link_bins(state_dir / "bin")
    state: dict[str, Any] = {"server": server, "ports": ports, "processes": {}, "nodes": [],
                             "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return Launch(state_dir, binaries, stages_dir, p, state, die_with_parent)


def start_control_plane(launch: Launch, timeout: float,
                        progress: Callable[[str], None]) -> list[tuple[str, dict[str, Any]]]:
    """Spawn the components in order (etcd healthy before the apiserver, the apiserver ready before the rest);
    returns (name, entry) of each, for later waits to watch."""
    state, log_dir = launch.state, launch.log_dir
    server, ctx = state["server"], probe.tls_context(launch.p)
    progress("starting etcd")
    etcd = launch.start("etcd")
    procs.wait("etcd /health", lambda: probe.etcd_healthy(state["ports"]["etcd_client"]), timeout, watch=[etcd],
               log_dir=log_dir)
    progress("starting kube-apiserver")
    api = launch.start("kube-apiserver")
    procs.wait("kube-apiserver /readyz", lambda: probe.apiserver_ready(server, ctx), timeout, watch=[etcd, api],
               log_dir=log_dir)
    progress("starting kube-controller-manager, kube-scheduler, kwok")
    return [etcd, api, *(launch.start(n) for n in ("kube-controller-manager", "kube-scheduler", "kwok"))]
