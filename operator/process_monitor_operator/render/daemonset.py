"""DaemonSet running one agent per selected node. Pure renderer, called by `render_all`.

The pod template depends only on agent settings and collection options, never on the rules: a rules-only change
leaves it byte-identical, so agents reload instead of restarting (no config hash annotation, config mounted as a
directory, never with subPath). Security follows design.md: "full" mode runs as root with only SYS_PTRACE and
DAC_READ_SEARCH; "restricted" runs as nobody without capabilities (io and fd metrics of other users' processes
then drop out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import constants as c
from . import gpu, kubernetes
from .common import JOB, JOB_LABEL, common_labels, metadata, selector_labels

if TYPE_CHECKING:
    from ..spec import Source
    from .options import RenderOptions

API_VERSION = "apps/v1"
KIND = "DaemonSet"
PLURAL = "daemonsets"
CONTAINER = "agent"


def _flag(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def agent_args(src: Source) -> list[str]:
    """The agent's command line: fixed paths first, then collection options, then the user's extra args."""
    col = src.spec["collection"]
    agent = src.spec["agent"]
    args = [
        f"--procfs={c.HOST_PROC}",
        f"--config.path={c.CONFIG_DIR}/{c.CONFIG_KEY}",
        f"--web.listen-address=:{agent['port']}",
        f"--children={_flag(col['children'])}",
        f"--threads={_flag(col['threads'])}",
        f"--gather-smaps={_flag(col['gatherSmaps'])}",
        f"--recheck={_flag(col['recheck'])}",
        f"--remove-empty-groups={_flag(col['removeEmptyGroups'])}",
    ]
    optional = (
        ("recheckWithTimeLimit", "--recheck-with-time-limit"),
        ("gatherSmapsInterval", "--gather-smaps.interval"),
        ("reportMissingGroups", "--report.missing-groups"),
    )
    args += [f"{flag}={_flag(col[key])}" for key, flag in optional if col.get(key) not in (None, "")]
    args += gpu.agent_args(src)
    args += kubernetes.agent_args(src)
    return args + [str(a) for a in agent.get("extraArgs") or []]


def _security(mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod securityContext, container securityContext) for "full" or "restricted"."""
    if mode == "restricted":
        pod = {"runAsUser": 65534, "runAsGroup": 65534, "runAsNonRoot": True,
               "seccompProfile": {"type": "RuntimeDefault"}}
        caps: dict[str, Any] = {"drop": ["ALL"]}
    else:
        pod = {"runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False, "seccompProfile": {"type": "RuntimeDefault"}}
        # /proc/PID/io, exe, smaps need ptrace read access; listing another uid's fd/ needs DAC_READ_SEARCH.
        caps = {"drop": ["ALL"], "add": ["SYS_PTRACE", "DAC_READ_SEARCH"]}
    container = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": caps,
    }
    return pod, container


def _probe(initial_delay: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/healthz", "port": c.PORT_NAME},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def pod_template(src: Source, options: RenderOptions) -> dict[str, Any]:
    agent = src.spec["agent"]
    pod_sc, container_sc = _security(agent["securityMode"])
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": agent.get("image") or options.agent_image,
        "imagePullPolicy": agent["imagePullPolicy"],
        "args": agent_args(src),
        "ports": [{"name": c.PORT_NAME, "containerPort": agent["port"], "protocol": "TCP"}],
        "livenessProbe": _probe(10),
        "readinessProbe": _probe(2),
        "resources": agent["resources"],
        "securityContext": container_sc,
        "volumeMounts": [
            {"name": "proc", "mountPath": c.HOST_PROC, "readOnly": True},
            {"name": "config", "mountPath": c.CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            *kubernetes.volume_mounts(src),
        ],
    }
    spec: dict[str, Any] = {
        "serviceAccountName": metadata(src)["name"],
        "automountServiceAccountToken": False,
        "hostPID": True,
        "securityContext": pod_sc,
        "nodeSelector": agent["nodeSelector"],
        "tolerations": agent["tolerations"],
    }
    if agent["hostNetwork"]:
        # The node's network: the agent listens on the node's address (probes and scrapes reach it there); the
        # cluster DNS stays usable from the host network.
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    if agent.get("affinity"):
        spec["affinity"] = agent["affinity"]
    if agent.get("priorityClassName"):
        spec["priorityClassName"] = agent["priorityClassName"]
    spec["terminationGracePeriodSeconds"] = 10
    spec["containers"] = [container]
    spec["volumes"] = [
        {"name": "proc", "hostPath": {"path": "/proc", "type": "Directory"}},
        {"name": "config", "configMap": {"name": metadata(src)["name"]}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
        *kubernetes.volumes(src),
    ]
    gpu.apply(src, spec, container)  # spec.gpu: flag, scheduling, NVIDIA container toolkit variables
    annotations = {**agent["podAnnotations"], "cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}
    labels = {**agent["podLabels"], **common_labels(src), c.COMPONENT_LABEL: "agent", JOB_LABEL: JOB}
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": spec}


def render(src: Source, options: RenderOptions) -> list[dict[str, Any]]:
    return [{
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(src),
        "spec": {
            "selector": {"matchLabels": selector_labels(src)},
            "updateStrategy": src.spec["agent"]["updateStrategy"],
            "template": pod_template(src, options),
        },
    }]
