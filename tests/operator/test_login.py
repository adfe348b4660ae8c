"""The operator's login: in a pod it dials KUBERNETES_SERVICE_HOST/PORT as client-go does (kopf's own handler
dials kubernetes.default.svc, which needs cluster DNS), reading the ServiceAccount files; outside a pod, nothing."""

from __future__ import annotations

import pathlib

from process_monitor_operator import login


def _sa(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "namespace").write_text("pm-system")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    return tmp_path


def test_in_cluster_uses_the_service_env_and_the_serviceaccount_files(tmp_path: pathlib.Path) -> None:
    info = login.in_cluster({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}, _sa(tmp_path))
    assert info is not None
    assert info.server == "https://127.0.0.1:6443"
    assert info.token == "tok" and info.default_namespace == "pm-system"
    assert info.ca_path == str(tmp_path / "ca.crt")


def test_ipv6_service_host_is_bracketed() -> None:
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    assert login.in_cluster_server(env) == "https://[fd00::1]:443"


def test_outside_a_pod_there_is_no_in_cluster_login(tmp_path: pathlib.Path) -> None:
    assert login.in_cluster({}, _sa(tmp_path)) is None
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
    assert login.in_cluster(env, tmp_path / "missing") is None
