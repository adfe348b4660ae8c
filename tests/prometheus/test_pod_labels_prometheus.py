"""A real Prometheus (Debian's) stores the agent's -kubernetes.labels series the way docs/attribution.md says.

The agent runs on a fake node (tools/harness/fakeproc.py procfs + a fake kubelet log tree: one pod process, its
pause, one host process, all comm `app`). Prometheus scrapes it with the target labels prometheus-operator would
attach (namespace/pod/container of the *agent's* pod, processmonitor) and the target relabelings the renderer
produces for spec.kubernetes.labels (render/kubernetes.py). Stored series must carry the workload's namespace,
pod and container, the host one none of them, the sandbox container="POD", every one processmonitor_namespace,
and the rules' default scope for labels on must select them all. With the rules rendered for labels on loaded,
every query of the labels-on dashboard returns data, and "Top containers by process CPU" names the pod's container.
"""

from __future__ import annotations

import contextlib
import pathlib
import sys
import time

import pytest
import yaml
from localcluster.ports import free_port
from process_monitor_operator.monitoring import dashboard, rules
from process_monitor_operator.render import kubernetes
from process_monitor_operator.spec import load
from test_real_prometheus import Prom, _process, _prometheus, _wait_http

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "agent"))
from harness.fakeproc import FakeProc

pytestmark = [pytest.mark.prometheus]

ROOT = pathlib.Path(__file__).resolve().parents[2]
UID = "11111111-1111-4111-8111-111111111111"
CID, SID = "c1" * 32, "51" * 32


def _cgroup(cid: str) -> str:
    return f"0::/kubepods/besteffort/pod{UID}/{cid}"


def _snake(relabel: dict) -> dict:
    """prometheus-operator's camelCase RelabelConfig -> Prometheus's relabel_config keys."""
    return {{"targetLabel": "target_label", "sourceLabels": "source_labels"}.get(k, k): v for k, v in relabel.items()}


def test_prometheus_stores_workload_labels_and_none_for_host(prometheus_bin: str, tmp_path: pathlib.Path) -> None:
    fp = FakeProc(tmp_path / "proc")
    fp.add(100, comm="pause", cgroup=_cgroup(SID))
    fp.add(101, comm="app", cgroup=_cgroup(CID))
    fp.add(300, comm="app", cgroup="0::/system.slice/app.service")
    pods, links = tmp_path / "pods", tmp_path / "containers"
    (pods / f"shop_web-0_{UID}" / "main").mkdir(parents=True)
    links.mkdir()
    (links / f"web-0_shop_main-{CID}.log").symlink_to(pods / f"shop_web-0_{UID}" / "main" / "0.log")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"process_names": [{"name": "{{.Comm}}", "comm": ["app", "pause"]}]}))
    src = load({"metadata": {"name": "pods", "namespace": "monitoring"},
                "spec": {"processNames": [{"comm": ["app"]}], "kubernetes": {"labels": True}}})
    agent_port, prom_port = free_port(), free_port()
    (tmp_path / "rules.yaml").write_text(rules.rules_file_text(None, "pods", "monitoring", kube_labels=True))
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yaml"],
        "scrape_configs": [{
            "job_name": "process-monitor",
            "static_configs": [{"targets": [f"127.0.0.1:{agent_port}"],
                                # what prometheus-operator sets from the agent pod, plus our scope label
                                "labels": {"namespace": "monitoring", "pod": "pmon-pods-x7k2p", "container": "agent",
                                           rules.SCOPE_LABEL: "pods"}}],
            "relabel_configs": [_snake(r) for r in kubernetes.target_relabelings(src)],
        }],
    }))
    agent_argv = ["env", f"PYTHONPATH={ROOT / 'agent'}", sys.executable, "-m", "process_monitor_agent",
                  f"-config.path={config}", f"-procfs={fp.root}", f"-web.listen-address=127.0.0.1:{agent_port}",
                  "-kubernetes.labels", f"-kubernetes.pod-logs-dir={pods}", f"-kubernetes.container-logs-dir={links}"]
    with contextlib.ExitStack() as stack:
        agent = stack.enter_context(_process(agent_argv, tmp_path / "agent.log"))
        prom_proc = _prometheus(stack, prometheus_bin, tmp_path, prom_port)
        _wait_http(agent_port, "/metrics", agent)
        _wait_http(prom_port, "/-/ready", prom_proc)
        prom = Prom(prom_port)
        result: list[dict] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(result) < 3:
            result = prom.query("namedprocess_namegroup_num_procs")
            time.sleep(0.5)
        got = sorted((r["metric"].get("groupname"), r["metric"].get("namespace", "-"), r["metric"].get("pod", "-"),
                      r["metric"].get("container", "-"), r["metric"].get(kubernetes.SCOPE_NAMESPACE_LABEL, "-"))
                     for r in result)
        assert got == [
            ("app", "-", "-", "-", "monitoring"),  # the host process: empty values are no labels
            ("app", "shop", "web-0", "main", "monitoring"),
            ("pause", "shop", "web-0", "POD", "monitoring"),
        ], result
        assert not prom.query('{__name__=~".+", exported_namespace!=""}'), "no label was renamed exported_*"
        scope = rules.default_selector("pods", "monitoring", kube_labels=True)
        assert len(prom.query(f"namedprocess_namegroup_num_procs{{{scope}}}")) == 3
        up = prom.query(f"up{{{scope}}}")
        assert len(up) == 1 and "namespace" not in up[0]["metric"], up

        model = dashboard.dashboard(kube_labels=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not prom.query(rules.RECORD_CPU_PERCENT):
            time.sleep(0.5)
        empty = [f"{title}: {expr}" for title, expr in dashboard.panel_queries(model)
                 if not prom.query(_all(expr))]
        assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
        top = next(p for p in model["panels"] if p["title"] == "Top containers by process CPU")
        names = {(r["metric"].get("namespace"), r["metric"].get("pod"), r["metric"].get("container"))
                 for r in prom.query(_all(top["targets"][0]["expr"]))}
        assert names == {("shop", "web-0", "main"), ("shop", "web-0", "POD")}, names


def _all(expr: str) -> str:
    """Grafana variables as "All" sets them (each variable's allValue) and a rate interval for 1 s scrapes."""
    for var in ("namespace", "pod", "container", "node", "instance"):
        expr = expr.replace(f"${var}", ".*")
    return expr.replace("$groupname", ".+").replace("$__rate_interval", "10s")
