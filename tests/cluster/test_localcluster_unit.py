"""Unit tests of localcluster's pure parts: version file parsing, node manifests, component command lines
(loopback only), kubeconfig text, and the clear error when a tool is not built. No cluster needed."""

from __future__ import annotations

import json
import pathlib
import re

import pytest
from localcluster import components, kubeconfig, nodes, pki, tools


def test_parse_versions_ignores_comments_and_quotes() -> None:
    text = "# comment\n\nKUBERNETES_VERSION=v1.36.3\nHELM_VERSION='v3.22.0'\nNOT A LINE\n"
    assert tools.parse_versions(text) == {"KUBERNETES_VERSION": "v1.36.3", "HELM_VERSION": "v3.22.0"}


def test_versions_file_pins_every_tool() -> None:
    v = tools.versions()
    for key in ("KUBERNETES_VERSION", "ETCD_VERSION", "KWOK_VERSION", "HELM_VERSION", "PROMETHEUS_OPERATOR_VERSION",
                "PROCESS_EXPORTER_VERSION"):
        assert re.fullmatch(r"v\d+\.\d+\.\d+", v[key]), key
    assert v["PROCESS_EXPORTER_VERSION"] == "v0.8.7"


def test_missing_tool_error_says_how_to_build(tmp_path: pathlib.Path) -> None:
    env = {"PM_TOOLS_CACHE": str(tmp_path)}
    with pytest.raises(tools.ToolNotBuiltError, match=r"make setup"):
        tools.binary("kubectl", env)
    assert tools.tool_dir("kubectl", env) == tmp_path / f"kubernetes-{tools.versions()['KUBERNETES_VERSION']}"
    with pytest.raises(KeyError):
        tools.binary("no-such-tool", env)


def test_node_manifests_have_distinct_pod_cidrs_and_the_kwok_annotation() -> None:
    manifests = [nodes.node_manifest(i) for i in (0, 1, 255, 256, nodes.MAX_NODES - 1)]
    cidrs = [n["spec"]["podCIDR"] for n in manifests]
    assert cidrs == ["10.244.0.0/24", "10.244.1.0/24", "10.244.255.0/24", "10.245.0.0/24", "10.251.255.0/24"]
    assert all(n["metadata"]["annotations"][nodes.NODE_ANNOTATION] == "fake" for n in manifests)
    with pytest.raises(ValueError):
        nodes.node_manifest(nodes.MAX_NODES)
    ips = {nodes.node_ip(i) for i in range(nodes.MAX_NODES)}
    assert len(ips) == nodes.MAX_NODES
    assert all(ip.startswith("10.255.") and not ip.endswith((".0", ".255")) for ip in ips)


def test_every_component_listens_on_loopback_only(tmp_path: pathlib.Path) -> None:
    p = pki.Pki(tmp_path / "pki")
    ports = {"etcd_client": 1, "etcd_peer": 2, "apiserver": 3, "scheduler": 4}
    argvs = {name: components.component_argv(name, binary=pathlib.Path(name), state_dir=tmp_path, p=p, ports=ports,
                                          kubeconfig=tmp_path / "kc", stages_dir=tmp_path / "stages")
             for name in components.COMPONENTS}
    for name, argv in argvs.items():
        for arg in argv:
            for host in re.findall(r"://([^:/]+)", arg):
                assert host in ("127.0.0.1", "kubernetes.default.svc.cluster.local"), (name, arg)
            if arg.startswith(("--bind-address=", "--advertise-address=")):
                assert arg.endswith("=127.0.0.1"), (name, arg)
    assert "--endpoint-reconciler-type=none" in argvs["kube-apiserver"]
    assert "--secure-port=0" in argvs["kube-controller-manager"]
    assert not any(a.startswith(("--node-port", "--server-address")) for a in argvs["kwok"])
    assert sum(a.startswith("--config=") for a in argvs["kwok"]) == len(components.KWOK_STAGES)


def test_kubeconfig_embeds_credentials(tmp_path: pathlib.Path) -> None:
    p = pki.ensure_pki(tmp_path / "pki")
    cfg = json.loads(kubeconfig.kubeconfig_text("https://127.0.0.1:6443", p))
    assert cfg["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert cfg["users"][0]["user"]["client-key-data"]
    assert cfg["current-context"] == kubeconfig.CONTEXT
    # ensure_pki is idempotent: a complete PKI is kept as is.
    before = p.ca_crt.read_bytes()
    assert pki.ensure_pki(tmp_path / "pki").ca_crt.read_bytes() == before
