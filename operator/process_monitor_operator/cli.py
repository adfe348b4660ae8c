"""`process-monitor`: the user CLI. `render -f FILE` prints every manifest the operator would apply.

The manifests come from the same `render_all` the operator calls. `-o json` prints each manifest as the exact bytes
the operator sends as its server-side-apply body (one per line); `-o yaml` (default) prints the same objects as
YAML for review. ownerReferences appear only when the input has `metadata.uid` (e.g. piped from
`kubectl get pmon NAME -o yaml`); a file from Git has none, and that is the only difference.
`render --rules` prints instead a plain Prometheus rules file (recording rules and `spec.alerts`) for a
Prometheus without prometheus-operator: the same rule groups the PrometheusRule child carries.
Invalid input prints a message naming the bad entry and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

import yaml

from . import constants as c
from . import rbac_rules
from .k8s.serialize import to_json_bytes, to_yaml
from .monitoring.dashboard import dashboard_json
from .monitoring.rules import rules_file_text, rules_file_text_from_groups
from .render import RenderOptions, kubernetes, render_all, skipped
from .render.options import OPTIONAL_APIS
from .spec import load
from .validation import validate

if TYPE_CHECKING:
    from collections.abc import Sequence


def _read_documents(path: str) -> list[dict[str, Any]]:
    if path == "-":
        text = sys.stdin.read()
    else:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    out: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            out.extend(doc.get("items") or [])
        else:
            out.append(doc)
    return out


def _render(args: argparse.Namespace) -> int:
    try:
        docs = _read_documents(args.file)
    except (OSError, yaml.YAMLError) as exc:
        print(f"process-monitor: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    missing = {f"monitoring.coreos.com/v1/{k}" for k in args.without or []}
    options = RenderOptions(agent_image=args.agent_image, available_apis=frozenset(OPTIONAL_APIS - missing))
    manifests: list[dict[str, Any]] = []
    rule_files: list[str] = []
    failed = False
    pms = [d for d in docs if isinstance(d, dict) and d.get("kind") == c.KIND]
    if not pms:
        print(f"process-monitor: no {c.KIND} found in {args.file}", file=sys.stderr)
        return 2
    for doc in pms:
        try:
            src = load(doc, default_namespace=args.namespace)
        except ValueError as exc:
            print(f"process-monitor: {args.file}: {exc}", file=sys.stderr)
            failed = True
            continue
        problems = validate(src)
        if problems:
            failed = True
            for problem in problems:
                print(f"process-monitor: {src.namespace}/{src.name}: {problem}", file=sys.stderr)
            continue
        if args.rules:
            rule_files.append(rules_file_text(src.spec.get("alerts"), src.name, src.namespace,
                                              kubernetes.labels_on(src)))
            continue
        for note in skipped(src, options):
            print(f"# {src.namespace}/{src.name}: {note}", file=sys.stderr)
        manifests.extend(render_all(src, options))
    if failed:
        return 2
    if args.rules:
        # One rules file for every ProcessMonitor in the input: their groups are concatenated.
        if len(rule_files) == 1:
            sys.stdout.write(rule_files[0])
        else:
            groups = [g for text in rule_files for g in yaml.safe_load(text)["groups"]]
            sys.stdout.write(rules_file_text_from_groups(groups))
        return 0
    if args.output == "json":
        for manifest in manifests:
            sys.stdout.buffer.write(to_json_bytes(manifest) + b"\n")
    else:
        sys.stdout.write(to_yaml(manifests))
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    sys.stdout.write(dashboard_json(gpu=args.gpu, kube_labels=args.kubernetes_labels))
    return 0


def _rbac(args: argparse.Namespace) -> int:
    sys.stdout.write(to_yaml([rbac_rules.cluster_role(args.name)]))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="process-monitor", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="print every manifest the operator would apply for a ProcessMonitor file")
    r.add_argument("-f", "--file", required=True, help="ProcessMonitor YAML file ('-' for stdin)")
    r.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml",
                   help="yaml (review) or json (the exact apply bodies, one per line)")
    r.add_argument("-n", "--namespace", default="default", help="namespace when the file has none")
    r.add_argument("--agent-image", default=c.DEFAULT_AGENT_IMAGE, help="default agent image (as the operator's flag)")
    r.add_argument("--rules", action="store_true",
                   help="print a plain Prometheus rules file (recording rules and spec.alerts) instead of manifests")
    r.add_argument("--without", action="append", choices=("ServiceMonitor", "PodMonitor", "PrometheusRule"),
                   help="render as if this prometheus-operator CRD were not installed (repeatable)")
    r.set_defaults(func=_render)
    d = sub.add_parser("dashboard", help="print the Grafana dashboard JSON (dashboards/process-monitor.json)")
    d.add_argument("--gpu", action="store_true",
                   help="with the GPU row (dashboards/process-monitor-gpu.json), as for spec.gpu.enabled")
    d.add_argument("--kubernetes-labels", action="store_true",
                   help="the variant for agents with -kubernetes.labels (namespace/pod/container variables)")
    d.set_defaults(func=_dashboard)
    b = sub.add_parser("rbac", help="print the ClusterRole the operator needs")
    b.add_argument("--name", default="process-monitor-operator")
    b.set_defaults(func=_rbac)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
