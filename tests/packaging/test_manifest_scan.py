"""checkov over everything the project deploys: zero findings that docs/security.md does not justify.

What is scanned (one checkov run, offline, over one directory of rendered YAML):
- `agent-full/`, `agent-restricted/`: `process-monitor render` of every ProcessMonitor example under examples/ and
  every renderer case under tests/operator/cases/, once with `spec.agent.securityMode: full` and once `restricted`;
- `chart/`: `helm template` of charts/process-monitor with its defaults and with the documented options
  (peering with two replicas, the ServiceMonitor, the default ProcessMonitor, watchNamespaces, images by digest,
  hostNetwork with the API server address for a cluster without a pod network);
- `canary/`: a deliberately bad DaemonSet, which must produce unjustified findings (proves the gate can fail).

checkov reports no severities offline (they come from its vendor's platform, which needs an API key and the
network), so the gate is stricter than "no high findings": every finding fails unless
tests/packaging/manifest_scan_allowlist.yaml lists its check ID and kind for that scanned set, and every entry there
must point at the section of docs/security.md that justifies it and must still be needed.
checkov runs from its own venv (tools/install-checkov.sh) with `--skip-download` and its update check off, so it
makes no network call (strace shows no inet connect); as root it also runs in a network namespace of its own.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml
from chart_helpers import CHART, ROOT, helm, kube_version

ALLOWLIST = pathlib.Path(__file__).with_name("manifest_scan_allowlist.yaml")
SECURITY_DOC = ROOT / "docs" / "security.md"
MODES = ("full", "restricted")
SETS = ("agent-full", "agent-restricted", "chart")
# `helm template` value sets: the defaults, and every option the README and values.yaml document as worth knowing.
CHART_VARIANTS: dict[str, list[str]] = {
    "defaults": [],
    "all-options": ["peering.enabled=true", "replicaCount=2", "metrics.serviceMonitor.enabled=true",
                    "defaultProcessMonitor.enabled=true", "watchNamespaces={team-a,team-b}"],
    "by-digest": ["image.digest=sha256:" + "a" * 64, "agentImage.digest=sha256:" + "b" * 64],
    # A cluster without a pod network (this repository's real node, tools/localcluster/realpods.py).
    "host-network": ["hostNetwork=true", "apiServer.host=127.0.0.1", "apiServer.port=6443", "image.pullPolicy=Never",
                     "nodeSelector.kubernetes\\.io/hostname=real-node-0"],
}
CANARY = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: canary, namespace: canary}
spec:
  selector: {matchLabels: {app: canary}}
  template:
    metadata: {labels: {app: canary}}
    spec:
      containers:
        - name: c
          image: example/canary:latest
          securityContext: {privileged: true, allowPrivilegeEscalation: true}
"""


@dataclasses.dataclass(frozen=True)
class Finding:
    check: str
    kind: str
    where: str  # the scanned set: agent-full, agent-restricted, chart or canary
    file: str
    resource: str
    name: str


def _pm_sources() -> list[pathlib.Path]:
    """Every YAML file under examples/ and tests/operator/cases/ that holds a ProcessMonitor."""
    paths = sorted((ROOT / "examples").rglob("*.yaml")) + sorted((ROOT / "tests/operator/cases").glob("*.yaml"))
    return [p for p in paths if any(isinstance(d, dict) and d.get("kind") == "ProcessMonitor"
                                    for d in yaml.safe_load_all(p.read_text()))]


def _in_mode(path: pathlib.Path, mode: str) -> str:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    out = []
    for doc in docs:
        doc = copy.deepcopy(doc)
        if isinstance(doc, dict) and doc.get("kind") == "ProcessMonitor":
            doc.setdefault("spec", {}).setdefault("agent", {})["securityMode"] = mode
        out.append(doc)
    return yaml.safe_dump_all(out, sort_keys=False)


def _render(path: pathlib.Path, mode: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "process_monitor_operator.cli", "render", "-f", "-",
                           "-n", "monitoring"], input=_in_mode(path, mode), capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, f"render {path} ({mode}): {proc.stderr}"
    return proc.stdout


def _checkov() -> str:
    from localcluster import tools

    try:
        return str(tools.binary("checkov"))
    except tools.ToolNotBuiltError:
        pytest.fail("checkov is not installed: run `make setup` (or tools/install-checkov.sh)", pytrace=False)


def _no_network() -> list[str]:
    """`unshare --net` where it works (root, as in CI): checkov then runs where no network exists at all."""
    unshare = shutil.which("unshare")
    if unshare and os.geteuid() == 0 and subprocess.run([unshare, "--net", "true"], capture_output=True,
                                                        timeout=30).returncode == 0:
        return [unshare, "--net"]
    return []


def _findings(report: Any) -> list[Finding]:
    out = []
    for block in report if isinstance(report, list) else [report]:
        for f in block["results"]["failed_checks"]:
            where = f["file_path"].strip("/").split("/")[0]
            out.append(Finding(f["check_id"], f["resource"].split(".")[0], where, f["file_path"], f["resource"],
                               f["check_name"]))
    return out


@dataclasses.dataclass(frozen=True)
class Scan:
    findings: list[Finding]
    scanned_files: set[str]  # file paths checkov reported any result for
    written_files: set[str]  # file paths this module wrote
    parsing_errors: int


def run_scan(root: pathlib.Path) -> Scan:
    """Write every scanned manifest under `root` and run checkov over it once."""
    written: set[str] = set()

    def put(rel: str, text: str) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        written.add("/" + rel)

    for path in _pm_sources():
        stem = "-".join(path.relative_to(ROOT).with_suffix("").parts)
        for mode in MODES:
            put(f"agent-{mode}/{stem}.yaml", _render(path, mode))
    for variant, sets in CHART_VARIANTS.items():
        args = [a for s in sets for a in ("--set", s)]
        put(f"chart/{variant}.yaml", helm("template", "pm", str(CHART), "--namespace", "pm-system",
                                          "--kube-version", kube_version(), *args).stdout)
    put("canary/daemonset.yaml", CANARY)
    # Offline: no guideline/policy download from the vendor's platform, no PyPI update check.
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    env.pop("BC_API_KEY", None)
    proc = subprocess.run([*_no_network(), _checkov(), "--directory", str(root), "--framework", "kubernetes",
                           "--skip-download", "--output", "json"], capture_output=True, text=True, timeout=300,
                          cwd=root, env=env)
    # Exit 1 means "some check failed" (the canary always does); anything else is checkov itself failing.
    assert proc.returncode in (0, 1), f"checkov failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    blocks = report if isinstance(report, list) else [report]
    scanned = {f["file_path"] for b in blocks for key in ("passed_checks", "failed_checks")
               for f in b["results"][key]}
    return Scan(_findings(report), scanned, written, sum(b["summary"]["parsing_errors"] for b in blocks))


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    return run_scan(tmp_path_factory.mktemp("manifest-scan"))


@functools.cache
def _allowlist() -> list[dict[str, Any]]:
    return yaml.safe_load(ALLOWLIST.read_text())


def _allowed(f: Finding) -> dict[str, Any] | None:
    return next((e for e in _allowlist() if e["check"] == f.check and e["kind"] == f.kind and f.where in e["where"]),
                None)


def _unjustified(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if _allowed(f) is None]


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _doc_sections() -> dict[str, str]:
    """docs/security.md: anchor -> text of that section (up to the next heading of any level)."""
    sections: dict[str, str] = {}
    current = None
    for line in SECURITY_DOC.read_text().splitlines():
        m = re.match(r"^#{1,6} (.+)$", line)
        if m:
            current = _slug(m[1])
            sections[current] = ""
        elif current:
            sections[current] += line + "\n"
    return sections


def _describe(findings: list[Finding]) -> str:
    return "\n".join(f"  {f.check} {f.kind} in {f.file} ({f.resource}): {f.name}" for f in findings)


def test_every_rendered_file_was_scanned(scan: Scan) -> None:
    assert scan.parsing_errors == 0
    assert scan.written_files == scan.scanned_files, scan.written_files ^ scan.scanned_files
    for where in (*SETS, "canary"):
        assert any(f.startswith(f"/{where}/") for f in scan.written_files), where


def test_no_finding_is_left_unjustified(scan: Scan) -> None:
    bad = _unjustified([f for f in scan.findings if f.where != "canary"])
    assert not bad, ("checkov findings not justified in docs/security.md (fix the renderer/chart, or justify them "
                     f"there and in {ALLOWLIST.name}):\n{_describe(bad)}")


def test_the_gate_fails_on_a_privileged_daemonset(scan: Scan) -> None:
    canary = {f.check for f in _unjustified([f for f in scan.findings if f.where == "canary"])}
    # privileged, allowPrivilegeEscalation, no resource limits, no probes, a :latest image
    assert {"CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_13", "CKV_K8S_8", "CKV_K8S_14"} <= canary, canary


def test_every_allowance_is_still_needed(scan: Scan) -> None:
    stale = [e for e in _allowlist() for where in e["where"]
             if not any(f.check == e["check"] and f.kind == e["kind"] and f.where == where for f in scan.findings)]
    assert not stale, f"allow-list entries that match no finding any more (remove them or narrow `where`): {stale}"


def test_every_allowance_points_at_its_justification() -> None:
    sections = _doc_sections()
    keys = [(e["check"], e["kind"]) for e in _allowlist()]
    assert len(keys) == len(set(keys)), "one entry per check ID and kind"
    for entry in _allowlist():
        assert set(entry) == {"check", "kind", "where", "doc"}, entry
        assert entry["where"] and set(entry["where"]) <= set(SETS), entry
        doc, _, anchor = entry["doc"].partition("#")
        assert doc == "docs/security.md" and anchor in sections, f"{entry}: no section #{anchor} in {doc}"
        assert entry["check"] in sections[anchor], f"docs/security.md#{anchor} does not mention {entry['check']}"


def test_restricted_agents_run_as_non_root_without_capabilities(scan: Scan) -> None:
    # What `restricted` buys: the root, UID and capability findings of `full` are all absent.
    full = {f.check for f in scan.findings if f.where == "agent-full"}
    restricted = {f.check for f in scan.findings if f.where == "agent-restricted"}
    assert {"CKV_K8S_23", "CKV_K8S_25", "CKV_K8S_40"} <= full - restricted, (full, restricted)


def test_images_pinned_by_digest_pass_the_digest_check(scan: Scan) -> None:
    digest = [f for f in scan.findings if f.file == "/chart/by-digest.yaml" and f.check == "CKV_K8S_43"]
    tagged = [f for f in scan.findings if f.file == "/chart/defaults.yaml" and f.check == "CKV_K8S_43"]
    assert tagged and not digest, _describe(digest)
