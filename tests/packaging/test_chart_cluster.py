"""The chart and the examples against the real API server of the local control plane (marker `cluster`).

- `helm install` into a namespace that enforces Pod Security `restricted`: the operator Deployment becomes Ready
  (kwok marks its pod Running), so its pod passed the restricted admission; the optional catch-all ProcessMonitor
  is accepted by the CRD.
- With peering: several replicas and the ClusterKopfPeering object.
- Every manifest `process-monitor render` makes from each example is accepted by `kubectl apply
  --dry-run=server --validate=strict`, prometheus-operator kinds included (their CRDs come from the pinned
  prometheus-operator binary and are removed again if this module installed them).
- The examples themselves validate against the ProcessMonitor CRD, and a misspelt field is rejected.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from chart_helpers import CHART, ROOT, kube_version


def _kubernetes_examples() -> list[Any]:
    """examples/**.yaml files made of Kubernetes objects (not agent or Prometheus configs, not Argo CD's kinds)."""
    out = []
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        if docs and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs) and \
                not any(str(d["apiVersion"]).startswith("argoproj.io/") for d in docs):
            out.append(path)
    return out


EXAMPLES = _kubernetes_examples()
PM_EXAMPLES = [p for p in EXAMPLES
               if any(d and d.get("kind") == "ProcessMonitor" for d in yaml.safe_load_all(p.read_text()))]
PO_CRDS = ("servicemonitors.monitoring.coreos.com", "podmonitors.monitoring.coreos.com",
           "prometheusrules.monitoring.coreos.com")


def _release() -> str:
    return f"pm-{uuid.uuid4().hex[:6]}"


def _install(kube_cluster: Any, release: str, namespace: str, *sets: str) -> str:
    args = ["install", release, str(CHART), "--namespace", namespace, "--wait", "--timeout", "3m"]
    for s in sets:
        args += ["--set", s]
    return kube_cluster.helm(*args, timeout=240).stdout


def _uninstall(kube_cluster: Any, release: str, namespace: str) -> None:
    kube_cluster.helm("uninstall", release, "--namespace", namespace, "--wait", "--timeout", "2m", check=False,
                      timeout=180)


def test_helm_install_makes_the_operator_ready_under_pod_security_restricted(kube_cluster: Any,
                                                                             namespace: str) -> None:
    kube_cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted",
                         "pod-security.kubernetes.io/enforce-version=latest")
    release = _release()
    out = _install(kube_cluster, release, namespace, "defaultProcessMonitor.enabled=true",
                   f"defaultProcessMonitor.namespace={namespace}")
    try:
        notes = out.split("NOTES:", 1)[1]
        assert "pod-security.kubernetes.io/enforce=privileged" in notes
        assert "release: kube-prometheus-stack" in notes
        assert "kind: ProcessMonitor" in notes and '"{{.Comm}}"' in notes
        assert "kubectl apply --server-side" in notes
        assert f"created ProcessMonitor all-processes in namespace\n   {namespace}" in notes
        dep = kube_cluster.get_json("deployment", f"{release}-process-monitor", "-n", namespace)
        assert dep["spec"]["strategy"]["type"] == "Recreate"
        assert dep["status"].get("readyReplicas") == 1, dep["status"]
        pods = kube_cluster.get_json("pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}")
        assert len(pods["items"]) == 1 and pods["items"][0]["status"]["phase"] == "Running"
        # The ServiceAccount can do what the operator needs (a sample of its rules), and no more than that.
        sa = f"system:serviceaccount:{namespace}:{release}-process-monitor"
        for verb, resource in (("patch", "processmonitors.monitoring.process-monitor.dev"),
                               ("create", "daemonsets.apps"), ("watch", "customresourcedefinitions")):
            out = kube_cluster.kubectl("auth", "can-i", verb, resource, "--as", sa, "-A", check=False)
            assert out.stdout.strip() == "yes", f"{sa} cannot {verb} {resource}"
        for verb, resource in (("get", "secrets"), ("create", "clusterroles"), ("delete", "nodes")):
            out = kube_cluster.kubectl("auth", "can-i", verb, resource, "--as", sa, "-A", check=False)
            assert out.stdout.strip() == "no", f"{sa} may {verb} {resource}"
        pm = kube_cluster.get_json("processmonitor", "all-processes", "-n", namespace)
        assert pm["spec"]["processNames"] == [{"name": "{{.Comm}}", "cmdline": [".+"]}]
    finally:
        _uninstall(kube_cluster, release, namespace)
    left = kube_cluster.kubectl("get", "clusterrole", f"{release}-process-monitor", check=False)
    assert left.returncode != 0, "helm uninstall left the ClusterRole behind"


def test_helm_install_with_peering_runs_two_replicas(kube_cluster: Any, namespace: str) -> None:
    release = _release()
    peering = f"{release}-peers"
    _install(kube_cluster, release, namespace, "peering.enabled=true", "replicaCount=2", f"peering.name={peering}")
    try:
        dep = kube_cluster.get_json("deployment", f"{release}-process-monitor", "-n", namespace)
        assert dep["status"].get("readyReplicas") == 2, dep["status"]
        obj = kube_cluster.get_json("clusterkopfpeering", peering)
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == release
    finally:
        _uninstall(kube_cluster, release, namespace)


@pytest.fixture(scope="module")
def prometheus_operator_crds(kube_cluster: Any) -> Iterator[None]:
    """prometheus-operator's CRDs for the dry runs; removed afterwards if this fixture installed them."""
    present = kube_cluster.kubectl("get", "crd", *PO_CRDS, check=False).returncode == 0
    if not present:
        from localcluster import tools

        crds = subprocess.run([str(tools.binary("prometheus-operator")), "crds"], capture_output=True, text=True,
                              timeout=60, check=True).stdout
        # Picked by name from the raw text: PyYAML's YAML 1.1 cannot load them ('=' in an enum is a tag there).
        docs = [doc for doc in re.split(r"^---[ \t]*$", crds, flags=re.M)
                if (m := re.search(r"^metadata:\n(?:[ ]+.*\n)*?[ ]{2}name: (\S+)", doc, re.M)) and m[1] in PO_CRDS]
        assert len(docs) == len(PO_CRDS), "prometheus-operator crds lacks a CRD we render"
        kube_cluster.apply_yaml("\n---\n".join(docs), server_side=True)
        kube_cluster.wait_crds_established(*PO_CRDS)
    try:
        yield
    finally:
        if not present:
            kube_cluster.kubectl("delete", "crd", *PO_CRDS, "--ignore-not-found", "--timeout=60s", check=False,
                                 timeout=90)


def _in_test_namespace(example: Any) -> str:
    """The example's YAML with any metadata.namespace removed, so it lands in the test's own namespace."""
    docs = [d for d in yaml.safe_load_all(example.read_text()) if d]
    for doc in docs:
        doc.get("metadata", {}).pop("namespace", None)
    return yaml.safe_dump_all(docs)


def _render(example: Any, namespace: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "process_monitor_operator.cli", "render", "-f", "-",
                           "-n", namespace], input=_in_test_namespace(example), capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, f"render {example}: {proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("example", PM_EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_every_rendered_manifest_is_accepted_by_the_api_server(kube_cluster: Any, namespace: str,
                                                               prometheus_operator_crds: None, example: Any) -> None:
    rendered = _render(example, namespace)
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    kinds = {d["kind"] for d in docs}
    assert {"ConfigMap", "DaemonSet", "Service", "ServiceAccount"} <= kinds, kinds
    out = kube_cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", "-",
                               input=rendered, check=False)
    assert out.returncode == 0, f"{example.name}: API server rejected a rendered manifest:\n{out.stderr}"
    accepted = [ln for ln in out.stdout.splitlines() if ln.endswith("(server dry run)")]
    assert len(accepted) == len(docs), out.stdout


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_examples_validate_against_the_crd(kube_cluster: Any, namespace: str, example: Any) -> None:
    out = kube_cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-n", namespace,
                               "-f", "-", input=_in_test_namespace(example), check=False)
    assert out.returncode == 0, f"{example.name}:\n{out.stderr}"
    assert "(server dry run)" in out.stdout


def test_a_misspelt_example_is_rejected(kube_cluster: Any, namespace: str) -> None:
    # Proves the check above can fail: the CRD's structural schema plus strict validation catch a typo.
    doc = yaml.safe_load((ROOT / "examples" / "catch-all.yaml").read_text())
    doc["spec"]["processNames"][0]["cmdlines"] = doc["spec"]["processNames"][0].pop("cmdline")
    out = kube_cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", "-",
                               input=yaml.safe_dump(doc), check=False)
    assert out.returncode != 0
    assert "cmdlines" in out.stderr, out.stderr


def test_rendered_chart_is_accepted_by_the_api_server(kube_cluster: Any, namespace: str,
                                                      prometheus_operator_crds: None) -> None:
    # Every object of the chart with every option on, including the ServiceMonitor and the ClusterKopfPeering.
    # The chart's crds/ (as `helm install` would apply them first); identical to what other tests install.
    for crd in sorted((CHART / "crds").glob("*.yaml")):
        kube_cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=packaging-tests",
                             "-f", str(crd))
    kube_cluster.wait_crds_established("clusterkopfpeerings.kopf.dev", "processmonitors.monitoring.process-monitor.dev")
    rendered = kube_cluster.helm("template", _release(), str(CHART), "--namespace", namespace,
                                 "--kube-version", kube_version(),
                                 "--set", "peering.enabled=true", "--set", "replicaCount=2",
                                 "--set", "metrics.serviceMonitor.enabled=true",
                                 "--set", "defaultProcessMonitor.enabled=true").stdout
    deadline = time.monotonic() + 30
    while True:  # a CRD just established can take a moment to reach the discovery cache of kubectl
        out = kube_cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", "-",
                                   input=rendered, check=False)
        if out.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert len([ln for ln in out.stdout.splitlines() if ln.endswith("(server dry run)")]) == len(docs)
