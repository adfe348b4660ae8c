"""`python -m localcluster up|down|status`: the CLI behind `make cluster-up`, `cluster-down`, `cluster-status`.

    python -m localcluster up [--nodes N] [--real-nodes 0|1] [--state-dir DIR] [--timeout SECONDS]
    python -m localcluster down [--state-dir DIR]
    python -m localcluster status [--state-dir DIR]
    python -m localcluster images [--state-dir DIR] [--no-import]

The state directory defaults to `.cluster` in the current directory (the Makefile runs from the clone root).
Errors are printed as one clear message (exit code 1), never as a traceback.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from . import cluster, images, procs, tools


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m localcluster",
                                 description="local Kubernetes control plane on 127.0.0.1")
    sub = ap.add_subparsers(dest="command", required=True)
    for name, text in (("up", "start (or reuse) the cluster"), ("down", "stop the cluster"),
                       ("status", "show what is running"),
                       ("images", "build the agent and operator images and load them into the real node")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--state-dir", type=pathlib.Path, default=pathlib.Path(".cluster"),
                       help="directory holding kubeconfig, certs, logs and PIDs (default: .cluster)")
        if name == "images":
            p.add_argument("--no-import", action="store_true",
                           help="only build; do not load the images into the real node's containerd")
        if name == "up":
            p.add_argument("--nodes", type=int, default=3, help="number of fake kwok nodes (default 3)")
            p.add_argument("--real-nodes", type=int, default=0, choices=(0, 1),
                           help="1: also a real kubelet + containerd node, real-node-0 (default 0)")
            p.add_argument("--timeout", type=float, default=180.0, help="seconds allowed for each start step")
    return ap


def _up(args: argparse.Namespace) -> int:
    start = time.monotonic()

    def progress(msg: str) -> None:
        print(f"==> [{time.monotonic() - start:5.1f}s] {msg}", flush=True)

    c = cluster.up(cluster.Settings(args.state_dir, nodes=args.nodes, real_nodes=args.real_nodes,
                                    start_timeout=args.timeout), progress=progress)
    verb = "reused" if c.reused else "started"
    real = f" and the real node {c.real_node}" if c.real_node else ""
    print(f"\nLocal control plane {verb} in {time.monotonic() - start:.1f}s: {len(c.nodes)} fake nodes{real} Ready.")
    if c.real_node_skipped:
        print(f"  real node:  skipped: {c.real_node_skipped}")
    print(f"  server:     {c.server}")
    print(f"  kubeconfig: {c.kubeconfig}")
    print(f"  logs:       {c.log_dir}/")
    print(f"  tools:      {c.bin_dir}/ (kubectl, helm, ...)")
    if c.real_node:
        print(f"Pods on {c.real_node} really run (hostNetwork only, reach them at 127.0.0.1); pods on kwok nodes are")
        print("fiction. Pod and Service IPs are fiction too: never connect to them. Images: make images\n")
    else:
        print("Pods never really run here (kwok fakes them); pod and Service IPs are fiction, do not connect to "
              "them.\n")
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
        print(f"  nodes Ready: {st['nodes_ready']} of {len(st['nodes']) + (1 if st['real_node'] else 0)} created")
    if st["real_node"]:
        print(f"  real node:  {st['real_node']} (runtime {st['real_node_runtime'] or 'unknown'})")
    elif st["real_node_skipped"]:
        print(f"  real node:  skipped: {st['real_node_skipped']}")
    return 0 if st["running"] else 3


def _images(args: argparse.Namespace) -> int:
    start = time.monotonic()

    def progress(msg: str) -> None:
        print(f"==> [{time.monotonic() - start:5.1f}s] {msg}", flush=True)

    built = images.build(progress=progress)
    if built.builder == "docker":
        print(f"built with docker in {time.monotonic() - start:.0f}s: {', '.join(images.APP_IMAGES)}")
        return 0
    for name, archive in built.archives.items():
        print(f"  {name:42} {archive} ({archive.stat().st_size / 1e6:.0f} MB)")
    for name, image_id in built.ids.items():
        print(f"  {name:42} image ID {image_id[:19]}")
    ctr = cluster.real_node_ctr(args.state_dir)
    if args.no_import or ctr is None:
        print("not loaded into a node: " + ("--no-import" if args.no_import else
              f"no real node runs in {args.state_dir} (make cluster-up REAL_NODES=1)"))
        return 0
    for name, archive in built.archives.items():
        images.import_archive(ctr, archive, name)
    print(f"loaded into the real node's containerd in {time.monotonic() - start:.0f}s in all "
          "(use imagePullPolicy: Never or IfNotPresent)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"up": _up, "down": _down, "status": _status, "images": _images}[args.command]
    try:
        return handler(args)
    except (procs.SupervisionError, images.ImageError, tools.ToolNotBuiltError, OSError) as err:
        print(f"localcluster {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"localcluster {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
