"""What the operator's and the agent's ServiceAccounts may do, asked of the real API server (marker `cluster`).

The chart is installed on the local control plane (with its defaults, and with peering on, which adds the kopf.dev
grants); the agent's ServiceAccount is the one `process-monitor render` makes (exactly what the operator applies),
applied with the rest of the ProcessMonitor's core children. Then, impersonating each ServiceAccount:
- `kubectl auth can-i --list` shows exactly what every authenticated identity may do (measured on a fresh
  ServiceAccount with no bindings, and pinned below) plus, for the operator, exactly the rules of
  operator/process_monitor_operator/rbac_rules.py, the one place the operator's permissions are listed;
- one SubjectAccessReview per resource and verb, over every resource those rules name and the sensitive ones
  (secrets, pods/exec, RBAC, nodes, webhooks, tokens, ...), cluster-wide and in the namespace: allowed exactly
  where the rules say, for the agent nowhere;
- `kubectl auth can-i` for the denials that matter most, as an operator of the cluster would ask.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from chart_helpers import CHART, ROOT
from localcluster.pytest_plugin import wait_for
from process_monitor_operator import rbac_rules

Triple = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
# Resources the operator must never touch (beyond those rbac_rules names), as (apiGroup, resource[/subresource]).
SENSITIVE: tuple[tuple[str, str], ...] = (
    ("", "secrets"), ("", "pods"), ("", "pods/exec"), ("", "pods/attach"), ("", "pods/portforward"),
    ("", "pods/log"), ("", "nodes"), ("", "nodes/proxy"), ("", "serviceaccounts/token"), ("", "persistentvolumes"),
    ("", "endpoints"), ("apps", "deployments"), ("apps", "statefulsets"), ("batch", "jobs"),
    ("rbac.authorization.k8s.io", "clusterroles"), ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("certificates.k8s.io", "certificatesigningrequests/approval"), ("coordination.k8s.io", "leases"),
    ("networking.k8s.io", "networkpolicies"),
)
# Verbs that escalate rather than read or write; asked on the RBAC and identity resources.
ESCALATING: tuple[Triple, ...] = (
    ("rbac.authorization.k8s.io", "clusterroles", "escalate"), ("rbac.authorization.k8s.io", "clusterroles", "bind"),
    ("rbac.authorization.k8s.io", "roles", "bind"), ("", "users", "impersonate"), ("", "groups", "impersonate"),
    ("", "serviceaccounts", "impersonate"),
)
# What any authenticated identity may do in a stock cluster (system:basic-user): ask about itself.
BASELINE_RESOURCES = {
    ("authentication.k8s.io", "selfsubjectreviews"): {"create"},
    ("authorization.k8s.io", "selfsubjectaccessreviews"): {"create"},
    ("authorization.k8s.io", "selfsubjectrulesreviews"): {"create"},
}


def _triples(rules: list[dict[str, Any]]) -> set[Triple]:
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def _expected(peering: bool) -> set[Triple]:
    """The operator's grants: rbac_rules.RULES; the chart leaves the kopf.dev rule out unless peering is on."""
    return {t for t in _triples(rbac_rules.RULES) if peering or t[0] != "kopf.dev"}


def _matrix(triples: set[Triple]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for g, r, v in triples:
        out.setdefault((g, r), set()).add(v)
    return out


def _sa(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def _can_i_list(kube_cluster: Any, user: str, namespace: str) -> tuple[dict[tuple[str, str], set[str]], set[str]]:
    """`kubectl auth can-i --list --as USER -n NS` -> ({(group, resource): verbs}, verbs on non-resource URLs).

    The table's columns are found from its header; a resource prints as `resource.group` (core: no group), a
    subresource as `resource/sub.group`; rows with Resource Names would grant on single objects and must not exist.
    """
    out = kube_cluster.kubectl("auth", "can-i", "--list", "--as", user, "-n", namespace).stdout
    lines = [ln for ln in out.splitlines() if ln.strip()]
    header = lines[0]
    starts = [header.index(col) for col in ("Resources", "Non-Resource URLs", "Resource Names", "Verbs")]
    resources: dict[tuple[str, str], set[str]] = {}
    url_verbs: set[str] = set()
    for line in lines[1:]:
        res, urls, names, verbs = (line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True))
        verb_set = set(verbs.strip("[]").split())
        assert names == "[]", f"{user} has a grant on named objects: {line}"
        if res:
            resource, _, group = res.partition(".")
            if "/" in group:  # `resource.group/sub` spelling
                group, _, sub = group.partition("/")
                resource = f"{resource}/{sub}"
            resources.setdefault((group, resource), set()).update(verb_set)
        else:
            assert urls.startswith("["), line
            url_verbs |= verb_set
    return resources, url_verbs


def _access_reviews(kube_cluster: Any, user: str, namespace: str, triples: list[Triple],
                    where: str) -> dict[Triple, bool]:
    """One SubjectAccessReview per triple (in one `kubectl create`): the authorizer's own answer for each."""
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}", "system:authenticated"]
    items = []
    for group, resource, verb in triples:
        base, _, sub = resource.partition("/")
        attrs = {"group": group, "resource": base, "verb": verb, "namespace": where}
        if sub:
            attrs["subresource"] = sub
        items.append({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                      "spec": {"user": user, "groups": groups, "resourceAttributes": attrs}})
    doc = {"apiVersion": "v1", "kind": "List", "items": items}
    out = kube_cluster.kubectl("create", "-o", "json", "-f", "-", input=json.dumps(doc), timeout=120).stdout
    answers: dict[Triple, bool] = {}
    decoder, pos = json.JSONDecoder(), 0
    while pos < len(out.rstrip()):  # kubectl prints one JSON object per created review
        obj, end = decoder.raw_decode(out, pos)
        pos = end + (len(out[end:]) - len(out[end:].lstrip()))
        for review in obj["items"] if obj.get("kind") == "List" else [obj]:
            a = review["spec"]["resourceAttributes"]
            resource = a["resource"] + (f"/{a['subresource']}" if a.get("subresource") else "")
            answers[(a.get("group", ""), resource, a["verb"])] = bool(review["status"].get("allowed"))
    assert set(answers) == set(triples), set(triples) ^ set(answers)
    return answers


def _grid(extra: set[Triple]) -> list[Triple]:
    """Every verb on every resource the rules name or the sensitive list holds, plus the escalating verbs."""
    resources = {(g, r) for g, r, _ in _triples(rbac_rules.RULES)} | set(SENSITIVE)
    return sorted({(g, r, v) for g, r in resources for v in VERBS} | set(ESCALATING) | extra)


@pytest.fixture(scope="module")
def baseline(kube_cluster: Any) -> tuple[dict[tuple[str, str], set[str]], set[str]]:
    """What a fresh ServiceAccount with no bindings may do (the floor every ServiceAccount shares)."""
    ns = f"rbac-baseline-{uuid.uuid4().hex[:6]}"
    kube_cluster.kubectl("create", "namespace", ns)
    try:
        kube_cluster.kubectl("create", "serviceaccount", "nobody", "-n", ns)
        return _can_i_list(kube_cluster, _sa(ns, "nobody"), ns)
    finally:
        kube_cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_a_serviceaccount_without_bindings_may_only_ask_about_itself(baseline: Any) -> None:
    resources, url_verbs = baseline
    assert resources == BASELINE_RESOURCES
    assert url_verbs == {"get"}, url_verbs


@pytest.fixture(params=[False, True], ids=["defaults", "peering"])
def operator_sa(request: pytest.FixtureRequest, kube_cluster: Any, namespace: str) -> Iterator[tuple[str, bool]]:
    peering = request.param
    release = f"pm-{uuid.uuid4().hex[:6]}"
    args = ["install", release, str(CHART), "--namespace", namespace, "--timeout", "2m"]
    if peering:
        args += ["--set", "peering.enabled=true", "--set", f"peering.name={release}-peers"]
    kube_cluster.helm(*args, timeout=180)
    user = _sa(namespace, f"{release}-process-monitor")
    try:
        # The authorizer learns of a new binding through a watch: wait until it grants one of the rules.
        wait_for("the operator's ClusterRoleBinding to reach the authorizer", lambda: kube_cluster.kubectl(
            "auth", "can-i", "patch", "daemonsets.apps", "--as", user, "-A", check=False).stdout.strip() == "yes", 30)
        yield user, peering
    finally:
        kube_cluster.helm("uninstall", release, "--namespace", namespace, "--wait", "--timeout", "2m", check=False,
                          timeout=180)


def test_operator_serviceaccount_may_do_exactly_what_rbac_rules_lists(kube_cluster: Any, namespace: str,
                                                                       baseline: Any,
                                                                       operator_sa: tuple[str, bool]) -> None:
    user, peering = operator_sa
    expected = _expected(peering)
    base_resources, base_urls = baseline
    for where in (namespace, "default"):  # a ClusterRoleBinding: the same everywhere
        resources, url_verbs = _can_i_list(kube_cluster, user, where)
        assert resources == {**_matrix(expected), **base_resources}, where
        assert url_verbs == base_urls
    grid = _grid(expected)
    for where in ("", namespace):
        answers = _access_reviews(kube_cluster, user, namespace, grid, where)
        wrong = {t: allowed for t, allowed in answers.items() if allowed != (t in expected)}
        assert not wrong, f"namespace {where!r}: allowed != rbac_rules.RULES for {wrong}"


def test_operator_serviceaccount_is_denied_what_matters(kube_cluster: Any, operator_sa: tuple[str, bool]) -> None:
    user, _ = operator_sa
    for args in (["get", "secrets"], ["list", "secrets"], ["create", "pods", "--subresource=exec"],
                 ["create", "pods"], ["create", "clusterroles.rbac.authorization.k8s.io"],
                 ["create", "clusterrolebindings.rbac.authorization.k8s.io"],
                 ["bind", "clusterroles.rbac.authorization.k8s.io"], ["impersonate", "serviceaccounts"],
                 ["delete", "nodes"], ["create", "serviceaccounts", "--subresource=token"]):
        out = kube_cluster.kubectl("auth", "can-i", *args, "--as", user, "-A", check=False)
        assert out.stdout.strip() == "no", f"{user} may {' '.join(args)}"
    # ...while the same command says yes to what it needs (the check above can tell the two apart).
    out = kube_cluster.kubectl("auth", "can-i", "patch", "daemonsets.apps", "--as", user, "-A", check=False)
    assert out.stdout.strip() == "yes"


def _rendered_core_children(namespace: str) -> tuple[str, str]:
    """`process-monitor render` of the catch-all example -> (YAML of its core children, agent ServiceAccount name)."""
    proc = subprocess.run([sys.executable, "-m", "process_monitor_operator.cli", "render", "-f",
                           str(ROOT / "examples" / "catch-all.yaml"), "-n", namespace], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    core = [d for d in docs if d["kind"] in ("ServiceAccount", "ConfigMap", "DaemonSet", "Service")]
    assert {d["kind"] for d in docs} - {d["kind"] for d in core} <= {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    for d in core:
        d["metadata"]["namespace"] = namespace
    (sa,) = [d["metadata"]["name"] for d in core if d["kind"] == "ServiceAccount"]
    return yaml.safe_dump_all(core), sa


def test_agent_serviceaccount_may_do_nothing(kube_cluster: Any, namespace: str, baseline: Any) -> None:
    manifests, sa_name = _rendered_core_children(namespace)
    kube_cluster.apply_yaml(manifests, namespace, server_side=True)
    user = _sa(namespace, sa_name)
    resources, url_verbs = _can_i_list(kube_cluster, user, namespace)
    assert (resources, url_verbs) == baseline, "the agent's ServiceAccount may do more than any ServiceAccount"
    grid = _grid(_triples(rbac_rules.RULES))
    for where in ("", namespace):
        allowed = [t for t, ok in _access_reviews(kube_cluster, user, namespace, grid, where).items() if ok]
        assert not allowed, f"the agent's ServiceAccount may {allowed} (namespace {where!r})"
    bindings = kube_cluster.get_json("rolebindings,clusterrolebindings", "-A")["items"]
    bound = [b["metadata"]["name"] for b in bindings for s in b.get("subjects") or []
             if s.get("kind") == "ServiceAccount" and s.get("name") == sa_name and s.get("namespace") == namespace]
    assert not bound, f"bindings name the agent's ServiceAccount: {bound}"
    for a in (["get", "configmaps"], ["list", "pods"], ["get", "secrets"], ["create", "events"]):
        out = kube_cluster.kubectl("auth", "can-i", *a, "--as", user, "-n", namespace, check=False)
        assert out.stdout.strip() == "no", f"the agent may {' '.join(a)}"
    sa = kube_cluster.get_json("serviceaccount", sa_name, "-n", namespace)
    assert sa.get("automountServiceAccountToken") is False
    assert re.fullmatch(r"pmon-[a-z0-9-]+", sa_name)
