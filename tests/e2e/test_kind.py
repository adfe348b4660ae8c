"""End-to-end on kind: real pods, real images, the chart, a ProcessMonitor and real metrics.

Run by `make test` (skipped where there is no Docker engine or no `kind`) and by .github/workflows/e2e-kind.yml.
One module-scoped fixture creates a kind cluster, builds both images from this checkout, loads them into kind and
installs the chart; the tests then apply examples/catch-all.yaml, wait for the agents and read their metrics
through the API server's service proxy. Set E2E_KEEP_CLUSTER=1 to keep the cluster for debugging.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence

import pytest
from harness.wait import wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLUSTER = os.environ.get("E2E_KIND_CLUSTER", "pm-e2e")
TAG = "e2e"  # never `latest`: it implies imagePullPolicy Always, which defeats `kind load`
OPERATOR_IMAGE = "process-monitor-operator"
AGENT_IMAGE = "process-monitor-agent"
RELEASE, RELEASE_NS = "pm", "process-monitor"
PM_NS, PM_NAME = "monitoring", "all-processes"
PARENT_LABEL = "monitoring.process-monitor.dev/processmonitor"


def _binary(name: str) -> str | None:
    """A Go-built tool from the project's cache, else the one on PATH."""
    try:
        from localcluster import tools

        return str(tools.binary(name))
    except (ImportError, KeyError, FileNotFoundError):
        return shutil.which(name)


def _skip_reason() -> str | None:
    docker = shutil.which("docker")
    if not docker:
        return "no docker CLI: the kind end-to-end tests need Docker"
    try:
        info = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                              timeout=30)
    except subprocess.TimeoutExpired:
        return "no Docker engine: `docker info` timed out"
    if info.returncode != 0:
        first = (info.stderr.strip().splitlines() or ["no output"])[0]
        return f"no Docker engine (`docker info` failed: {first})"
    if not shutil.which("kind"):
        return "kind not found on PATH (go install sigs.k8s.io/kind@<KIND_VERSION from tools/versions.env>)"
    for tool in ("helm", "kubectl"):
        if not _binary(tool):
            return f"{tool} not found (make setup builds it, or put it on PATH)"
    return None


SKIP_REASON = _skip_reason()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")]


def sh(argv: Sequence[str], *, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(list(argv), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


class Kind:
    """kubectl and helm bound to the kind cluster's kubeconfig."""

    def __init__(self, kubeconfig: pathlib.Path) -> None:
        self.env = {"KUBECONFIG": str(kubeconfig)}
        self.kubectl_bin = _binary("kubectl") or "kubectl"
        self.helm_bin = _binary("helm") or "helm"

    def kubectl(self, *args: str, timeout: float = 120) -> str:
        return sh([self.kubectl_bin, *args], timeout=timeout, env=self.env)

    def helm(self, *args: str, timeout: float = 600) -> str:
        return sh([self.helm_bin, *args], timeout=timeout, env=self.env)

    def wait(self, what: str, probe: Callable[[], str], timeout: float) -> str:
        return wait_for(what, probe, timeout, 3.0)


@pytest.fixture(scope="module")
def kind_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kind]:
    kubeconfig = tmp_path_factory.mktemp("kind") / "kubeconfig"
    created = CLUSTER not in sh(["kind", "get", "clusters"]).split()
    if created:
        sh(["kind", "create", "cluster", "--name", CLUSTER, "--wait", "180s", "--kubeconfig", str(kubeconfig)],
           timeout=600)
    else:
        kubeconfig.write_text(sh(["kind", "get", "kubeconfig", "--name", CLUSTER]))
    try:
        for dockerfile, image in (("Dockerfile.operator", OPERATOR_IMAGE), ("Dockerfile.agent", AGENT_IMAGE)):
            sh(["docker", "build", "-f", dockerfile, "-t", f"{image}:{TAG}", "."], timeout=900)
            sh(["kind", "load", "docker-image", f"{image}:{TAG}", "--name", CLUSTER], timeout=300)
        kind = Kind(kubeconfig)
        kind.helm("upgrade", "--install", RELEASE, "charts/process-monitor", "--namespace", RELEASE_NS,
                  "--create-namespace", "--set", f"image.repository={OPERATOR_IMAGE}", "--set", f"image.tag={TAG}",
                  "--set", f"agentImage.repository={AGENT_IMAGE}", "--set", f"agentImage.tag={TAG}",
                  "--wait", "--timeout", "5m")
        yield kind
    finally:
        if created and os.environ.get("E2E_KEEP_CLUSTER") != "1":
            subprocess.run(["kind", "delete", "cluster", "--name", CLUSTER], capture_output=True, timeout=300)


def test_images_run_as_declared(kind_cluster: Kind) -> None:
    uid = sh(["docker", "run", "--rm", "--entrypoint", "id", f"{OPERATOR_IMAGE}:{TAG}", "-u"]).strip()
    assert uid == "65532", f"operator image runs as uid {uid}"
    version = sh(["docker", "run", "--rm", f"{AGENT_IMAGE}:{TAG}", "--version"])
    assert version.strip(), "the agent image printed no version"
    sizes = {img: json.loads(sh(["docker", "image", "inspect", f"{img}:{TAG}"]))[0]["Size"]
             for img in (OPERATOR_IMAGE, AGENT_IMAGE)}
    print("image sizes (MB): " + ", ".join(f"{k}={v / 1e6:.0f}" for k, v in sizes.items()))
    # The agent image carries no Kubernetes client stack, so it must be the smaller one.
    assert sizes[AGENT_IMAGE] < sizes[OPERATOR_IMAGE]


def test_operator_passes_helm_test(kind_cluster: Kind) -> None:
    kind_cluster.kubectl("-n", RELEASE_NS, "rollout", "status", f"deployment/{RELEASE}-process-monitor",
                         "--timeout=120s")
    out = kind_cluster.helm("test", RELEASE, "--namespace", RELEASE_NS, "--timeout", "3m")
    assert "Succeeded" in out, out


def test_processmonitor_serves_real_metrics_through_the_service_proxy(kind_cluster: Kind) -> None:
    k = kind_cluster
    k.kubectl("apply", "-f", "examples/namespace.yaml")
    k.kubectl("apply", "-n", PM_NS, "-f", "examples/catch-all.yaml")

    def ready() -> str:
        out = k.kubectl("-n", PM_NS, "get", "pmon", PM_NAME, "-o",
                        'jsonpath={.status.conditions[?(@.type=="Ready")].status}')
        return out if out == "True" else ""

    k.wait(f"ProcessMonitor {PM_NAME} Ready=True", ready, timeout=300)
    ds = k.kubectl("-n", PM_NS, "get", "daemonset", "-l", f"{PARENT_LABEL}={PM_NAME}", "-o", "name").split()
    assert len(ds) == 1, ds
    k.kubectl("-n", PM_NS, "rollout", "status", ds[0], "--timeout=180s")
    svc = k.kubectl("-n", PM_NS, "get", "service", "-l", f"{PARENT_LABEL}={PM_NAME}", "-o",
                    "jsonpath={.items[0].metadata.name}")
    path = f"/api/v1/namespaces/{PM_NS}/services/{svc}:http-metrics/proxy/metrics"

    def metrics() -> str:
        try:
            body = k.kubectl("get", "--raw", path, timeout=30)
        except AssertionError:
            return ""
        return body if 'groupname="kubelet"' in body else ""

    body = k.wait("the kubelet's process group in the agent's metrics", metrics, timeout=180)
    kubelet = [ln for ln in body.splitlines() if ln.startswith('namedprocess_namegroup_num_procs{groupname="kubelet"')]
    assert kubelet and float(kubelet[0].rsplit(" ", 1)[1]) >= 1, kubelet
    cpu = [ln for ln in body.splitlines() if ln.startswith("namedprocess_namegroup_cpu_seconds_total{")]
    assert cpu, "no CPU series"
