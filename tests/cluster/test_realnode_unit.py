"""Unit tests of the real node's and the image builder's pure parts: containerd and kubelet configuration (loopback
only, state under the state dir, the VM's traps handled), preflight reasons, and image recipe keys. The real node
itself is proven by tests/realnode on this machine."""

from __future__ import annotations

import json
import os
import pathlib
import tomllib

import pytest
from localcluster import cluster, images, realnode


def test_containerd_config_keeps_everything_under_the_state_dir_and_avoids_the_vm_traps(
        tmp_path: pathlib.Path) -> None:
    paths = realnode.Paths(tmp_path / "realnode")
    cfg = tomllib.loads(realnode.containerd_config(paths))
    assert cfg["version"] == 2
    for key in ("root", "state"):
        assert cfg[key].startswith(str(tmp_path))
    assert cfg["grpc"]["address"] == str(paths.containerd_sock)
    cri = cfg["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == images.PAUSE_IMAGE
    assert cri["stream_server_address"] == "127.0.0.1"
    assert cri["restrict_oom_score_adj"] is True  # no CAP_SYS_RESOURCE on this VM
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    assert cri["cni"]["conf_dir"].startswith(str(tmp_path))


def test_the_only_network_is_loopback() -> None:
    assert [p["type"] for p in realnode.LOOPBACK_CNI["plugins"]] == ["loopback"]


def test_kubelet_config_listens_on_loopback_and_authenticates_clients(tmp_path: pathlib.Path) -> None:
    paths = realnode.Paths(tmp_path / "realnode")
    cfg = realnode.kubelet_config(paths, tmp_path / "ca.crt")
    assert cfg["address"] == cfg["healthzBindAddress"] == "127.0.0.1"
    assert cfg["readOnlyPort"] == 0
    assert cfg["failCgroupV1"] is False and cfg["cgroupDriver"] == "cgroupfs"
    assert cfg["authentication"]["anonymous"]["enabled"] is False
    assert cfg["authentication"]["x509"]["clientCAFile"] == str(tmp_path / "ca.crt")
    assert cfg["authorization"]["mode"] == "Webhook"
    assert cfg["podLogsDir"].startswith(str(tmp_path)) and cfg["volumePluginDir"].startswith(str(tmp_path))
    assert cfg["containerRuntimeEndpoint"] == f"unix://{paths.containerd_sock}"


def test_kubelet_argv_names_the_node_and_keeps_its_root_under_the_state_dir(tmp_path: pathlib.Path) -> None:
    paths = realnode.Paths(tmp_path / "realnode")
    argv = realnode.kubelet_argv(pathlib.Path("/x/kubelet"), paths)
    assert f"--hostname-override={realnode.NODE_NAME}" in argv
    assert f"--root-dir={paths.kubelet_root}" in argv
    assert any(a.startswith("--node-labels=") and "type=real" in a for a in argv)


def test_more_than_one_real_node_is_refused_with_the_reason(tmp_path: pathlib.Path) -> None:
    with pytest.raises(cluster.ClusterError, match="one kubelet fits per machine"):
        cluster.up(cluster.Settings(tmp_path, real_nodes=2))


def test_preflight_without_root_gives_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setattr(realnode.os, "geteuid", lambda: 1000)
    reason = realnode.preflight(tmp_path)
    assert reason is not None and "root" in reason and "\n" not in reason


def test_preflight_reports_a_missing_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setattr(realnode.os, "geteuid", lambda: 0)
    monkeypatch.setattr(realnode.shutil, "which", lambda exe: None if exe == "containerd" else f"/usr/bin/{exe}")
    assert realnode.preflight(tmp_path) == "containerd is not installed (run `make setup`)"


def test_base_image_key_follows_its_recipe() -> None:
    a = images.base_key("http://deb.debian.org/debian")
    assert a == images.base_key("http://deb.debian.org/debian")
    assert a != images.base_key("http://mirror.example/debian")
    assert images.base_image_name(a).startswith("localhost/")


def test_a_second_real_node_on_the_machine_is_refused_naming_the_first(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: pathlib.Path) -> None:
    """One kubelet fits per machine: with a live owner recorded for another state dir, preflight names it.
    (The owner here is this test process itself, so it is alive; the machine's probes are made to pass.)"""
    from localcluster import procs

    owner_file = tmp_path / "real-node.json"
    me = {"pid": os.getpid(), "starttime": procs.proc_starttime(os.getpid())}
    owner_file.write_text(json.dumps({"state_dir": "/elsewhere/.cluster", "kubelet": me}))
    monkeypatch.setattr(realnode, "OWNER_FILE", owner_file)
    monkeypatch.setattr(realnode.os, "geteuid", lambda: 0)
    monkeypatch.setattr(realnode.shutil, "which", lambda exe: f"/usr/bin/{exe}")
    monkeypatch.setattr(realnode, "_cgroups_usable", lambda: None)
    monkeypatch.setattr(realnode.tools, "missing", lambda names: [])
    monkeypatch.setattr(realnode, "CNI_BIN_DIR", tmp_path)
    (tmp_path / "loopback").write_text("")
    reason = realnode.preflight(tmp_path / "mine")
    assert reason is not None and "/elsewhere/.cluster" in reason and "one kubelet fits per machine" in reason
