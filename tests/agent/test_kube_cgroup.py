"""The cgroup-path parser over every layout the kubelet and the runtimes make (kube/cgroup_path.py).

Each case is written from the naming rules, not copied from a machine: the kubelet's pod cgroup name
`[root] kubepods [burstable|besteffort] pod<uid>` (cgroupfs: joined by `/`; systemd: `-` -> `_` in each part, parts
joined by `-` into nested slices, ExpandSlice), and below it the runtime's container cgroup (containerd
`cri-containerd-<id>.scope` or `<id>`, CRI-O `crio-<id>.scope` / `crio-<id>` / `crio-conmon-<id>.scope`, Docker and
cri-dockerd `docker-<id>.scope` or `<id>`). Case ids name the layout.
"""

from __future__ import annotations

import pytest
from process_monitor_agent.kube.cgroup_path import PodCgroup, parse_pod_cgroup, parse_pod_path
from process_monitor_agent.procfs.cgroup import parse_cgroup

UID = "6f9c2b1e-3d4a-4b5c-8d7e-0a1b2c3d4e5f"
SD = UID.replace("-", "_")  # the systemd driver's escaping of the same UID
STATIC = "5d3c1a9f0b8e7d6c5b4a39281706f5e4"  # static pod: hex MD5 of the manifest, no dashes
CID = "3a7f" + "0123456789abcdef" * 3 + "c0ffee0123de"
SID = "9" * 64  # a sandbox ID: same shape as a container's


def C(runtime: str = "", cid: str = CID, uid: str = UID, conmon: bool = False) -> PodCgroup:
    return PodCgroup(uid, cid, runtime, conmon)


CASES = [
    # cgroup v2, systemd driver, containerd
    ("v2-systemd-containerd-burstable",
     f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{SD}.slice/cri-containerd-{CID}.scope",
     C("containerd")),
    ("v2-systemd-containerd-besteffort",
     f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{SD}.slice/cri-containerd-{CID}.scope",
     C("containerd")),
    ("v2-systemd-containerd-guaranteed",
     f"0::/kubepods.slice/kubepods-pod{SD}.slice/cri-containerd-{CID}.scope", C("containerd")),
    # cgroup v2, cgroupfs driver, containerd: the bare ID
    ("v2-cgroupfs-containerd-burstable", f"0::/kubepods/burstable/pod{UID}/{CID}", C()),
    ("v2-cgroupfs-containerd-besteffort", f"0::/kubepods/besteffort/pod{UID}/{CID}", C()),
    ("v2-cgroupfs-containerd-guaranteed", f"0::/kubepods/pod{UID}/{CID}", C()),
    # CRI-O
    ("v2-systemd-crio-burstable",
     f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{SD}.slice/crio-{CID}.scope", C("cri-o")),
    ("v2-systemd-crio-conmon",
     f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{SD}.slice/crio-conmon-{CID}.scope",
     C("cri-o", conmon=True)),
    ("v2-systemd-crio-nested-container-subcgroup",
     f"0::/kubepods.slice/kubepods-pod{SD}.slice/crio-{CID}.scope/container", C("cri-o")),
    ("v1-cgroupfs-crio-besteffort", f"7:memory:/kubepods/besteffort/pod{UID}/crio-{CID}", C("cri-o")),
    # Docker engine via dockershim / cri-dockerd
    ("v1-systemd-docker-burstable",
     f"4:cpu,cpuacct:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{SD}.slice/docker-{CID}.scope",
     C("docker")),
    ("v1-cgroupfs-docker-guaranteed", f"11:pids:/kubepods/pod{UID}/{CID}", C()),
    # cgroup v1 controllers, hybrid's name=systemd line
    ("v1-cgroupfs-containerd-burstable-memory", f"9:memory:/kubepods/burstable/pod{UID}/{CID}", C()),
    ("v1-hybrid-name-systemd-line",
     f"1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{SD}.slice/"
     f"cri-containerd-{CID}.scope", C("containerd")),
    # kubelet-in-container (kind): cgroup root /kubelet
    ("kind-v2-systemd-kubelet-slice",
     f"0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
     f"kubelet-kubepods-burstable-pod{SD}.slice/cri-containerd-{CID}.scope", C("containerd")),
    ("kind-v2-systemd-kubelet-slice-guaranteed",
     f"0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod{SD}.slice/cri-containerd-{CID}.scope",
     C("containerd")),
    ("kind-cgroupfs-kubelet-root", f"0::/kubelet/kubepods/besteffort/pod{UID}/{CID}", C()),
    # static pod UIDs (no dashes)
    ("static-pod-cgroupfs", f"0::/kubepods/burstable/pod{STATIC}/{CID}", C(uid=STATIC)),
    ("static-pod-systemd",
     f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{STATIC}.slice/cri-containerd-{CID}.scope",
     C("containerd", uid=STATIC)),
    # the sandbox: same shape as any container (told apart by the name source, see test_kube_attribution.py)
    ("sandbox-systemd-containerd",
     f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{SD}.slice/cri-containerd-{SID}.scope",
     C("containerd", cid=SID)),
    # a process in the pod's own cgroup (CRI-O conmon with conmon_cgroup=pod, a runtime helper)
    ("pod-level-process-systemd", f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{SD}.slice",
     C(cid="")),
    ("pod-level-process-cgroupfs", f"0::/kubepods/burstable/pod{UID}", C(cid="")),
    # a private cgroup namespace: the path is relative to the reader's own cgroup
    ("cgroupns-relative-systemd",
     f"0::/../../kubepods-besteffort-pod{SD}.slice/cri-containerd-{CID}.scope", C("containerd")),
    ("cgroupns-relative-cgroupfs", f"0::/../../besteffort/pod{UID}/{CID}", C()),
    # sub-cgroups a tenant made below its own container (delegation) cannot move it to another pod or container
    ("tenant-subcgroups-cannot-spoof",
     f"0::/kubepods/burstable/pod{UID}/{CID}/kubepods/pod{'0' * 8}-0000-0000-0000-{'0' * 12}/{'e' * 64}", C()),
]

NOT_PODS = [
    ("host-systemd-service", "0::/system.slice/containerd.service"),
    ("host-root", "0::/"),
    ("host-v1-user-session", "1:name=systemd:/user.slice/user-1000.slice/session-2.scope"),
    ("kubepods-qos-slice-itself", "0::/kubepods.slice/kubepods-burstable.slice"),
    ("pod-name-outside-kubepods", f"0::/system.slice/pod{UID}/{CID}"),
    ("docker-without-kubernetes", f"0::/system.slice/docker-{CID}.scope"),
    ("malformed-uid", "0::/kubepods/burstable/podnot-a-uid/" + CID),
    ("cgroupns-own-container", "0::/"),
    ("cgroupns-sibling-in-own-pod", f"0::/../cri-containerd-{CID}.scope"),
]


@pytest.mark.parametrize("line, want", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pod_layouts(line: str, want: PodCgroup) -> None:
    assert parse_pod_cgroup(parse_cgroup(line.encode() + b"\n")) == want


@pytest.mark.parametrize("line", [c[1] for c in NOT_PODS], ids=[c[0] for c in NOT_PODS])
def test_not_a_pod(line: str) -> None:
    assert parse_pod_cgroup(parse_cgroup(line.encode() + b"\n")) is None


def test_v1_file_with_every_controller_line() -> None:
    """A whole cgroup v1 file: the pod is read from the first line that names one."""
    lines = [f"{i}:{ctl}:/kubepods/burstable/pod{UID}/{CID}"
             for i, ctl in ((12, "hugetlb"), (11, "pids"), (4, "memory"), (3, "cpu,cpuacct"))]
    data = ("\n".join(["13:rdma:/", *lines, f"1:name=systemd:/kubepods/burstable/pod{UID}/{CID}", "0::/"]) + "\n")
    assert parse_pod_cgroup(parse_cgroup(data.encode())) == C()


def test_systemd_uid_underscores_become_dashes() -> None:
    got = parse_pod_path(f"/kubepods.slice/kubepods-pod{SD}.slice/cri-containerd-{CID}.scope")
    assert got is not None and got.pod_uid == UID and "_" not in got.pod_uid


def test_hostile_long_path_is_linear() -> None:
    """A deep path of junk below a container is never scanned past the container segment."""
    deep = f"0::/kubepods/pod{UID}/{CID}/" + "/".join("x" * 200 for _ in range(2000))
    assert parse_pod_cgroup(parse_cgroup(deep.encode())) == C()
