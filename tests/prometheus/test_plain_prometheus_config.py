"""Plain Prometheus without the operator: `process-monitor render --rules` prints the rules file the example
config loads, and `promtool check config` accepts the documented kubernetes_sd example (with that rules file).

Debian's promtool is built without kubernetes_sd, so the config check uses the upstream promtool built from the
Go module proxy (tools/build-go-tools.sh promtool) and skips with that reason when it is not built."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "prometheus"

pytestmark = pytest.mark.prometheus


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "process_monitor_operator.cli", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def _promtool_with_kubernetes_sd() -> str:
    try:
        from localcluster.tools import ToolNotBuiltError, binary
    except ImportError:  # pragma: no cover - tools/ is on the test path
        pytest.skip("localcluster.tools is not importable")
    try:
        return str(binary("promtool"))
    except (ToolNotBuiltError, KeyError) as exc:
        pytest.skip(f"upstream promtool (with kubernetes_sd) not built: {exc}")


def test_render_rules_equals_the_example_rules_file() -> None:
    out = _cli("render", "--rules", "-f", str(EXAMPLES / "processmonitor-with-alerts.yaml"))
    assert out.returncode == 0, out.stderr
    assert out.stdout == (EXAMPLES / "process-monitor.rules.yaml").read_text(), (
        "examples/prometheus/process-monitor.rules.yaml is stale: regenerate it with "
        "`process-monitor render --rules -f examples/prometheus/processmonitor-with-alerts.yaml`")
    names = [r.get("alert") for g in yaml.safe_load(out.stdout)["groups"] for r in g["rules"]]
    assert "ProcessGroupRestarted" in names and "ProcessGroupTooFewProcesses" in names


def test_render_rules_several_monitors_and_bad_input(tmp_path: pathlib.Path) -> None:
    two = tmp_path / "two.yaml"
    two.write_text(
        "kind: ProcessMonitor\nmetadata: {name: a, namespace: x}\nspec: {processNames: [{comm: [a]}]}\n---\n"
        "kind: ProcessMonitor\nmetadata: {name: b, namespace: x}\nspec: {processNames: [{comm: [b]}]}\n")
    out = _cli("render", "--rules", "-f", str(two))
    assert out.returncode == 0, out.stderr
    groups = [g["name"] for g in yaml.safe_load(out.stdout)["groups"]]
    assert groups == ["process-monitor.x.a.recording", "process-monitor.x.a.alerts",
                      "process-monitor.x.b.recording", "process-monitor.x.b.alerts"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: ProcessMonitor\nmetadata: {name: a}\nspec:\n  processNames: [{comm: [a]}]\n"
                   "  alerts: {rules: [{fdRatio: {above: 5}}]}\n")
    out = _cli("render", "--rules", "-f", str(bad))
    assert out.returncode == 2 and out.stdout == ""
    assert "spec.alerts.rules[0].fdRatio.above: must be a number > 0 and <= 1" in out.stderr
    assert "Traceback" not in out.stderr


def test_promtool_check_rules_on_example(promtool: str) -> None:
    out = subprocess.run([promtool, "check", "rules", str(EXAMPLES / "process-monitor.rules.yaml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr


def test_promtool_check_config_kubernetes_sd(tmp_path: pathlib.Path) -> None:
    promtool = _promtool_with_kubernetes_sd()
    for name in ("prometheus.yml", "process-monitor.rules.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    out = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr
    jobs = [j["job_name"] for j in yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())["scrape_configs"]]
    assert jobs == ["process-monitor", "kubernetes-service-endpoints"]


def test_example_relabelling_attaches_rule_scope_labels() -> None:
    """Both documented jobs set the labels the rules select on (namespace, processmonitor) plus node and pod."""
    config = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        targets = {r.get("target_label") for r in job["relabel_configs"]}
        assert {"namespace", "processmonitor", "node", "pod"} <= targets, job["job_name"]


def test_example_processmonitor_renders_every_prometheus_child() -> None:
    out = _cli("render", "-f", str(EXAMPLES / "processmonitor-with-alerts.yaml"))
    assert out.returncode == 0, out.stderr
    docs = list(yaml.safe_load_all(out.stdout))
    kinds = [d["kind"] for d in docs]
    assert "PodMonitor" in kinds and "PrometheusRule" in kinds and "ServiceMonitor" not in kinds
    assert any(d["kind"] == "ConfigMap" and d["metadata"]["labels"].get("grafana_dashboard") == "1" for d in docs)
