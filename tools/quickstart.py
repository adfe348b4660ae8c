"""`make quickstart`: the whole product on real pods on one machine, with progress output.

Called by the Makefile (`make quickstart` runs `make setup` first, then `python3 tools/quickstart.py up`;
`make quickstart-down` runs `... down`). Steps of `up`:

1. start the local control plane with 2 kwok nodes and the real node real-node-0 (kubelet + containerd + runc,
   `make cluster-up REAL_NODES=1`) unless it already runs;
2. build the agent and operator images (buildah from our Dockerfiles, or docker where an engine answers; cached)
   and load them into the real node (`make images`);
3. `helm upgrade --install` the chart: the operator Deployment runs on real-node-0 from the operator image, with its
   own ServiceAccount and RBAC, hostNetwork and the API server at 127.0.0.1 (no pod network here);
4. apply examples/namespace.yaml, examples/local/processmonitor.yaml (catch-all, agent on the node's network) and
   examples/local/demo-workload.yaml (a pod running two `demo-worker` processes);
5. wait for the agent pod on real-node-0 and the ProcessMonitor's Ready condition;
6. print `kubectl get pmon` and metric lines read from that agent at 127.0.0.1, the pod's processes among them.

Every wait is bounded; all traffic stays on 127.0.0.1. `down` uninstalls the release and stops the control plane and
the real node (every container, mount and cgroup it made).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import yaml
from harness import exposition  # tools/ is this script's directory, first on sys.path
from harness.wait import WaitTimeout
from harness.wait import wait_for as _wait_for
from localcluster import images, realpods
from localcluster.ports import port_free

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATE = ROOT / ".cluster"
QS = STATE / "quickstart"
KUBECONFIG = STATE / "kubeconfig"
RELEASE = "process-monitor"
RELEASE_NS = "process-monitor"
PM_NS = "monitoring"
PM_NAME = "all-processes"
PARENT_LABEL = realpods.PARENT_LABEL
REAL_NODE = realpods.NODE_NAME
AGENT_PORT = 9256
STEPS = 6
IMAGE_ANNOTATION = "process-monitor.dev/image-id"
T = TypeVar("T")


class QuickstartError(RuntimeError):
    """A step failed; the message says which and where its log is."""


def say(step: str, text: str) -> None:
    print(f"==> [{step}] {text}", flush=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["KUBECONFIG"] = str(KUBECONFIG)
    # Run this checkout's sources, whatever is pip-installed.
    src = [str(ROOT / "agent"), str(ROOT / "operator"), str(ROOT / "tools")]
    env["PYTHONPATH"] = os.pathsep.join(src + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _tool(name: str) -> str:
    sys.path.insert(0, str(ROOT / "tools"))
    from localcluster import tools  # the Go-built tool cache (tools/versions.env)

    return str(tools.binary(name))


def stream(argv: Sequence[str], *, timeout: float) -> None:
    """Run a long step with its own progress output going straight to the terminal."""
    try:
        code = subprocess.run(list(argv), env=_env(), cwd=ROOT, timeout=timeout).returncode
    except subprocess.TimeoutExpired as exc:
        raise QuickstartError(f"timed out after {timeout:.0f}s: {' '.join(argv)}") from exc
    if code != 0:
        raise QuickstartError(f"failed ({code}): {' '.join(argv)}")


def run(argv: Sequence[str], *, timeout: float = 120, check: bool = True, quiet: bool = False,
        input_text: str | None = None) -> str:
    """Run a command with the quickstart's KUBECONFIG; return stdout, raise QuickstartError on failure."""
    try:
        proc = subprocess.run(list(argv), env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              input=input_text)
    except subprocess.TimeoutExpired as exc:
        raise QuickstartError(f"timed out after {timeout:.0f}s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        raise QuickstartError(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    if not quiet and proc.stdout.strip():
        print(proc.stdout.rstrip(), flush=True)
    return proc.stdout


def kubectl(*args: str, timeout: float = 60, check: bool = True, quiet: bool = False) -> str:
    return run([_tool("kubectl"), *args], timeout=timeout, check=check, quiet=quiet)



def api_answers() -> bool:
    if not KUBECONFIG.exists():
        return False
    try:
        kubectl("get", "--raw", "/readyz", timeout=10, quiet=True)
    except QuickstartError:
        return False
    return True


def wait_for(what: str, probe: Callable[[], T], timeout: float, interval: float = 1.0) -> T:
    """harness.wait.wait_for, failing the step with a QuickstartError that names `what` and the last value."""
    try:
        return _wait_for(what, probe, timeout, interval)
    except WaitTimeout as exc:
        raise QuickstartError(str(exc)) from None


def metric_lines(text: str, names: Sequence[str], limit: int, contains: str = "") -> list[str]:
    """The first `limit` samples of the named metrics (whose series contains `contains`), largest values first,
    each as `name{labels} value`."""
    samples = sorted((s for s in exposition.parse(text) if s.name in names and contains in exposition.key(s)),
                     key=lambda s: -s.value)
    return [f"{exposition.key(s)} {s.value:.15g}" for s in samples[:limit]]


def step(n: int, text: str) -> None:
    say(f"{n}/{STEPS}", text)


def image_id(name: str) -> str:
    """The ID of a locally built image in buildah's cache ('' when Docker built it: then the tag alone decides)."""
    return images.Buildah.in_cache(images.cache_dir()).image_id(name) or ""


def kubectl_proc(*args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """kubectl as localcluster.realpods expects it (a CompletedProcess)."""
    return subprocess.run([_tool("kubectl"), *args], env=_env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=check)


def up() -> None:
    started = time.monotonic()
    QS.mkdir(parents=True, exist_ok=True)

    step(1, f"local control plane on 127.0.0.1: 2 kwok nodes and the real node {REAL_NODE} (kubelet + containerd)")
    stream(["make", "--no-print-directory", "cluster-up", "NODES=2", "REAL_NODES=1"], timeout=600)
    wait_for("the API server", api_answers, timeout=60)
    nodes = kubectl("get", "nodes", "-o", "wide")
    if REAL_NODE not in nodes:
        raise QuickstartError(f"the quick start runs on real pods, but {REAL_NODE} did not start (its one-line reason "
                              "is above; `make cluster-status` shows it again)")

    step(2, "images: agent and operator from Dockerfile.agent/Dockerfile.operator, loaded into the real node")
    stream(["make", "--no-print-directory", "images"], timeout=1500)
    # The tags stay `dev`; the image IDs go into pod annotations, so a rebuilt image rolls its pods (and an unchanged
    # one does not).
    ids = {name: image_id(name) for name in (images.OPERATOR_IMAGE, images.AGENT_IMAGE)}

    server = yaml.safe_load(KUBECONFIG.read_text())["clusters"][0]["cluster"]["server"]
    values = QS / "values.yaml"
    # The probe and metrics ports open on the host (hostNetwork): fixed ones that local services are unlikely to hold.
    chart = realpods.chart_values(server, probe_port=18080, metrics_port=18081)
    chart["podAnnotations"] = {IMAGE_ANNOTATION: ids[images.OPERATOR_IMAGE]}
    values.write_text(yaml.safe_dump(chart, sort_keys=False))
    step(3, f"helm upgrade --install {RELEASE} charts/process-monitor -n {RELEASE_NS} -f {values.relative_to(ROOT)}")
    kubectl("create", "namespace", RELEASE_NS, check=False, quiet=True)
    # The operator pod uses hostNetwork here (no pod network), which Pod Security baseline/restricted forbid.
    kubectl("label", "--overwrite", "namespace", RELEASE_NS, "pod-security.kubernetes.io/enforce=privileged",
            quiet=True)
    run([_tool("helm"), "upgrade", "--install", RELEASE, "charts/process-monitor", "--namespace", RELEASE_NS,
         "-f", str(values), "--wait", "--timeout", "4m"], timeout=300, quiet=True)
    operator = wait_for("the operator pod Ready on the real node", lambda: [
        p for p in realpods.pods_on_real_node(kubectl_proc, RELEASE_NS, realpods.OPERATOR_SELECTOR)
        if realpods.pod_ready(p)], 120)
    kubectl("-n", RELEASE_NS, "get", "pods", "-o", "wide")
    say("3/6", f"operator pod {operator[0]['metadata']['name']} runs on {REAL_NODE} as its ServiceAccount "
        f"{operator[0]['spec']['serviceAccountName']}")

    port = AGENT_PORT
    step(4, f"apply examples/namespace.yaml, examples/local/processmonitor.yaml (agent on 127.0.0.1:{port}) and "
            "examples/local/demo-workload.yaml")
    kubectl("apply", "-f", "examples/namespace.yaml")
    pmon = yaml.safe_load((ROOT / "examples/local/processmonitor.yaml").read_text())
    existing = kubectl("-n", PM_NS, "get", "pmon", PM_NAME, "-o", "jsonpath={.spec.agent.port}", check=False,
                       quiet=True).strip()
    if existing:
        port = int(existing)  # a re-run keeps the port its agents already listen on
    elif not port_free(port, "0.0.0.0"):
        raise QuickstartError(f"127.0.0.1:{port} is in use on this host (the agent listens there with hostNetwork); "
                              "stop what holds it, or edit examples/local/processmonitor.yaml's spec.agent.port")
    pmon["spec"]["agent"]["port"] = port
    pmon["spec"]["agent"]["podAnnotations"] = {IMAGE_ANNOTATION: ids[images.AGENT_IMAGE]}
    run([_tool("kubectl"), "apply", "-n", PM_NS, "-f", "-"], input_text=yaml.safe_dump(pmon))
    kubectl("apply", "-n", PM_NS, "-f", "examples/local/demo-workload.yaml")

    step(5, f"waiting for the agent pod on {REAL_NODE} and the ProcessMonitor's status")
    agent_pods = wait_for(f"the agent pod Ready on {REAL_NODE}", lambda: [
        p for p in realpods.pods_on_real_node(kubectl_proc, PM_NS, f"{PARENT_LABEL}={PM_NAME}")
        if realpods.pod_ready(p)], 180)

    def status_ready() -> str:
        out = kubectl("-n", PM_NS, "get", "pmon", PM_NAME, "-o",
                      'jsonpath={.status.conditions[?(@.type=="Ready")].status}', check=False, quiet=True)
        return out if out == "True" else ""

    wait_for(f"ProcessMonitor {PM_NAME} Ready=True", status_ready, timeout=180)

    def scrape() -> str:
        body = realpods.scrape(port, timeout=5)
        return body if 'groupname="demo-worker"' in body else ""

    body = wait_for("the demo pod's processes in the agent's metrics", scrape, timeout=120)

    step(6, "result")
    kubectl("get", "pmon", "-A")
    kubectl("-n", PM_NS, "get", "pods", "-o", "wide")
    groups = len(exposition.groups(exposition.parse(body)))
    print(f"{groups} process groups on {REAL_NODE}, read from its agent pod at http://127.0.0.1:{port}/metrics.",
          flush=True)
    print("The demo pod's processes:", flush=True)
    for line in metric_lines(body, ["namedprocess_namegroup_num_procs"], 1, contains='groupname="demo-worker"'):
        print("  " + line)
    for line in metric_lines(body, ["namedprocess_namegroup_memory_bytes"], 1,
                             contains='groupname="demo-worker",memtype="resident"'):
        print("  " + line)
    print("The busiest groups by process count, CPU and memory:", flush=True)
    for line in metric_lines(body, ["namedprocess_namegroup_num_procs"], 4):
        print("  " + line)
    for line in metric_lines(body, ["namedprocess_namegroup_cpu_seconds_total"], 3):
        print("  " + line)
    for line in metric_lines(body, ["namedprocess_namegroup_memory_bytes"], 3, contains='memtype="resident"'):
        print("  " + line)
    print(f"done in {time.monotonic() - started:.0f}s. Try:\n"
          f"  curl -s http://127.0.0.1:{port}/metrics | grep namedprocess_namegroup_num_procs\n"
          f"  export KUBECONFIG={KUBECONFIG} PATH={STATE / 'bin'}:$PATH\n"
          f"  kubectl edit pmon -n {PM_NS} {PM_NAME}   # change processNames: the agent pod reloads, no restart "
          "(the kubelet swaps the ConfigMap within ~10 s here)\n"
          f"  kubectl logs -n {PM_NS} {agent_pods[0]['metadata']['name']}   # the agent on {REAL_NODE}: its reloads\n"
          "  make quickstart-down", flush=True)


def down() -> None:
    if api_answers():
        run([_tool("helm"), "uninstall", RELEASE, "--namespace", RELEASE_NS, "--wait", "--timeout", "2m"],
            timeout=180, check=False)
        say("down", f"uninstalled release {RELEASE}")
    stream(["make", "--no-print-directory", "cluster-down"], timeout=180)
    say("down", "local control plane and real node stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="quickstart", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down"])
    args = parser.parse_args(argv)
    try:
        up() if args.action == "up" else down()
    except QuickstartError as exc:
        print(f"quickstart: {exc}", file=sys.stderr)
        print(f"logs: {QS}/ and {STATE}/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
