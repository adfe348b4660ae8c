"""The files in examples/ without a cluster: they render, say what their comments say, and the GitOps ones hold.

- every ProcessMonitor example renders with `process-monitor render` (the operator's own validation);
- catch-all is the seed article's config; the Java/MySQL regexes (RE2) group sample command lines as documented;
- kube-prometheus-stack's ServiceMonitor carries the `release` label;
- the Argo CD health check equals docs/argocd-health.md and, run in Lua 5.1 (Argo CD's gopher-lua dialect),
  maps status to Healthy / Progressing / Degraded;
- the Argo CD Applications point at paths that exist and pass values the chart's schema accepts.

The API server's verdict on the same files is in test_chart_cluster.py.
"""

from __future__ import annotations

import copy
import functools
import re
import subprocess
import sys
from typing import Any

import pytest
import re2
import yaml
from chart_helpers import CHART, ROOT, helm, kube_version

EXAMPLES = ROOT / "examples"
HEALTH_KEY = "resource.customizations.health.monitoring.process-monitor.dev_ProcessMonitor"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def _render(name: str) -> list[dict[str, Any]]:
    return copy.deepcopy(_rendered(name))


@functools.cache
def _rendered(name: str) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "process_monitor_operator.cli", "render", "-f", f"examples/{name}",
                           "-n", "monitoring"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, f"render examples/{name}: {proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.mark.parametrize("name", ["catch-all.yaml", "java-mysql.yaml", "kube-prometheus-stack.yaml",
                                  "gpu-node-pool.yaml", "pods.yaml"])
def test_example_renders_every_child(name: str) -> None:
    kinds = {d["kind"] for d in _render(name)}
    assert {"ServiceAccount", "ConfigMap", "DaemonSet", "Service"} <= kinds, kinds


def test_gpu_node_pool_runs_on_gpu_nodes_without_taking_a_gpu() -> None:
    ds = next(d for d in _render("gpu-node-pool.yaml") if d["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    (agent,) = pod["containers"]
    assert "--gpu.enabled=true" in agent["args"]
    assert pod["nodeSelector"]["nvidia.com/gpu.present"] == "true" and pod["runtimeClassName"] == "nvidia"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "utility"} in agent["env"]
    assert "nvidia.com/gpu" not in str(agent["resources"])
    dashboard = next(d for d in _render("gpu-node-pool.yaml") if d["metadata"]["name"].endswith("-dashboard"))
    assert "namedprocess_namegroup_gpu_memory_bytes" in next(iter(dashboard["data"].values()))
    # The rules name GPU processes as the comments say (the agent's own parser, fed what NVML would report).
    from process_monitor_agent.config import parse_config
    from process_monitor_agent.rules import ProcAttrs

    config = next(d for d in _render("gpu-node-pool.yaml") if d["kind"] == "ConfigMap")["data"]["config.yaml"]
    rules = parse_config(config).rules

    def named(comm: str, argv: list[str], gpus: tuple[str, ...]) -> str | None:
        attrs = ProcAttrs(comm, argv)
        attrs.gpus = gpus
        return rules.name_of(attrs)

    assert named("python", ["python", "/workspace/train.py", "--epochs=3"], ("0", "1")) == "train:train"
    assert named("python", ["python", "/workspace/train.py"], ()) == "python"
    assert named("ffmpeg", ["ffmpeg", "-hwaccel", "cuda"], ("0",)) == "gpu:ffmpeg@[0]"
    assert named("tritonserver", ["tritonserver"], ("2",)) == "serve:tritonserver"


def test_pods_example_turns_on_labels_with_read_only_mounts_and_no_api_access() -> None:
    docs = {d["kind"]: d for d in _render("pods.yaml")}
    pod = docs["DaemonSet"]["spec"]["template"]["spec"]
    assert "--kubernetes.labels=true" in pod["containers"][0]["args"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["/host/var/log/pods"]["readOnly"] and mounts["/host/var/log/containers"]["readOnly"]
    assert pod["automountServiceAccountToken"] is False
    assert "Role" not in docs and "RoleBinding" not in docs and "ClusterRole" not in docs


def test_catch_all_is_the_seed_config() -> None:
    (pm,) = _docs("catch-all.yaml")
    # The seed's ConfigMap: process_names: [{name: "{{.Comm}}", cmdline: ['.+']}]
    assert pm["spec"] == {"processNames": [{"name": "{{.Comm}}", "cmdline": [".+"]}]}
    config = next(d for d in _render("catch-all.yaml") if d["kind"] == "ConfigMap")["data"]["config.yaml"]
    assert yaml.safe_load(config)["process_names"] == [{"name": "{{.Comm}}", "cmdline": [".+"]}]


@pytest.mark.parametrize(("cmdline", "entry", "captures"), [
    ("java -Xmx2g -jar /app/orders-service.jar --server.port=8080", 0, {"Jar": "orders-service"}),
    ("java -jar billing.jar", 0, {"Jar": "billing"}),
    ("java -cp /app/lib/* com.example.billing.Main --verbose", 1, {"Main": "com.example.billing.Main"}),
    ("/usr/local/bin/process-exporter -config.path /etc/pe/all.yaml", 4, {"Cfgfile": "/etc/pe/all.yaml"}),
])
def test_java_mysql_regexes_capture_what_the_comments_say(cmdline: str, entry: int, captures: dict[str, str]) -> None:
    (pm,) = _docs("java-mysql.yaml")
    rule = pm["spec"]["processNames"][entry]
    for pattern in rule["cmdline"]:
        match = re2.search(pattern, cmdline)
        assert match, f"{pattern!r} does not match {cmdline!r}"
        got = {k: v for k, v in match.groupdict().items() if v is not None}
        assert got == captures


def test_java_mysql_first_rule_ignores_non_jar_java() -> None:
    (pm,) = _docs("java-mysql.yaml")
    assert not re2.search(pm["spec"]["processNames"][0]["cmdline"][0], "java -cp app.jar:lib com.example.Main")


def test_kube_prometheus_stack_servicemonitor_has_the_release_label() -> None:
    (sm,) = [d for d in _render("kube-prometheus-stack.yaml") if d["kind"] == "ServiceMonitor"]
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    endpoint = sm["spec"]["endpoints"][0]
    assert endpoint["port"] == "http-metrics" and endpoint["interval"] == "15s"
    assert {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"} in endpoint["relabelings"]


def _doc_lua() -> str:
    doc = (ROOT / "docs" / "argocd-health.md").read_text()
    block = re.search(r"```yaml\n(data:\n.*?)```", doc, re.S)
    assert block, "docs/argocd-health.md has no argocd-cm data block"
    return yaml.safe_load(block.group(1))["data"][HEALTH_KEY]


def test_argocd_health_check_is_the_documented_one() -> None:
    (patch,) = _docs("argocd/argocd-cm-health.yaml")
    assert patch["data"][HEALTH_KEY] == _doc_lua()


def _health(obj: dict[str, Any]) -> dict[str, str]:
    from lupa import lua51  # Argo CD runs health checks in gopher-lua, a Lua 5.1

    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    (patch,) = _docs("argocd/argocd-cm-health.yaml")
    result = lua.execute(patch["data"][HEALTH_KEY])
    return dict(result.items())


def _pm(generation: int, observed: int | None, *conditions: tuple[str, str, str]) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "x", "generation": generation}}
    if observed is not None:
        obj["status"] = {"observedGeneration": observed,
                         "conditions": [{"type": t, "status": s, "message": m} for t, s, m in conditions]}
    return obj


@pytest.mark.parametrize(("obj", "status", "message"), [
    (_pm(1, None), "Progressing", "Waiting for the operator to observe this generation"),
    (_pm(2, 1, ("Ready", "True", "3/3 agents ready")), "Progressing",
     "Waiting for the operator to observe this generation"),
    (_pm(2, 2, ("Ready", "True", "3/3 agents ready"), ("Stalled", "False", "")), "Healthy", "3/3 agents ready"),
    (_pm(1, 1, ("Ready", "False", "1/3 agents ready"), ("Reconciling", "True", "rolling")), "Progressing",
     "1/3 agents ready"),
    (_pm(1, 1, ("Ready", "False", "bad"), ("Stalled", "True", "processNames[0].cmdline[0]: missing )")),
     "Degraded", "processNames[0].cmdline[0]: missing )"),
])
def test_argocd_health_check_runs(obj: dict[str, Any], status: str, message: str) -> None:
    assert _health(obj) == {"status": status, "message": message}


def test_argocd_applications_point_at_real_paths_and_valid_values(tmp_path: Any) -> None:
    apps = {d["metadata"]["name"]: d for d in _docs("argocd/application.yaml")}
    chart_app = apps["process-monitor-operator"]["spec"]
    assert (ROOT / chart_app["source"]["path"] / "Chart.yaml").is_file()
    assert "ServerSideApply=true" in chart_app["syncPolicy"]["syncOptions"]
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(chart_app["source"]["helm"]["valuesObject"]))
    rendered = helm("template", chart_app["source"]["helm"]["releaseName"], str(CHART), "--kube-version",
                    kube_version(), "-f", str(values)).stdout
    assert "kind: ServiceMonitor" in rendered
    pm_app = apps["process-monitors"]["spec"]
    include = pm_app["source"]["directory"]["include"].strip("{}").split(",")
    for name in include:
        assert (ROOT / pm_app["source"]["path"] / name).is_file(), name
