"""pytest fixtures for tests that need a real Kubernetes API server (the local control plane).

Registered from tests/conftest.py with `pytest_plugins = ["localcluster.pytest_plugin"]`. Stable interface:

`kube_cluster` (session scope) -> localcluster.cluster.Cluster
    A FRESH cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok on 127.0.0.1) in a
    pytest temporary directory (never `.cluster/`, so a developer's `make cluster-up` is left alone), with
    `PM_CLUSTER_NODES` fake nodes (default 3), all Ready; stopped at the end of the session. Attributes:
      .kubeconfig  Path of the admin kubeconfig (also exported as os.environ["KUBECONFIG"] before the fixture
                   yields, so kopf's own login and any client reading KUBECONFIG at call time find it)
      .server      "https://127.0.0.1:<port>"
      .bin_dir     directory with kubectl, helm, ... symlinks (put it first on PATH for subprocesses)
      .nodes       tuple of node names ("kwok-node-0", ...)
      .state_dir / .log_dir   where certs and per-component logs are (look at logs/ when a test fails)
      .kubectl(*args, input=None, check=True, timeout=60) -> subprocess.CompletedProcess[str] (text)
      .helm(*args, input=None, check=True, timeout=300)   -> CompletedProcess (private helm homes)
      .apply_yaml(text, namespace=None, server_side=False) -> CompletedProcess of `kubectl apply -f -`
      .get_json(*args) -> parsed `kubectl get ARGS -o json`
      .env(extra=None) -> environment dict with KUBECONFIG, PATH and helm homes for your own subprocesses
    Tests using it get the `cluster` marker automatically.

`namespace` (function scope) -> str
    A new namespace with a unique name (its `default` ServiceAccount already present), deleted after the test
    without waiting for the deletion to finish.

`real_cluster` (session scope) -> localcluster.cluster.Cluster
    A second fresh cluster with one kwok node and the REAL node `real-node-0` (kubelet + containerd + runc,
    localcluster.realnode), with the agent and operator images built (localcluster.images, cached) and loaded
    into its containerd. Only hostNetwork pods run there; reach them at 127.0.0.1. `.real_node` is the node name.
    One kubelet fits per machine, so the session shares this one; tests clean up what they create on it.
    Where this host cannot run a real node, the fixture skips with the one-line reason, or FAILS when
    `PM_REQUIRE_REAL_NODE=1` (.ci/run sets it, so CI never passes without the real-node layer).
    Tests using it get the `realnode` marker.

If the Go tools are not built, the fixtures FAIL with a message saying to run `make setup`; with environment
`PM_SKIP_CLUSTER=1` they skip instead (for developers who have not built the tools yet). Pods never really run
in this cluster (kwok marks them Running); pod and Service IPs are fiction: never connect to them.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from . import cluster as cluster_mod
from . import components, procs, tools

SKIP_ENV = "PM_SKIP_CLUSTER"
NODES_ENV = "PM_CLUSTER_NODES"
REQUIRE_REAL_ENV = "PM_REQUIRE_REAL_NODE"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if {"kube_cluster", "namespace", "real_cluster"} & fixtures:
            item.add_marker(pytest.mark.cluster)
        if "real_cluster" in fixtures:
            item.add_marker(pytest.mark.realnode)


def _require_control_plane_tools() -> None:
    """Skip on PM_SKIP_CLUSTER=1; fail, saying how to build them, when the Go-built tools are missing."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: local control plane tests skipped")
    missing = tools.missing(components.CLUSTER_BINARIES)
    if missing:
        pytest.fail(f"local control plane tools not built: {', '.join(missing)}. Run `make setup` (or `make tools`)"
                    f" to build them, or set {SKIP_ENV}=1 to skip cluster tests.", pytrace=False)


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster_mod.Cluster]:
    _require_control_plane_tools()
    nodes = int(os.environ.get(NODES_ENV, "3"))
    state_dir = tmp_path_factory.mktemp("kube-cluster")
    try:
        c = cluster_mod.up(cluster_mod.Settings(state_dir, nodes=nodes, die_with_parent=True))
    except procs.SupervisionError as err:
        pytest.fail(f"local control plane did not start (logs in {state_dir / 'logs'}): {err}", pytrace=False)
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(c.kubeconfig)
    try:
        yield c
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
        cluster_mod.down(state_dir)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get(REQUIRE_REAL_ENV) == "1":
        pytest.fail(f"real node required ({REQUIRE_REAL_ENV}=1) but: {reason}", pytrace=False)
    pytest.skip(f"no real node: {reason}")


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster_mod.Cluster]:
    from . import images, realnode

    _require_control_plane_tools()
    state_dir = tmp_path_factory.mktemp("real-cluster")
    reason = realnode.preflight(state_dir)
    if reason:
        _skip_or_fail(reason)
    try:
        built = images.build()
    except images.ImageError as err:
        pytest.fail(f"images did not build: {err}", pytrace=False)
    if built.builder == "docker":
        _skip_or_fail("images were built by Docker; the real-node layer loads buildah's OCI archives")
    try:
        c = cluster_mod.up(cluster_mod.Settings(state_dir, nodes=1, real_nodes=1, die_with_parent=True))
    except procs.SupervisionError as err:
        pytest.fail(f"cluster with a real node did not start (logs in {state_dir / 'logs'}): {err}", pytrace=False)
    try:
        if c.real_node is None:
            _skip_or_fail(c.real_node_skipped or "the real node did not start")
        ctr = cluster_mod.real_node_ctr(state_dir)
        assert ctr is not None
        for name, archive in built.archives.items():
            images.import_archive(ctr, archive, name)
        yield c
    finally:
        cluster_mod.down(state_dir)
    left = realnode.leftovers(state_dir)
    if left:
        pytest.fail(f"the real node's teardown left: {'; '.join(left)}", pytrace=False)


def _namespace_name(test_name: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-") or "t"
    return f"{base}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(kube_cluster: cluster_mod.Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = _namespace_name(request.node.name)
    kube_cluster.kubectl("create", "namespace", name)
    # Pods are rejected until the ServiceAccount controller has created `default` in the new namespace.
    deadline = time.monotonic() + 30
    while kube_cluster.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode != 0:
        if time.monotonic() > deadline:
            pytest.fail(f"namespace {name}: no default ServiceAccount after 30s", pytrace=False)
        time.sleep(0.2)
    try:
        yield name
    finally:
        # --wait=false: finalizers left by a stopped operator must not hang the test session.
        with contextlib.suppress(subprocess.TimeoutExpired):
            kube_cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False,
                                 timeout=30)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5) -> Any:
    """Poll `check` until it returns something truthy (returned); fail the test naming `what` after `timeout` s.

    The API server and kwok act asynchronously, so cluster tests wait for a state rather than sleep. The poller is
    harness.wait (shared with the other tests, the benches and the quick start).
    """
    from harness.wait import WaitTimeout
    from harness.wait import wait_for as _wait_for

    try:
        return _wait_for(what, check, timeout, interval)
    except WaitTimeout as exc:
        pytest.fail(str(exc), pytrace=False)
