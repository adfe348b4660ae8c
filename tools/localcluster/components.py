"""The control plane's components: their start order and the command line of each (every listener on 127.0.0.1).

Called by localcluster.cluster (`up` spawns them in COMPONENTS order, `down` stops them in reverse) and by the
pytest plugin (CLUSTER_BINARIES: the tools a cluster needs built). Pure: nothing here starts a process;
`recorded_components` reads them back from a cluster's state.json, in start order.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

from . import pki as pki_mod
from .nodes import NODE_ANNOTATION

# Start order; `down` stops in reverse.
COMPONENTS: tuple[str, ...] = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
CLUSTER_BINARIES: tuple[str, ...] = (*COMPONENTS, "kubectl")
SERVICE_CIDR = "10.0.0.0/24"
# kwok v0.8.0 has no built-in behaviour: these upstream Stages are what kwokctl enables by default.
KWOK_STAGES: tuple[str, ...] = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)


def component_argv(name: str, *, binary: pathlib.Path, state_dir: pathlib.Path, p: pki_mod.Pki,
                   ports: Mapping[str, int], kubeconfig: pathlib.Path, stages_dir: pathlib.Path) -> list[str]:
    """Command line of one component. Every listener is on 127.0.0.1."""
    ep, pp, ap, sp = ports["etcd_client"], ports["etcd_peer"], ports["apiserver"], ports["scheduler"]
    if name == "etcd":
        return [str(binary), "--name=pm", f"--data-dir={state_dir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{ep}", f"--advertise-client-urls=http://127.0.0.1:{ep}",
                f"--listen-peer-urls=http://127.0.0.1:{pp}", f"--initial-advertise-peer-urls=http://127.0.0.1:{pp}",
                f"--initial-cluster=pm=http://127.0.0.1:{pp}", "--unsafe-no-fsync=true", "--log-level=warn"]
    if name == "kube-apiserver":
        return [str(binary), f"--etcd-servers=http://127.0.0.1:{ep}", "--bind-address=127.0.0.1",
                f"--secure-port={ap}", "--advertise-address=127.0.0.1",
                # The `kubernetes` Endpoints reconciler rejects loopback addresses; we want no other address.
                "--endpoint-reconciler-type=none", f"--cert-dir={p.directory}",
                f"--tls-cert-file={p.apiserver_crt}", f"--tls-private-key-file={p.apiserver_key}",
                f"--client-ca-file={p.ca_crt}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={p.sa_pub}", f"--service-account-signing-key-file={p.sa_key}",
                "--authorization-mode=Node,RBAC", f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                # logs/exec on the real node: the kubelet accepts clients signed by the cluster CA.
                f"--kubelet-client-certificate={p.admin_crt}", f"--kubelet-client-key={p.admin_key}",
                "--kubelet-preferred-address-types=InternalIP",
                # CPU savers on small shared machines; neither changes API semantics tests rely on.
                "--enable-priority-and-fairness=false", "--profiling=false"]
    if name == "kube-controller-manager":
        return [str(binary), f"--kubeconfig={kubeconfig}", "--leader-elect=false", "--bind-address=127.0.0.1",
                "--secure-port=0", f"--root-ca-file={p.ca_crt}", f"--service-account-private-key-file={p.sa_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}", "--profiling=false"]
    if name == "kube-scheduler":
        # No --authentication/--authorization-kubeconfig: they make it poll for a requestheader CA this apiserver
        # does not have (an error line every few seconds); only /healthz-style paths are needed on its port.
        return [str(binary), f"--kubeconfig={kubeconfig}", "--leader-elect=false", "--bind-address=127.0.0.1",
                f"--secure-port={sp}", "--profiling=false"]
    if name == "kwok":
        # No --node-port/--server-address: kwok then serves no kubelet API at all (nothing to dial).
        return [str(binary), f"--kubeconfig={kubeconfig}", "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
                "--node-lease-duration-seconds=40", "--cidr=10.244.0.0/16",
                *(f"--config={stages_dir / s}" for s in KWOK_STAGES)]
    raise ValueError(f"unknown component {name!r}")


def recorded_components(state: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, process entry) of each control-plane component recorded in state, in start order."""
    procs = state.get("processes", {})
    return [(n, procs[n]) for n in COMPONENTS if n in procs]
