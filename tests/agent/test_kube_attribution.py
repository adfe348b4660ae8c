"""Kubernetes attribution end to end on fake trees: a fake procfs (harness.fakeproc) and a fake kubelet log tree,
through the real Collector: labels, template fields, sandboxes, pending names, age-out, and the cost rules
(cgroup read once per process, log directories listed only for unknown pods, nothing at all when off)."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import exposition
from harness.fakeproc import FakeProc
from process_monitor_agent.collector import Collector
from process_monitor_agent.config import parse_config
from process_monitor_agent.grouper import Grouper
from process_monitor_agent.limits import Limits
from process_monitor_agent.track import Settings, Tracker

UID1 = "11111111-1111-4111-8111-111111111111"
UID2 = "22222222-2222-4222-8222-222222222222"
C1, C2, S1, S2, C3 = ("c1" * 32, "c2" * 32, "51" * 32, "52" * 32, "c3" * 32)
CATCH_ALL = 'process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n'


def systemd_path(uid: str, cid: str) -> str:
    sd = uid.replace("-", "_")
    return f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{sd}.slice/cri-containerd-{cid}.scope"


class Clock:
    """Test double for time.monotonic (pure logic: rate limits and the TTL)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Node:
    """A fake node: procfs + kubelet log dirs, with pods in two namespaces and a host process named like theirs."""

    def __init__(self, tmp: Path) -> None:
        self.proc = FakeProc(tmp / "proc")
        self.pods = tmp / "var-log-pods"
        self.links = tmp / "var-log-containers"
        self.pods.mkdir()
        self.links.mkdir()

    def pod(self, ns: str, name: str, uid: str) -> None:
        (self.pods / f"{ns}_{name}_{uid}").mkdir()

    def container(self, ns: str, pod: str, uid: str, container: str, cid: str) -> None:
        (self.pods / f"{ns}_{pod}_{uid}" / container).mkdir(parents=True, exist_ok=True)
        (self.links / f"{pod}_{ns}_{container}-{cid}.log").symlink_to(
            self.pods / f"{ns}_{pod}_{uid}" / container / "0.log")

    def delete_pod(self, ns: str, pod: str, uid: str) -> None:
        for link in self.links.glob(f"{pod}_{ns}_*"):
            link.unlink()
        for d in sorted((self.pods / f"{ns}_{pod}_{uid}").glob("*"), reverse=True):
            d.rmdir()
        (self.pods / f"{ns}_{pod}_{uid}").rmdir()

    def collector(self, config: str = CATCH_ALL, labels: bool = True, ttl: float = 300.0) -> tuple[Collector, Clock]:
        """The real Collector; `Clock` drives the attributor's listing and retry intervals (age-out: `Steps`)."""
        settings = Settings(procfs=str(self.proc.root), kube_labels=labels, pod_logs_dir=str(self.pods),
                            container_logs_dir=str(self.links))
        col = Collector(settings, parse_config(config), empty_label_ttl=ttl, self_metrics=False, max_age=0)
        clock = Clock()
        col.tracker.attributor.clock = clock
        col.tracker.attributor.index.clock = clock
        return col, clock


def samples(body: bytes, family: str) -> dict[frozenset, float]:
    """{frozenset of label pairs: value} of every sample of `family` (harness.exposition)."""
    return exposition.labelsets(exposition.parse(body.decode()), family)


def L(**kv: str) -> frozenset:
    return frozenset(kv.items())


@pytest.fixture
def node(tmp_path: Path) -> Node:
    n = Node(tmp_path)
    n.pod("shop", "web-0", UID1)
    n.container("shop", "web-0", UID1, "app", C1)
    n.pod("batch", "job-x", UID2)
    n.container("batch", "job-x", UID2, "worker", C2)
    n.proc.add(100, comm="pause", cgroup=systemd_path(UID1, S1))
    n.proc.add(101, comm="app", cgroup=systemd_path(UID1, C1), utime=10)
    n.proc.add(200, comm="pause", cgroup=systemd_path(UID2, S2))
    n.proc.add(201, comm="app", cgroup=f"0::/kubepods/besteffort/pod{UID2}/{C2}", utime=10)
    n.proc.add(300, comm="app", cgroup="0::/system.slice/app.service", utime=10)
    return n


def test_labels_split_by_container_host_empty_sandbox_pod(node: Node) -> None:
    col, _ = node.collector()
    body = col.collect()
    procs = samples(body, "namedprocess_namegroup_num_procs")
    assert procs == {
        L(groupname="app", namespace="shop", pod="web-0", container="app"): 1,
        L(groupname="app", namespace="batch", pod="job-x", container="worker"): 1,
        L(groupname="app", namespace="", pod="", container=""): 1,
        L(groupname="pause", namespace="shop", pod="web-0", container="POD"): 1,
        L(groupname="pause", namespace="batch", pod="job-x", container="POD"): 1,
    }
    assert b"process_monitor_agent_kubernetes_workloads" in body


def test_counters_monotonic_per_series_and_cgroup_read_once(node: Node) -> None:
    col, _ = node.collector()
    col.collect()
    attributor = col.tracker.attributor
    reads, scans = attributor.cgroup_reads, attributor.index.scans
    assert reads == 5 and scans == 1, "one cgroup read per process, one listing for the whole first collection"
    cpu = L(groupname="app", namespace="shop", pod="web-0", container="app", mode="user")
    seen = []
    for step in range(1, 4):
        node.proc.update(101, utime=10 + 100 * step, runtime=1000 + step)
        seen.append(samples(col.collect(), "namedprocess_namegroup_cpu_seconds_total")[cpu])
    assert seen == sorted(seen) and seen[-1] > seen[0]
    assert attributor.cgroup_reads == reads and attributor.index.scans == scans


def test_template_fields_name_groups(node: Node) -> None:
    config = ('process_names:\n  - name: "{{.Namespace}}/{{.Pod}}/{{.Container}}/{{.Comm}}"\n'
              '    comm: [app]\n  - name: "{{.PodUID}}:{{.ContainerID}}"\n    comm: [pause]\n')
    col, _ = node.collector(config, labels=False)
    procs = samples(col.collect(), "namedprocess_namegroup_num_procs")
    assert procs == {
        L(groupname="shop/web-0/app/app"): 1,
        L(groupname="batch/job-x/worker/app"): 1,
        L(groupname="///app"): 1,  # the host process: every Kubernetes field empty, as Go prints them
        L(groupname=f"{UID1}:{S1}"): 1,
        L(groupname=f"{UID2}:{S2}"): 1,
    }


def test_off_means_no_reads_no_labels(node: Node) -> None:
    col, _ = node.collector(labels=False)
    body = col.collect()
    assert col.tracker.attributor.cgroup_reads == 0 and col.tracker.attributor.index.scans == 0
    assert b"namespace=" not in body and b"process_monitor_agent_kubernetes_" not in body
    assert samples(body, "namedprocess_namegroup_num_procs")[L(groupname="app")] == 3


def test_new_pod_rescans_once_and_churn_is_rate_limited(node: Node) -> None:
    col, clock = node.collector()
    col.collect()
    index = col.tracker.attributor.index
    assert index.scans == 1
    # 20 new pods appear at once: one listing finds them all.
    for i in range(20):
        uid = f"33333333-3333-4333-8333-{i:012d}"
        cid = f"{i:064x}"
        node.pod("churn", f"p{i}", uid)
        node.container("churn", f"p{i}", uid, "c", cid)
        node.proc.add(1000 + i, comm="app", cgroup=systemd_path(uid, cid))
    clock.t += 5
    procs = samples(col.collect(), "namedprocess_namegroup_num_procs")
    assert index.scans == 2
    assert procs[L(groupname="app", namespace="churn", pod="p7", container="c")] == 1
    # Known pods cost nothing more.
    clock.t += 5
    col.collect()
    assert index.scans == 2


def test_container_seen_before_its_symlink_gets_its_name_later(node: Node) -> None:
    col, clock = node.collector()
    col.collect()
    (node.pods / f"shop_web-0_{UID1}" / "sidecar").mkdir()
    node.proc.add(102, comm="envoy", cgroup=systemd_path(UID1, C3))
    clock.t += 5
    procs = samples(col.collect(), "namedprocess_namegroup_num_procs")
    assert procs[L(groupname="envoy", namespace="shop", pod="web-0", container="")] == 1
    node.container("shop", "web-0", UID1, "sidecar", C3)
    clock.t += 11  # past the pending retry interval
    col.collect()  # the retry happens at the end of this collection
    procs = samples(col.collect(), "namedprocess_namegroup_num_procs")
    assert procs[L(groupname="envoy", namespace="shop", pod="web-0", container="sidecar")] == 1


class Steps:
    """Tracker + attributor + grouper on the node, collections at chosen `now` (the grouper's age-out clock)."""

    def __init__(self, node: Node, config: str = CATCH_ALL, ttl: float = 60.0, age: float = 3600.0,
                 max_groups: int = 10_000) -> None:
        limits = Limits(max_groups=max_groups, empty_group_age=age)
        settings = Settings(procfs=str(node.proc.root), kube_labels=True, pod_logs_dir=str(node.pods),
                            container_logs_dir=str(node.links), limits=limits)
        rules = parse_config(config).rules
        self.tracker = Tracker(settings, rules)
        self.grouper = Grouper(limits=limits, kube_labels=True, empty_label_ttl=ttl)
        self.grouper.set_static_names(rules.static_names)  # as collector.py does
        self.tracker.admit = self.grouper.admit
        self.limits = limits

    def step(self, now: float) -> dict[tuple[str, tuple[str, str, str] | None], float]:
        """(group name, labels) -> num_procs after one collection."""
        self.tracker.collect()
        procs = self.tracker.procs.values()
        self.tracker.attributor.attach(procs)
        self.tracker.attributor.end_collection(procs)
        return {(g.name, g.labels): g.procs for g in self.grouper.update(procs, now)}


GONE = ("app", ("batch", "job-x", "worker"))
KEPT = ("app", ("shop", "web-0", "app"))
HOST_APP = ("app", ("", "", ""))


def _delete_job_x(node: Node) -> None:
    node.proc.remove(201)
    node.proc.remove(200)
    node.delete_pod("batch", "job-x", UID2)


@pytest.mark.parametrize("config", [CATCH_ALL, 'process_names:\n  - name: app\n    comm: [app]\n'],
                         ids=["templated-name", "static-name"])
def test_deleted_pod_series_age_out_after_ttl(node: Node, config: str) -> None:
    s = Steps(node, config, ttl=60)
    s.step(0)
    _delete_job_x(node)
    assert s.step(10)[GONE] == 0, "kept (frozen counters, zero gauges) until the TTL"
    assert GONE in s.step(69)
    groups = s.step(70)
    assert GONE not in groups and s.limits.hits["empty_group_age"] >= 1  # (and job-x's pause group, if named)
    assert groups[KEPT] == 1 and groups[HOST_APP] == 1


def test_remove_empty_groups_after_bounds_pod_series_too(node: Node) -> None:
    """The shorter of -kubernetes.empty-series-ttl and -remove-empty-groups.after wins; ttl 0 leaves the latter."""
    s = Steps(node, ttl=60, age=30)
    s.step(0)
    _delete_job_x(node)
    s.step(10)
    assert GONE not in s.step(40)
    node2 = Steps(node, ttl=0, age=30)
    node2.step(0)
    assert GONE not in node2.step(0) and KEPT in node2.step(100)


def test_a_static_host_group_never_ages_out(node: Node) -> None:
    s = Steps(node, 'process_names:\n  - name: app\n    comm: [app]\n', ttl=60, age=30)
    s.step(0)
    node.proc.remove(300)
    s.step(10)
    assert s.step(1e6)[HOST_APP] == 0, "process-exporter's rule for a static name, labels or not"


def test_limit_groups_counts_names_not_label_sets(node: Node) -> None:
    """-limit.groups 1: `app` in three label sets is one group name; a second name is refused."""
    s = Steps(node, 'process_names:\n  - name: "{{.Comm}}"\n    comm: [app, other]\n', max_groups=1)
    groups = s.step(0)
    assert {k for k in groups if k[0] == "app"} == {KEPT, HOST_APP, ("app", ("batch", "job-x", "worker"))}
    node.proc.add(400, comm="other", cgroup=systemd_path(UID1, C1), starttime=7000)
    groups = s.step(1)
    assert not [k for k in groups if k[0] == "other"] and s.limits.hits["groups"] >= 1


def test_pod_that_returns_before_ttl_keeps_counting(node: Node) -> None:
    col, clock = node.collector(ttl=60)
    col.collect()
    node.proc.update(101, utime=500, runtime=5000)
    col.collect()
    cpu = L(groupname="app", namespace="shop", pod="web-0", container="app", mode="user")
    before = samples(col.collect(), "namedprocess_namegroup_cpu_seconds_total")[cpu]
    node.proc.remove(101)
    col.collect()
    clock.t += 30
    node.proc.add(105, comm="app", cgroup=systemd_path(UID1, C1), utime=7, starttime=9000)
    after = samples(col.collect(), "namedprocess_namegroup_cpu_seconds_total")[cpu]
    assert after >= before


def test_reload_rematches_without_rereading_cgroups(node: Node) -> None:
    col, _ = node.collector()  # labels on: every process has its Workload
    col.collect()
    reads = col.tracker.attributor.cgroup_reads
    col.apply_config(parse_config('process_names:\n  - name: "{{.Namespace}}:{{.Comm}}"\n    comm: [app]\n'))
    procs = samples(col.collect(), "namedprocess_namegroup_num_procs")
    assert procs[L(groupname="shop:app", namespace="shop", pod="web-0", container="app")] == 1
    assert col.tracker.attributor.cgroup_reads == reads


def test_template_reads_cgroups_only_for_processes_it_names(node: Node) -> None:
    """Template-only mode: the cgroup is read when a rule that renders a Kubernetes field names the process (the
    pause processes match no rule: never read), once per process; labels off keeps ProcStates without Workloads."""
    config = 'process_names:\n  - name: "{{.Pod}}:{{.Comm}}"\n    comm: [app]\n'
    col, _ = node.collector(config, labels=False)
    procs = samples(col.collect(), "namedprocess_namegroup_num_procs")
    assert procs == {L(groupname="web-0:app"): 1, L(groupname="job-x:app"): 1, L(groupname=":app"): 1}
    assert col.tracker.attributor.cgroup_reads == 3
    col.collect()
    assert col.tracker.attributor.cgroup_reads == 3


def test_new_container_within_the_listing_interval_is_named_at_the_next_allowed_collection(node: Node) -> None:
    col, clock = node.collector()
    col.collect()  # listing at t=1000
    node.container("shop", "web-0", UID1, "late", C3)
    node.proc.add(103, comm="late", cgroup=systemd_path(UID1, C3))
    clock.t += 0.5  # too soon to list again: pending after this collection
    procs = samples(col.collect(), "namedprocess_namegroup_num_procs")
    assert procs[L(groupname="late", namespace="shop", pod="web-0", container="")] == 1
    clock.t += 0.6  # the listing interval has passed, the 10 s retry interval has not
    col.collect()
    procs = samples(col.collect(), "namedprocess_namegroup_num_procs")
    assert procs[L(groupname="late", namespace="shop", pod="web-0", container="late")] == 1
    assert col.tracker.attributor.index.scans == 2


def test_unreadable_or_absurd_cgroup_file_reads_as_host(node: Node) -> None:
    """A cgroup file that cannot be read, or is larger than any kernel makes, never fails the collection."""
    (node.proc.root / "101" / "cgroup").write_text("0::/" + "x/" * (9 << 19) + "\n")  # 9 MiB: past every bound
    (node.proc.root / "201" / "cgroup").unlink()
    col, _ = node.collector()
    procs = samples(col.collect(), "namedprocess_namegroup_num_procs")
    assert procs[L(groupname="app", namespace="", pod="", container="")] == 3
