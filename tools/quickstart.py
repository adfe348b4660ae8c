"""`make quickstart`: the whole product on one machine, with progress output, in a few minutes.

Called by the Makefile (`make quickstart` runs `make setup` first, then `python3 tools/quickstart.py up`;
`make quickstart-down` runs `... down`). Steps of `up`:

1. start the local control plane (`make cluster-up`: etcd, kube-apiserver, controller-manager, scheduler and kwok
   fake nodes on 127.0.0.1) unless it already answers;
2. `helm upgrade --install` the chart (CRD, RBAC, operator Deployment; kwok reports its pod Running, it runs nothing);
3. run the real operator on this host against that API server (background, log in .cluster/quickstart/);
4. apply examples/namespace.yaml and examples/catch-all.yaml and wait for the ProcessMonitor's status;
5. read back the ConfigMap the operator rendered and run ONE real agent on this host's /proc with it, on
   127.0.0.1 and a free port (the DaemonSet's pods on kwok nodes are fiction);
6. print `kubectl get pmon` and a few real metric lines.

Every wait is bounded; all traffic stays on 127.0.0.1. `down` stops the agent and the operator by their recorded
pids, uninstalls the release and stops the control plane.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from typing import TypeVar

from localcluster.ports import free_port  # tools/ is this script's directory, first on sys.path

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATE = ROOT / ".cluster"
QS = STATE / "quickstart"
KUBECONFIG = STATE / "kubeconfig"
RELEASE = "process-monitor"
RELEASE_NS = "process-monitor"
PM_NS = "monitoring"
PM_NAME = "all-processes"
PARENT_LABEL = "monitoring.process-monitor.dev/processmonitor"
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


def run(argv: Sequence[str], *, timeout: float = 120, check: bool = True, quiet: bool = False) -> str:
    """Run a command with the quickstart's KUBECONFIG; return stdout, raise QuickstartError on failure."""
    try:
        proc = subprocess.run(list(argv), env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
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
    """Call probe() until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise QuickstartError(f"gave up waiting {timeout:.0f}s for {what} (last: {last!r})")


def start_background(name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start a long-running process with its output in .cluster/quickstart/<name>.log and its pid recorded."""
    QS.mkdir(parents=True, exist_ok=True)
    log = open(QS / f"{name}.log", "wb")  # noqa: SIM115 - handed to the child, closed when we exit
    proc = subprocess.Popen(list(argv), env=_env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    (QS / f"{name}.pid").write_text(str(proc.pid))
    return proc


def stop_recorded(name: str) -> None:
    """Stop a process started by start_background, by its recorded pid (only if it is still ours)."""
    pidfile = QS / f"{name}.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip())
    with contextlib.suppress(ProcessLookupError, PermissionError):
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"process_monitor" in cmdline:
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                if not pathlib.Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)
            else:
                os.killpg(pid, signal.SIGKILL)
            say("down", f"stopped {name} (pid {pid})")
    pidfile.unlink(missing_ok=True)


def metric_lines(text: str, names: Sequence[str], limit: int, contains: str = "") -> list[str]:
    """The first `limit` sample lines of the named metrics (containing `contains`), largest values first."""
    samples: list[tuple[float, str]] = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        metric = line.split("{", 1)[0].split(" ", 1)[0]
        if metric in names and contains in line:
            try:
                value = float(line.rsplit(" ", 1)[1])
            except (IndexError, ValueError):
                continue
            samples.append((value, line))
    samples.sort(key=lambda s: -s[0])
    return [line for _, line in samples[:limit]]


def up() -> None:
    started = time.monotonic()
    QS.mkdir(parents=True, exist_ok=True)

    say("1/6", "local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) on 127.0.0.1")
    if api_answers():
        say("1/6", f"already running ({KUBECONFIG})")
    else:
        stream(["make", "--no-print-directory", "cluster-up"], timeout=480)
        wait_for("the API server", api_answers, timeout=60)
    kubectl("get", "nodes", "-o", "wide")

    say("2/6", f"helm install {RELEASE} charts/process-monitor (namespace {RELEASE_NS})")
    run([_tool("helm"), "upgrade", "--install", RELEASE, "charts/process-monitor", "--namespace", RELEASE_NS,
         "--create-namespace", "--wait", "--timeout", "3m"], timeout=240)
    kubectl("-n", RELEASE_NS, "get", "deployment,serviceaccount", "-l", f"app.kubernetes.io/instance={RELEASE}")
    say("2/6", "the Deployment is Ready on a kwok node, which runs no containers: the real operator runs on this host")

    say("3/6", "operator on this host against the local API server")
    stop_recorded("operator")
    probe_port = free_port()
    operator = start_background("operator", [
        sys.executable, "-m", "process_monitor_operator",
        f"--liveness-address=127.0.0.1:{probe_port}",
        f"--metrics-address=127.0.0.1:{free_port()}",
    ])

    def operator_alive() -> bool:
        if operator.poll() is not None:
            raise QuickstartError(f"operator exited ({operator.returncode}); log: {QS / 'operator.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{probe_port}/healthz", timeout=2) as rsp:
                return rsp.status == 200
        except OSError:
            return False

    wait_for("the operator's /healthz", operator_alive, timeout=60)
    say("3/6", f"operator pid {operator.pid}, liveness 127.0.0.1:{probe_port}, log {QS / 'operator.log'}")

    say("4/6", f"apply examples/namespace.yaml and examples/catch-all.yaml (ProcessMonitor {PM_NS}/{PM_NAME})")
    kubectl("apply", "-f", "examples/namespace.yaml")
    kubectl("apply", "-n", PM_NS, "-f", "examples/catch-all.yaml")

    def status_ready() -> str:
        out = kubectl("-n", PM_NS, "get", "pmon", PM_NAME, "-o",
                      'jsonpath={.status.conditions[?(@.type=="Ready")].status}', check=False, quiet=True)
        return out if out == "True" else ""

    wait_for(f"ProcessMonitor {PM_NAME} Ready=True", status_ready, timeout=120)
    kubectl("-n", PM_NS, "get", "pmon", "-o", "wide")
    kubectl("-n", PM_NS, "get", "daemonset,configmap,service,serviceaccount", "-l", f"{PARENT_LABEL}={PM_NAME}")

    say("5/6", "one real agent on this host's /proc, with the ConfigMap the operator rendered")
    config = kubectl("-n", PM_NS, "get", "configmap", "-l", f"{PARENT_LABEL}={PM_NAME}", "-o",
                     r"jsonpath={.items[0].data.config\.yaml}", quiet=True)
    if not config.strip():
        raise QuickstartError("the operator's ConfigMap has no config.yaml")
    config_dir = QS / "agent-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.yaml").write_text(config)
    print(config.rstrip(), flush=True)
    stop_recorded("agent")
    port = free_port()
    agent = start_background("agent", [
        sys.executable, "-m", "process_monitor_agent",
        f"--config.path={config_dir / 'config.yaml'}", f"--web.listen-address=127.0.0.1:{port}",
    ])

    def scrape() -> str:
        if agent.poll() is not None:
            raise QuickstartError(f"agent exited ({agent.returncode}); log: {QS / 'agent.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as rsp:
                body = rsp.read().decode()
        except OSError:
            return ""
        return body if "namedprocess_namegroup_num_procs" in body else ""

    body = wait_for("the agent's /metrics", scrape, timeout=60)
    say("5/6", f"agent pid {agent.pid} on http://127.0.0.1:{port}/metrics, log {QS / 'agent.log'}")

    say("6/6", "result")
    kubectl("get", "pmon", "-A")
    groups = sum(1 for ln in body.splitlines() if ln.startswith("namedprocess_namegroup_num_procs{"))
    print(f"{groups} process groups on this host; the busiest by process count, CPU and memory:", flush=True)
    for line in metric_lines(body, ["namedprocess_namegroup_num_procs"], 5):
        print("  " + line)
    for line in metric_lines(body, ["namedprocess_namegroup_cpu_seconds_total"], 3):
        print("  " + line)
    for line in metric_lines(body, ["namedprocess_namegroup_memory_bytes"], 3, contains='memtype="resident"'):
        print("  " + line)
    print(f"done in {time.monotonic() - started:.0f}s. Try:\n"
          f"  curl -s http://127.0.0.1:{port}/metrics | grep namedprocess_namegroup_num_procs\n"
          f"  KUBECONFIG={KUBECONFIG} {_tool('kubectl')} edit pmon -n {PM_NS} {PM_NAME}   # agents reload\n"
          f"  make quickstart-down", flush=True)


def down() -> None:
    stop_recorded("agent")
    stop_recorded("operator")
    if api_answers():
        run([_tool("helm"), "uninstall", RELEASE, "--namespace", RELEASE_NS, "--wait", "--timeout", "2m"],
            timeout=180, check=False)
        say("down", f"uninstalled release {RELEASE}")
    stream(["make", "--no-print-directory", "cluster-down"], timeout=120)
    say("down", "local control plane stopped")


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
