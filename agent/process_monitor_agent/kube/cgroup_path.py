"""Pod UID and container ID from a process's cgroup paths (`/proc/<pid>/cgroup`). Pure; called by attribution.py.

The shapes, from the kubelet's and runtimes' naming rules:
- kubelet pod cgroup (pkg/kubelet/cm/cgroup_manager_linux.go, pod_container_manager_linux.go): the abstract name
  is `[<cgroup-root>...] kubepods [burstable|besteffort] pod<uid>` (Guaranteed pods sit directly under kubepods).
  cgroupfs driver: joined with `/` (`/kubepods/burstable/pod<uid>`). systemd driver: each part has `-` replaced
  by `_` and the parts are joined with `-` into nested slices (`/kubepods.slice/kubepods-burstable.slice/
  kubepods-burstable-pod<uid with _>.slice`). A cgroup root such as kind's `/kubelet` prefixes every part
  (`/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable-pod<uid>.slice`, cgroupfs
  `/kubelet/kubepods/...`).
- container cgroup, the segment right below the pod's: containerd `cri-containerd-<id>.scope` (systemd) or
  `<id>` (cgroupfs); CRI-O `crio-<id>.scope` / `crio-<id>` and its monitor `crio-conmon-<id>.scope`; Docker and
  cri-dockerd `docker-<id>.scope` / `<id>`. IDs are 64 lowercase hex digits.
- cgroup v1 has one line per hierarchy (`4:memory:/kubepods/...`), v2 one line `0::/...`, hybrid both; all name
  the same pod under the kubelet, so the first line that names a pod wins.
- Seen from a private cgroup namespace the path is relative (`0::/../../kubepods-besteffort-pod<uid>.slice/...`);
  the pod and container segments are still there for every pod but the reader's own (see docs/attribution.md).

Anti-spoofing: the outermost pod segment below a `kubepods` segment wins, and the container is the segment
directly below it. A tenant can only create cgroups below its own container's (delegation), so nothing it names
can move its processes to another pod or container.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A pod UID is an RFC 4122 UUID for API pods; static pods use the hex MD5 of their manifest (32 digits).
_UID = r"[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32}"
# systemd: `[<root parts>-]kubepods[-burstable|-besteffort]-pod<uid>.slice`; cgroupfs: `pod<uid>`.
_POD_SYSTEMD = re.compile(r"(?:[A-Za-z0-9_.]+-)*kubepods(?:-burstable|-besteffort)?-pod(" + _UID + r")\.slice")
_POD_CGROUPFS = re.compile(r"pod(" + _UID + r")")
_KUBEPODS_SYSTEMD = re.compile(r"(?:[A-Za-z0-9_.]+-)*kubepods(?:-burstable|-besteffort)?\.slice")
_CONTAINER = re.compile(r"(?:(cri-containerd|crio-conmon|crio|docker)-)?([0-9a-f]{64})(?:\.scope)?")

RUNTIMES = {"cri-containerd": "containerd", "crio": "cri-o", "crio-conmon": "cri-o", "docker": "docker", None: ""}


class PodCgroup(NamedTuple):
    """Where a process sits in the kubelet's cgroup tree."""

    pod_uid: str  # with dashes, as the API shows it ("" never: no pod means no PodCgroup)
    container_id: str  # 64 hex digits, "" for a process directly in the pod's cgroup
    runtime: str  # "containerd", "cri-o", "docker", or "" when the cgroupfs form does not say
    conmon: bool  # CRI-O's per-container monitor (crio-conmon-<id>.scope): the runtime's, not the workload's


def parse_pod_path(path: str) -> PodCgroup | None:
    """The pod and container of one cgroup path, or None when the path is not inside a kubelet pod cgroup."""
    segments = path.split("/")
    under_kubepods = False
    for i, seg in enumerate(segments):
        if not under_kubepods:
            # Any segment named kubepods (cgroupfs) or a kubepods slice (systemd) opens the kubelet's subtree; so
            # does `..` (a path relative to a private cgroup namespace hides the ancestors, kubepods among them).
            if seg in ("kubepods", "..") or _KUBEPODS_SYSTEMD.fullmatch(seg):
                under_kubepods = True
            continue
        m = _POD_SYSTEMD.fullmatch(seg) or _POD_CGROUPFS.fullmatch(seg)
        if m is None:
            if seg in ("burstable", "besteffort", "..") or _KUBEPODS_SYSTEMD.fullmatch(seg):
                continue
            # Something else below kubepods before any pod (not a layout the kubelet makes): not a pod.
            return None
        uid = m.group(1).replace("_", "-")
        child = segments[i + 1] if i + 1 < len(segments) else ""
        c = _CONTAINER.fullmatch(child)
        if c is None:
            return PodCgroup(uid, "", "", False)
        return PodCgroup(uid, c.group(2), RUNTIMES[c.group(1)], c.group(1) == "crio-conmon")
    return None


def parse_pod_cgroup(paths: list[str]) -> PodCgroup | None:
    """The pod of a process from its cgroup paths (parse_cgroup's list): the first line that names a pod."""
    for p in paths:
        if "pod" in p:  # cheap filter: host processes (most lines) never reach the regexes
            found = parse_pod_path(p)
            if found is not None:
                return found
    return None
