"""`python -m localcluster up|down|status`: the CLI behind `make cluster-up`, `cluster-down`, `cluster-status`.

    python -m localcluster up [--nodes N] [--state-dir DIR] [--timeout SECONDS]
    python -m localcluster down [--state-dir DIR]
    python -m localcluster status [--state-dir DIR]

The state directory defaults to `.cluster` in the current directory (the Makefile runs from the clone root).
Errors are printed as one clear message (exit code 1), never as a traceback.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from . import cluster, procs, tools


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m localcluster",
                                 description="local Kubernetes control plane on 127.0.0.1")
    sub = ap.add_subparsers(dest="command", required=True)
    for name, text in (("up", "start (or reuse) the cluster"), ("down", "stop the cluster"),
                       ("status", "show what is running")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--state-dir", type=pathlib.Path, default=pathlib.Path(".cluster"),
                       help="directory holding kubeconfig, certs, logs and PIDs (default: .cluster)")
        if name == "up":
            p.add_argument("--nodes", type=int, default=3, help="number of fake kwok nodes (default 3)")
            p.add_argument("--timeout", type=float, default=180.0, help="seconds allowed for each start step")
    return ap


def _up(args: argparse.Namespace) -> int:
    start = time.monotonic()

    def progress(msg: str) -> None:
        print(f"==> [{time.monotonic() - start:5.1f}s] {msg}", flush=True)

    c = cluster.up(cluster.Settings(args.state_dir, nodes=args.nodes, start_timeout=args.timeout), progress=progress)
    verb = "reused" if c.reused else "started"
    print(f"\nLocal control plane {verb} in {time.monotonic() - start:.1f}s: {len(c.nodes)} fake nodes Ready.")
    print(f"  server:     {c.server}")
    print(f"  kubeconfig: {c.kubeconfig}")
    print(f"  logs:       {c.log_dir}/")
    print(f"  tools:      {c.bin_dir}/ (kubectl, helm, ...)")
    print("Pods never really run here (kwok fakes them); pod and Service IPs are fiction, do not connect to them.\n")
    print(f"export KUBECONFIG={c.kubeconfig}")
    print(f"export PATH={c.bin_dir}:$PATH")
    print("\nStop it with: make cluster-down")
    return 0


def _down(args: argparse.Namespace) -> int:
    for line in cluster.down(args.state_dir):
        print(line)
    return 0


def _status(args: argparse.Namespace) -> int:
    st = cluster.status(args.state_dir)
    if not st["components"]:
        print(f"no local cluster in {st['state_dir']} (start one with: make cluster-up)")
        return 3
    print(f"cluster in {st['state_dir']}: {'RUNNING' if st['running'] else 'NOT RUNNING'}")
    print(f"  server:     {st['server']}")
    print(f"  kubeconfig: {st['kubeconfig']}")
    for name, text in st["components"].items():
        print(f"  {name:24} {text}")
    if st["nodes_ready"] is not None:
        print(f"  nodes Ready: {st['nodes_ready']} of {len(st['nodes'])} created")
    return 0 if st["running"] else 3


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"up": _up, "down": _down, "status": _status}[args.command]
    try:
        return handler(args)
    except (procs.SupervisionError, tools.ToolNotBuiltError, OSError) as err:
        print(f"localcluster {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"localcluster {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
