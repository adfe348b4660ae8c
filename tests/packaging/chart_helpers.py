"""Helpers for the chart tests: run the real helm (from the Go-built tool cache) and parse what it renders.

Used by tests/packaging/test_chart.py and test_chart_cluster.py.
"""

from __future__ import annotations

import copy
import functools
import pathlib
import subprocess
from collections.abc import Sequence
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "process-monitor"


def helm_binary() -> str:
    from localcluster import tools  # the project's pinned helm (tools/versions.env)

    return str(tools.binary("helm"))


def kube_version() -> str:
    """The local control plane's Kubernetes version (tools/versions.env), for helm's offline commands.

    `helm template` and `helm lint` assume the Kubernetes version compiled into helm; a helm built with plain
    `go build` (no Makefile ldflags) assumes v1.20, older than the chart's kubeVersion. Pass ours explicitly.
    """
    from localcluster import tools

    return tools.versions()["KUBERNETES_VERSION"]


def helm(*args: str, kubeconfig: str | None = None, check: bool = True,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [helm_binary(), *args]
    if kubeconfig:
        argv += ["--kubeconfig", kubeconfig]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def set_args(values: dict[str, str] | None) -> list[str]:
    out: list[str] = []
    for key, value in (values or {}).items():
        out += ["--set", f"{key}={value}"]
    return out


def template(values: dict[str, str] | None = None, extra: Sequence[str] = (),
             release: str = "pm", namespace: str = "pm-system") -> list[dict[str, Any]]:
    """`helm template` of the chart -> list of manifests (empty documents dropped; a fresh copy per call)."""
    return copy.deepcopy(_template(tuple(sorted((values or {}).items())), tuple(extra), release, namespace))


@functools.cache
def _template(values: tuple[tuple[str, str], ...], extra: tuple[str, ...], release: str,
              namespace: str) -> list[dict[str, Any]]:
    # Memoized: many tests look at the same rendering, and each helm run costs CPU on a shared machine.
    proc = helm("template", release, str(CHART), "--namespace", namespace, "--kube-version", kube_version(),
                *set_args(dict(values)), *extra)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} named *{name_suffix}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def rule_triples(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """RBAC rules -> {(apiGroup, resource, verb)}, so two ways of grouping the same grants compare equal."""
    return {(g, r, v) for rule in rules for g in rule.get("apiGroups", []) for r in rule.get("resources", [])
            for v in rule.get("verbs", [])}
