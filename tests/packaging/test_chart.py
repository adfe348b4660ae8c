"""The Helm chart with the real helm, no cluster: lint, template, values schema, RBAC, CRD copy, security.

The cluster half (install into the local control plane, server-side dry runs) is test_chart_cluster.py.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml
from chart_helpers import CHART, ROOT, by_kind, helm, kube_version, one, rule_triples, template
from process_monitor_operator import rbac_rules

CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())


def test_helm_lint_strict_passes() -> None:
    out = helm("lint", "--strict", "--kube-version", kube_version(), str(CHART)).stdout
    assert "0 chart(s) failed" in out


def test_helm_lint_strict_passes_with_every_option_on() -> None:
    proc = helm("lint", "--strict", "--kube-version", kube_version(), str(CHART),
                "--set", "peering.enabled=true", "--set", "replicaCount=2",
                "--set", "defaultProcessMonitor.enabled=true", "--set", "metrics.serviceMonitor.enabled=true",
                "--set", "watchNamespaces={team-a,team-b}")
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize(("typo", "bad_key"), [("imagee.tag=x", "imagee"), ("operator.probPort=1", "probPort"),
                                                ("defaultProcessMonitor.enable=true", "enable"),
                                                ("metrics.serviceMonitor.intervall=1m", "intervall")])
def test_values_schema_rejects_a_typo(typo: str, bad_key: str) -> None:
    proc = helm("template", "pm", str(CHART), "--kube-version", kube_version(), "--set", typo, check=False)
    assert proc.returncode != 0, f"--set {typo} was accepted"
    assert "values don't meet the specifications of the schema" in proc.stderr, proc.stderr
    assert bad_key in proc.stderr, proc.stderr


def test_values_schema_allows_global() -> None:
    docs = template({"global.imageRegistry": "registry.example"})
    assert by_kind(docs, "Deployment")


def test_values_schema_rejects_wrong_types() -> None:
    proc = helm("template", "pm", str(CHART), "--kube-version", kube_version(), "--set", "operator.probePort=http",
                check=False)
    assert proc.returncode != 0 and "probePort" in proc.stderr, proc.stderr


def test_defaults_render_the_operator_objects() -> None:
    docs = template()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["ServiceAccount", "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding",
                            "Service", "Deployment", "Pod"]), kinds
    assert not by_kind(docs, "ProcessMonitor") and not by_kind(docs, "ClusterKopfPeering")
    assert not by_kind(docs, "ServiceMonitor")


def test_every_object_carries_the_standard_labels() -> None:
    docs = template({"defaultProcessMonitor.enabled": "true", "peering.enabled": "true"})
    for doc in docs:
        labels = doc["metadata"]["labels"]
        for key in ("helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance",
                    "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of"):
            assert key in labels, f"{doc['kind']} {doc['metadata']['name']} lacks label {key}"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == f"process-monitor-{CHART_META['version']}"


def test_operator_deployment_single_recreate_and_selector_is_name_and_instance() -> None:
    dep = one(template(), "Deployment")
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    assert dep["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "process-monitor",
                                                      "app.kubernetes.io/instance": "pm"}
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_operator_args_images_and_probe() -> None:
    dep = one(template(), "Deployment")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    app = CHART_META["appVersion"]
    assert container["image"] == f"ghcr.io/process-monitor/process-monitor-operator:{app}"
    args = container["args"]
    assert f"--agent-image=ghcr.io/process-monitor/process-monitor-agent:{app}" in args
    assert not [a for a in args if a.startswith(("--peering", "--namespace"))], args  # standalone, all namespaces
    assert "command" not in container  # the image's ENTRYPOINT
    probe = container["livenessProbe"]
    assert probe["httpGet"] == {"path": "/healthz", "port": "http-probe"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert f"--liveness-address=0.0.0.0:{ports['http-probe']}" in args
    assert f"--metrics-address=0.0.0.0:{ports['http-metrics']}" in args


def test_image_digest_and_namespaces_reach_the_args() -> None:
    digest = "sha256:" + "a" * 64
    dep = one(template({"image.tag": "1.2.3", "image.digest": digest, "agentImage.tag": "9.9.9",
                        "watchNamespaces": "{team-a,team-b}"}), "Deployment")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ghcr.io/process-monitor/process-monitor-operator:1.2.3@{digest}"
    assert "--agent-image=ghcr.io/process-monitor/process-monitor-agent:9.9.9" in container["args"]
    assert "--namespace=team-a" in container["args"] and "--namespace=team-b" in container["args"]


def test_operator_pod_meets_pod_security_restricted() -> None:
    # The rules of the `restricted` profile (kubernetes.io/docs/concepts/security/pod-security-standards).
    pod = one(template(), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostPID") and not pod.get("hostNetwork") and not pod.get("hostIPC")
    assert all("hostPath" not in v for v in pod.get("volumes", []))
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True
        assert not sc.get("privileged")
        assert all("hostPort" not in p for p in container.get("ports", []))


def test_replicas_without_peering_are_refused() -> None:
    proc = helm("template", "pm", str(CHART), "--kube-version", kube_version(), "--set", "replicaCount=2", check=False)
    assert proc.returncode != 0 and "peering.enabled" in proc.stderr, proc.stderr


def test_peering_runs_several_replicas_with_a_peering_object() -> None:
    docs = template({"peering.enabled": "true", "replicaCount": "3", "peering.name": "pm-peers"})
    dep = one(docs, "Deployment")
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert "--peering=pm-peers" in container["args"]
    # Each replica draws its own kopf priority (equal priorities make every peer pause).
    assert container["command"][:2] == ["/bin/sh", "-c"] and "--priority=" in container["command"][2]
    assert '"$@"' in container["command"][2]
    peering = one(docs, "ClusterKopfPeering")
    assert peering["apiVersion"] == "kopf.dev/v1" and peering["metadata"]["name"] == "pm-peers"
    crds = list(yaml.safe_load_all((CHART / "crds" / "kopf-peering.yaml").read_text()))
    assert {c["metadata"]["name"] for c in crds} == {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}


def _operator_role(docs: list[dict]) -> dict:
    roles = [d for d in by_kind(docs, "ClusterRole") if not d["metadata"]["name"].endswith(("-edit", "-view"))]
    assert len(roles) == 1
    return roles[0]


def test_clusterrole_grants_exactly_what_the_operator_states() -> None:
    stated = rule_triples(rbac_rules.RULES)
    with_peering = rule_triples(_operator_role(template({"peering.enabled": "true"}))["rules"])
    assert with_peering == stated, f"extra: {with_peering - stated}, missing: {stated - with_peering}"
    # Without peering the kopf.dev grants are left out, and nothing else changes.
    standalone = rule_triples(_operator_role(template())["rules"])
    assert standalone == {t for t in stated if t[0] != "kopf.dev"}
    assert not any(v in ("*", "escalate", "bind", "impersonate") for _, _, v in stated | with_peering)
    assert not any(r == "secrets" for _, r, _ in with_peering), "the operator must not read Secrets"


def test_clusterrolebinding_binds_the_service_account() -> None:
    docs = template(namespace="ops")
    binding = one(docs, "ClusterRoleBinding")
    sa = one(docs, "ServiceAccount")
    assert binding["roleRef"]["name"] == _operator_role(docs)["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "ops"}]
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"]


def test_aggregated_roles_reach_admin_edit_view() -> None:
    docs = template()
    edit = one(docs, "ClusterRole", "-edit")
    view = one(docs, "ClusterRole", "-view")
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert "create" not in {v for _, _, v in rule_triples(view["rules"])}
    assert len(by_kind(template({"rbac.aggregateToDefaultRoles": "false"}), "ClusterRole")) == 1


def test_chart_crd_is_identical_to_the_canonical_one() -> None:
    canonical = ROOT / "crds" / "processmonitor.yaml"
    copy = CHART / "crds" / "processmonitor.yaml"
    assert copy.read_bytes() == canonical.read_bytes(), "chart CRD differs from crds/: run `make sync-crds`"


def test_default_processmonitor_is_the_seed_catch_all() -> None:
    docs = template({"defaultProcessMonitor.enabled": "true"}, namespace="pm-system")
    pm = one(docs, "ProcessMonitor")
    assert pm["apiVersion"] == "monitoring.process-monitor.dev/v1alpha1"
    assert pm["metadata"]["namespace"] == "pm-system"
    example = yaml.safe_load((ROOT / "examples" / "catch-all.yaml").read_text())
    assert pm["spec"] == example["spec"] == {"processNames": [{"name": "{{.Comm}}", "cmdline": [".+"]}]}
    other = one(template({"defaultProcessMonitor.enabled": "true", "defaultProcessMonitor.namespace": "monitoring"}),
                "ProcessMonitor")
    assert other["metadata"]["namespace"] == "monitoring"


def test_helm_test_hook_checks_healthz() -> None:
    docs = template()
    pod = one(docs, "Pod")
    annotations = pod["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "test"
    assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
    script = pod["spec"]["containers"][0]["command"][-1]
    svc = one(docs, "Service")
    probe_port = {p["name"]: p["port"] for p in svc["spec"]["ports"]}["http-probe"]
    assert f"http://{svc['metadata']['name']}.pm-system.svc:{probe_port}/healthz" in script
    assert not by_kind(template({"tests.enabled": "false"}), "Pod")


def test_servicemonitor_for_the_operator_carries_extra_labels() -> None:
    docs = template({"metrics.serviceMonitor.enabled": "true",
                     "metrics.serviceMonitor.labels.release": "kube-prometheus-stack"})
    sm = one(docs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["endpoints"][0]["port"] == "http-metrics"
    svc_ports = {p["name"] for p in one(docs, "Service")["spec"]["ports"]}
    assert "http-metrics" in svc_ports


@pytest.mark.parametrize("path", sorted((CHART / "templates").rglob("*.yaml")), ids=lambda p: p.name)
def test_every_template_is_rendered_by_some_values(path: pathlib.Path) -> None:
    # Guards against a template that no value combination ever renders (and so is never checked).
    rel = path.relative_to(CHART).as_posix()
    proc = helm("template", "pm", str(CHART), "--kube-version", kube_version(), "--show-only", rel,
                "--set", "defaultProcessMonitor.enabled=true",
                "--set", "peering.enabled=true", "--set", "metrics.serviceMonitor.enabled=true")
    assert [d for d in yaml.safe_load_all(proc.stdout) if d], f"{rel} renders nothing"
