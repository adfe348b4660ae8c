"""examples/prometheus/pod-process.rules.yaml under promtool: it loads, fires for a hot process group in a pod
with the pod's namespace/pod/container in its labels and summary, and stays silent for the same hot group on the
host (no pod labels) and for a cool group in a pod."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest
import yaml

pytestmark = pytest.mark.prometheus

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "prometheus" / "pod-process.rules.yaml"
T = 'job="process-monitor",instance="10.0.0.1:9256",node="n1"'
POD = 'namespace="shop",pod="web-0",container="app"'


def test_example_alert_names_the_pod(promtool: str, tmp_path: pathlib.Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "rules.yaml")
    check = subprocess.run([promtool, "check", "rules", "rules.yaml"], capture_output=True, text=True, timeout=60,
                           cwd=tmp_path)
    assert check.returncode == 0 and "SUCCESS: 1 rules found" in check.stdout, check.stdout + check.stderr
    series = [
        # 100 % of a core in the pod (60 s of CPU per minute), the same on the host, 10 % in another container.
        (f'namedprocess_namegroup_cpu_seconds_total{{{T},groupname="java",mode="user",{POD}}}', "0+60x30"),
        (f'namedprocess_namegroup_cpu_seconds_total{{{T},groupname="java",mode="user"}}', "0+60x30"),
        (f'namedprocess_namegroup_cpu_seconds_total{{{T},groupname="nginx",mode="user",namespace="shop",'
         f'pod="web-0",container="proxy"}}', "0+6x30"),
    ]
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "PodProcessHighCPU", "exp_alerts": []},  # not for 10m yet
                {"eval_time": "20m", "alertname": "PodProcessHighCPU", "exp_alerts": [{
                    "exp_labels": {"severity": "warning", "groupname": "java", "namespace": "shop", "pod": "web-0",
                                   "container": "app", "node": "n1"},
                    "exp_annotations": {
                        "summary": "java in pod shop/web-0 uses 100% of a core",
                        "description": "Processes named java in container app of pod shop/web-0 on node n1 have "
                                       "used more than 90% of one CPU core for 10 minutes. `kubectl -n shop top pod "
                                       "web-0 --containers` shows the container's total; the group says which "
                                       "process it is.",
                    },
                }]},
            ],
        }],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False, width=1000))
    out = subprocess.run([promtool, "test", "rules", "test.yaml"], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
