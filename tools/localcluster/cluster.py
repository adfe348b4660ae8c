"""Start, reuse, inspect and stop the local control plane: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (fake nodes), all plain processes listening on 127.0.0.1 only.

Called by `python -m localcluster` (make cluster-up/-down/-status) and by the pytest plugin. This module holds the
`Cluster` handle (kubectl/helm against it) and up/down/status; the parts live beside it: `state` (the state
directory, its lock and state.json), `launch` (a fresh start of the processes), `components` (their command
lines), `probe` (HTTP health checks), `nodes` (kwok nodes), `kubeconfig`, `realnode` (kubelet + containerd) and
`procs` (the one process supervisor).

`up` reuses a live cluster found in the state directory instead of starting a second one; `down` stops each
component by its own recorded PID (checked against its start time, so a recycled PID is never signalled):
SIGTERM, wait, then SIGKILL. Every wait is bounded in time; on failure the error names the component and shows
the end of its log. Pod and Service IPs of this cluster are fiction (no container ever runs): nothing here, and
nothing that uses it, may connect to them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import nodes as nodes_mod
from . import pki as pki_mod
from . import probe, procs, realnode, tools
from . import state as state_mod
from .components import CLUSTER_BINARIES, COMPONENTS, recorded_components
from .errors import ClusterError
from .launch import Launch, prepare, start_control_plane
from .nodes import MAX_NODES, node_name, node_ready

# The public surface (tests, tools/, bench/); the constants and node_name are re-exported from the modules that own
# them so `cluster.X` keeps working for callers written before the split.
__all__ = ["CLUSTER_BINARIES", "COMPONENTS", "MAX_NODES", "Cluster", "ClusterError", "Settings", "down", "node_name",
           "real_node_ctr", "status", "up"]


@dataclasses.dataclass(frozen=True)
class Settings:
    """How to run one cluster. `die_with_parent` makes the components exit if the starting process dies
    (used by the pytest fixture so a killed test run leaves nothing behind; the CLI leaves them running)."""

    state_dir: pathlib.Path
    nodes: int = 3
    real_nodes: int = 0  # 0 or 1: a kubelet + containerd node (localcluster.realnode) beside the kwok nodes
    start_timeout: float = 180.0
    stop_timeout: float = 10.0
    die_with_parent: bool = False


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A running local cluster. Stable interface used by tests, the quick start and benches."""

    state_dir: pathlib.Path
    kubeconfig: pathlib.Path
    server: str
    bin_dir: pathlib.Path
    nodes: tuple[str, ...]
    reused: bool = False
    real_node: str | None = None  # "real-node-0" when the real node runs
    real_node_skipped: str | None = None  # why a requested real node is not there (one line)

    @property
    def log_dir(self) -> pathlib.Path:
        return self.state_dir / "logs"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for tools run against this cluster (KUBECONFIG, bin dir first on PATH, private helm homes)."""
        env = dict(os.environ)
        helm_home = self.state_dir / "helm"
        env.update({
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "HELM_CACHE_HOME": str(helm_home / "cache"),
            "HELM_CONFIG_HOME": str(helm_home / "config"),
            "HELM_DATA_HOME": str(helm_home / "data"),
        })
        if extra:
            env.update(extra)
        return env

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; raises CalledProcessError (with stderr in the message) if check."""
        return _run([str(tools.binary("kubectl")), f"--kubeconfig={self.kubeconfig}", *args],
                    env=self.env(), input=input, check=check, timeout=timeout)

    def helm(self, *args: str, input: str | None = None, check: bool = True,
             timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run helm against this cluster (needs the helm binary built)."""
        return _run([str(tools.binary("helm")), f"--kubeconfig={self.kubeconfig}", *args],
                    env=self.env(), input=input, check=check, timeout=timeout)

    def apply_yaml(self, text: str, namespace: str | None = None, *, server_side: bool = False,
                   timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """`kubectl apply -f -` of YAML/JSON text (optionally into `namespace`, optionally server-side)."""
        args = ["apply", "-f", "-"]
        if namespace:
            args += ["-n", namespace]
        if server_side:
            args += ["--server-side", "--force-conflicts"]
        return self.kubectl(*args, input=text, timeout=timeout)

    def wait_crds_established(self, *names: str, timeout: float = 60.0) -> None:
        """Wait until each CustomResourceDefinition (`name` or `crd/name`) is Established. Not `kubectl wait
        --for=condition=Established`: that fails at once ("status.conditions accessor error") instead of waiting
        while a just-created CRD has no conditions yet."""
        deadline = time.monotonic() + timeout
        for name in names:
            name = name.removeprefix("crd/")
            while True:
                got = self.kubectl("get", "crd", name, "-o",
                                   'jsonpath={.status.conditions[?(@.type=="Established")].status}', check=False,
                                   timeout=30)
                if got.returncode == 0 and got.stdout.strip() == "True":
                    break
                if time.monotonic() > deadline:
                    raise ClusterError(f"CRD {name} not Established after {timeout:.0f}s: "
                                       f"{(got.stderr or got.stdout).strip()[-300:]}")
                time.sleep(0.2)

    def get_json(self, *args: str, timeout: float = 60.0) -> Any:
        """`kubectl get ARGS -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json", timeout=timeout).stdout)


class _CmdError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        err = (self.stderr or "").strip()
        return f"{super().__str__()}{': ' + err[-2000:] if err else ''}"


def _run(argv: Sequence[str], *, env: Mapping[str, str], input: str | None, check: bool,
         timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), env=dict(env), input=input, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise _CmdError(proc.returncode, list(argv), proc.stdout, proc.stderr)
    return proc


# --- cluster operations ---------------------------------------------------------------------------------------------

def _cluster(state_dir: pathlib.Path, state: Mapping[str, Any], reused: bool) -> Cluster:
    real = state.get("real_node") or {}
    return Cluster(state_dir=state_dir, kubeconfig=state_dir / "kubeconfig", server=state["server"],
                   bin_dir=state_dir / "bin", nodes=tuple(state.get("nodes", ())), reused=reused,
                   real_node=real.get("node"), real_node_skipped=state.get("real_node_skipped"))


def _real_node_alive(state: Mapping[str, Any]) -> bool:
    comps = (state.get("real_node") or {}).get("processes", {})
    return bool(comps) and all(procs.alive(e) for e in comps.values())


def _ensure_real_node(c: Cluster, settings: Settings, state: dict[str, Any],
                      progress: Callable[[str], None]) -> Cluster:
    """Start the real node if asked for and not running; a host that cannot run it gets a one-line reason."""
    if settings.real_nodes < 1 or _real_node_alive(state):
        return _cluster(c.state_dir, state, c.reused)
    if state.get("real_node"):
        progress("the real node's kubelet or containerd died; cleaning up and starting it again")
        realnode.stop(state.pop("real_node"), settings.stop_timeout)
    reason = realnode.preflight(c.state_dir)
    if reason:
        progress(f"real node skipped: {reason}; the cluster has kwok nodes only")
        state["real_node_skipped"] = reason
    else:
        state.pop("real_node_skipped", None)
        state["real_node"] = realnode.start(c.state_dir, c.server, pki_mod.Pki(c.state_dir / "pki"), c.kubectl,
                                            timeout=settings.start_timeout,
                                            die_with_parent=settings.die_with_parent, progress=progress)
    state_mod.save_state(c.state_dir, state)
    return _cluster(c.state_dir, state, c.reused)


def _check(settings: Settings) -> None:
    if not 1 <= settings.nodes <= MAX_NODES:
        raise ClusterError(f"--nodes must be between 1 and {MAX_NODES}, got {settings.nodes}")
    if not 0 <= settings.real_nodes <= 1:
        raise ClusterError(f"--real-nodes {settings.real_nodes}: one kubelet fits per machine (its ports "
                           f"{realnode.KUBELET_PORT}/{realnode.KUBELET_HEALTHZ_PORT} and device-plugin socket are "
                           "fixed), so 0 or 1")


def _reuse(state_dir: pathlib.Path, state: dict[str, Any], settings: Settings,
           progress: Callable[[str], None]) -> Cluster:
    """The live cluster in state_dir, with nodes added up to settings.nodes and the real node if asked for."""
    progress(f"reusing the live cluster in {state_dir}")
    c = _cluster(state_dir, state, reused=True)
    state_mod.link_bins(c.bin_dir)
    if len(c.nodes) < settings.nodes:
        progress(f"adding nodes up to {settings.nodes}")
        c = nodes_mod.ensure_nodes(c, settings.nodes, state, settings.start_timeout,
                                   recorded_components(state))
    return _ensure_real_node(c, settings, state, progress)


def _start(launch: Launch, settings: Settings, progress: Callable[[str], None]) -> Cluster:
    """Start the control plane, then the kwok nodes, wait for the default ServiceAccount, add the real node."""
    t, state = settings.start_timeout, launch.state
    watch = start_control_plane(launch, t, progress)
    c = _cluster(launch.state_dir, state, reused=False)
    progress(f"creating {settings.nodes} fake nodes and waiting for them to be Ready")
    c = nodes_mod.ensure_nodes(c, settings.nodes, state, t, watch)

    def default_sa() -> bool:
        return c.kubectl("get", "serviceaccount", "default", "-n", "default", check=False,
                         timeout=30).returncode == 0

    procs.wait("the default ServiceAccount (kube-controller-manager)", default_sa, t, watch=watch,
               log_dir=launch.log_dir)
    return _ensure_real_node(c, settings, state, progress)


def _abandon(state_dir: pathlib.Path, state: Mapping[str, Any], timeout: float) -> None:
    """A start that failed half-way: stop what it started (real node first) and record that nothing runs."""
    if state.get("real_node"):
        realnode.stop(state["real_node"], timeout)
    procs.stop(list(reversed(recorded_components(state))), timeout)
    (state_dir / "state.json").unlink(missing_ok=True)


def up(settings: Settings, *, progress: Callable[[str], None] = lambda _msg: None) -> Cluster:
    """Start a cluster in settings.state_dir, or reuse the live one there (adding nodes up to settings.nodes)."""
    _check(settings)
    state_dir = settings.state_dir.resolve()
    with state_mod.locked(state_dir, settings.start_timeout):
        old = state_mod.load_state(state_dir)
        if old is not None and probe.is_live(state_dir, old):
            return _reuse(state_dir, old, settings, progress)
        if old is not None:
            progress("found a stale cluster state; stopping what is left of it")
            procs.stop(list(reversed(recorded_components(old))), settings.stop_timeout)
        launch = prepare(state_dir, settings.die_with_parent)
        try:
            return _start(launch, settings, progress)
        except BaseException:
            _abandon(state_dir, launch.state, settings.stop_timeout)
            raise


def down(state_dir: pathlib.Path, timeout: float = 10.0) -> list[str]:
    """Stop every component recorded in state_dir (by PID, SIGTERM then SIGKILL); returns a line per component."""
    state_dir = state_dir.resolve()
    if not (state_dir / "state.json").exists():
        return [f"no cluster state in {state_dir}: nothing to stop"]
    with state_mod.locked(state_dir, 60.0):
        state = state_mod.load_state(state_dir)
        if state is None:
            return [f"no cluster state in {state_dir}: nothing to stop"]
        report = realnode.stop(state["real_node"], timeout) if state.get("real_node") else []
        comps = list(reversed(recorded_components(state)))
        # Clients of etcd first (all at once), etcd last, so the apiserver shuts down against a live store.
        report += procs.stop([x for x in comps if x[0] != "etcd"], timeout)
        report += procs.stop([x for x in comps if x[0] == "etcd"], timeout)
        state_mod.forget(state_dir)
        return report


def real_node_ctr(state_dir: pathlib.Path) -> list[str] | None:
    """`ctr` argv for the live real node of the cluster in state_dir, or None when none runs there."""
    state = state_mod.load_state(state_dir.resolve())
    if state is None or not _real_node_alive(state):
        return None
    return realnode.ctr_argv(realnode.Paths(pathlib.Path(state["real_node"]["root"])))


def status(state_dir: pathlib.Path) -> dict[str, Any]:
    """What runs in state_dir: {"running": bool, "server", "components": {name: "running pid N" | "down"},
    "nodes_ready": int | None, "nodes": [...]}."""
    state_dir = state_dir.resolve()
    state = state_mod.load_state(state_dir)
    if state is None:
        return {"running": False, "state_dir": str(state_dir), "components": {}, "nodes": [], "nodes_ready": None}
    comps = {name: (f"running (pid {e['pid']})" if procs.alive(e) else "down")
             for name, e in recorded_components(state)}
    real = state.get("real_node") or {}
    for name, e in real.get("processes", {}).items():
        comps[f"{name} ({real['node']})"] = f"running (pid {e['pid']})" if procs.alive(e) else "down"
    live = probe.is_live(state_dir, state)
    ready = None
    runtime = None
    if live:
        c = _cluster(state_dir, state, reused=True)
        try:
            ready = sum(1 for n in c.get_json("nodes", timeout=20)["items"] if node_ready(n))
        except (subprocess.SubprocessError, ValueError):
            ready = None
        if real:
            runtime = realnode.runtime_version(c.kubectl)
    return {"running": live, "state_dir": str(state_dir), "server": state.get("server"), "components": comps,
            "nodes": state.get("nodes", []), "nodes_ready": ready, "kubeconfig": str(state_dir / "kubeconfig"),
            "real_node": real.get("node"), "real_node_runtime": runtime,
            "real_node_skipped": state.get("real_node_skipped")}
