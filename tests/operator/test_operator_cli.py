"""The `process-monitor` CLI as users run it (a subprocess): render output, JSON apply bodies, bad input."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import yaml
from process_monitor_operator.k8s.serialize import to_json_bytes
from process_monitor_operator.render import RenderOptions, render_all

HERE = pathlib.Path(__file__).parent


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "process_monitor_operator.cli", *args]
    return subprocess.run(cmd, input=stdin and stdin.encode(), capture_output=True, timeout=60, check=False)


def test_render_yaml_matches_golden() -> None:
    out = _cli("render", "-f", str(HERE / "cases" / "catch-all.yaml"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode() == (HERE / "golden" / "catch-all.yaml").read_text()


def test_render_json_lines_are_the_apply_bodies() -> None:
    case = HERE / "cases" / "selective-full.yaml"
    out = _cli("render", "-f", str(case), "-o", "json")
    assert out.returncode == 0, out.stderr
    expected = [to_json_bytes(m) for m in render_all(yaml.safe_load(case.read_text()), RenderOptions())]
    assert out.stdout.split(b"\n")[:-1] == expected
    assert [json.loads(line)["kind"] for line in out.stdout.splitlines()] == [
        "ServiceAccount", "ConfigMap", "DaemonSet", "Service", "ServiceMonitor", "PrometheusRule"]


def test_render_without_servicemonitor_crd() -> None:
    out = _cli("render", "-f", str(HERE / "cases" / "catch-all.yaml"), "--without", "ServiceMonitor",
               "--without", "PrometheusRule")
    assert out.returncode == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(out.stdout)]
    assert kinds == ["ServiceAccount", "ConfigMap", "DaemonSet", "Service"]
    assert b"ServiceMonitor skipped" in out.stderr


def test_invalid_regex_is_a_message_not_a_traceback() -> None:
    bad = "kind: ProcessMonitor\nmetadata: {name: bad}\nspec:\n  processNames: [{name: java, cmdline: ['(x']}]\n"
    out = _cli("render", "-f", "-", stdin=bad)
    assert out.returncode == 2 and out.stdout == b""
    assert b"default/bad: processNames[0] (name 'java'): cmdline[0] '(x' is not a valid RE2 regex" in out.stderr
    assert b"Traceback" not in out.stderr


def test_unreadable_input() -> None:
    out = _cli("render", "-f", "/nonexistent/pm.yaml")
    assert out.returncode == 2 and b"cannot read" in out.stderr and b"Traceback" not in out.stderr
    out = _cli("render", "-f", "-", stdin="kind: ConfigMap\nmetadata: {name: x}\n")
    assert out.returncode == 2 and b"no ProcessMonitor" in out.stderr


def test_rbac_prints_a_cluster_role() -> None:
    out = _cli("rbac")
    role = yaml.safe_load(out.stdout)
    assert role["kind"] == "ClusterRole"
    assert any("daemonsets" in r["resources"] for r in role["rules"])
