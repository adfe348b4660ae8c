"""Issue 12 on the real node: namespace, pod and container for every process group, with no API server load.

Two workload pods in two namespaces and one host process all carry the same comm; the agent (the operator's
DaemonSet, `spec.kubernetes.labels`) must report each pod's processes under its own namespace/pod/container and the
host one with empty labels; after one pod is deleted its series must age out (emptySeriesTTL 10s) while the
others stay; and the agent must never have talked to the API server (no token mounted, no socket of the agent
process connected to the API server's port, its ServiceAccount may do nothing).

The real node runs cgroup v1 with the cgroupfs driver (reference/real-node.md trap 5), so paths read
`/kubepods/besteffort/pod<uid>/<container-id>`; its podLogsDir is under the cluster's state directory, which
`spec.kubernetes.podLogsDir` points at, and /var/log/containers is the host's (trap 12).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from harness import exposition as ex
from localcluster import realnode
from localcluster.cluster import Cluster
from localcluster.ports import free_port
from process_monitor_agent.kube.cgroup_path import parse_pod_cgroup
from process_monitor_agent.procfs.cgroup import parse_cgroup
from realnode_helpers import (
    agent_pod,
    privileged_namespace,
    processmonitor,
    ready,
    scrape,
    wait_for,
    workload_pod,
)

NUM_PROCS = "namedprocess_namegroup_num_procs"
COMM = "pmattr"


def _apply(c: Cluster, ns: str, obj: dict[str, Any]) -> None:
    c.apply_yaml(json.dumps(obj), namespace=ns)


def _series(text: str) -> dict[tuple[str, str, str], float]:
    """(namespace, pod, container) -> num_procs of group COMM."""
    return {(s.labels.get("namespace", ""), s.labels.get("pod", ""), s.labels.get("container", "")): s.value
            for s in ex.select(ex.parse(text), NUM_PROCS, groupname=COMM)}


@pytest.fixture
def other_namespace(real_cluster: Cluster) -> Iterator[str]:
    with privileged_namespace(real_cluster, "pm-attr") as name:  # hostNetwork pods
        yield name


@pytest.fixture
def host_process() -> Iterator[int]:
    """A process on the host (no pod) with the same comm as the workloads, bounded to one hour."""
    code = (f"import ctypes,time\nctypes.CDLL(None).prctl(15, b'{COMM}', 0, 0, 0)\n"
            "for _ in range(3600): time.sleep(1)\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _agent_sockets_to(pid: int, port: int) -> list[str]:
    """Lines of /proc/net/tcp{,6} (the host's: the agent uses hostNetwork) for sockets of `pid` whose remote port
    is `port`."""
    inodes = set()
    for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    hits = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in pathlib.Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if len(f) > 9 and f[9] in inodes and int(f[2].rsplit(":", 1)[1], 16) == port:
                hits.append(line)
    return hits


def _agent_pids(pod_uid: str) -> list[int]:
    """Host PIDs of the agent pod's processes (found by the agent's own cgroup parser), sandbox left out."""
    pids = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            pc = parse_pod_cgroup(parse_cgroup((d / "cgroup").read_bytes()))
            comm = (d / "comm").read_text().strip()
        except OSError:
            continue
        if pc is not None and pc.pod_uid == pod_uid and comm != "pause":
            pids.append(int(d.name))
    return pids


def test_pods_in_two_namespaces_and_a_host_process_told_apart_without_the_api_server(
        real_cluster: Cluster, agent_namespace: str, other_namespace: str, host_process: int) -> None:
    c, port = real_cluster, free_port()
    ns_a, ns_b = agent_namespace, other_namespace
    _apply(c, ns_a, workload_pod("work-a", COMM, 2, c.real_node))
    _apply(c, ns_b, workload_pod("work-b", COMM, 1, c.real_node))
    pm = processmonitor("pm", port, [{"name": "{{.Comm}}", "comm": [COMM]}])
    pm["spec"]["kubernetes"] = {"labels": True, "emptySeriesTTL": "10s",
                                "podLogsDir": str(realnode.Paths(c.state_dir / "realnode").pod_logs)}
    _apply(c, ns_a, pm)
    agent = agent_pod(c, ns_a, "pm")
    want = {(ns_a, "work-a", "work"): 2.0, (ns_b, "work-b", "work"): 1.0, ("", "", ""): 1.0}
    text = wait_for("both pods and the host process served under their own labels",
                    lambda: (t := scrape(port)) and _series(t) == want and t, 120)
    assert _series(text) == want

    # Pod B goes: its series stays at most the TTL (frozen), then is gone; A's and the host's stay.
    c.kubectl("delete", "pod", "work-b", "-n", ns_b, "--wait=true", "--timeout=60s")
    text = wait_for("work-b's series aged out", lambda: (t := scrape(port)) and (ns_b, "work-b", "work")
                    not in _series(t) and t, 90, 1.0)
    assert _series(text) == {(ns_a, "work-a", "work"): 2.0, ("", "", ""): 1.0}

    # No API server traffic: no token, no socket to the API server's port, no rights.
    spec = agent["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert all(m["mountPath"] != "/var/run/secrets/kubernetes.io/serviceaccount"
               for m in spec["containers"][0].get("volumeMounts", []))
    api_port = urllib.parse.urlsplit(c.server).port
    pids = _agent_pids(agent["metadata"]["uid"])
    assert pids, "the agent's processes were not found by their cgroup"
    for pid in pids:
        assert _agent_sockets_to(pid, api_port) == [], f"agent pid {pid} has a socket to the API server"
    sa = f"system:serviceaccount:{ns_a}:{spec['serviceAccountName']}"
    for verb, what in (("list", "pods"), ("get", "nodes"), ("watch", "pods")):
        assert c.kubectl("auth", "can-i", verb, what, "--as", sa, "-A", check=False).stdout.strip() == "no"
    assert ready(agent)
