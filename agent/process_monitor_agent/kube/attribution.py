"""The Attributor: process -> Workload (pod UID, container ID, namespace, pod and container names).

Called by track/identity.py when a new process is named and a rule's template uses a Kubernetes field, and by
collector.py once per collection when -kubernetes.labels is on (`attach`, then `end_collection`). A process's
cgroup is read once per (pid, starttime): the Workload it maps to is kept on its ProcState (labels) or, for the
collection in which it was named, in `_recent` (so naming and labelling share one read).

One Workload object per (pod UID, container ID), shared by all its processes; HOST for every process outside a
pod. Names come from the PodLogIndex; a Workload whose names the index does not know yet is "pending": a new one
asks the index for a (rate-limited) rescan at once (or, when the last listing is younger than the index's
`min_interval`, at the end of the first collection allowed to), and pending ones are retried at most every
`retry_interval` after that.
When a pending Workload learns its names, its processes carry them from the next collection on.

Sandbox (pause) processes: the sandbox's container ID never gets a /var/log/containers symlink (only workload
containers do) and its process is the pause binary. A container ID the index does not know right after a rescan,
whose first process's comm is `pause`, is the sandbox: container name "POD" (the name cAdvisor and dockershim gave
it), never mistaken for a workload container and never retried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..export import own
from ..procfs import read_file
from ..procfs.cgroup import parse_cgroup
from .cgroup_path import PodCgroup, parse_pod_cgroup
from .podlogs import PodLogIndex

SANDBOX_CONTAINER = "POD"
SANDBOX_COMM = b"pause"


class Workload:
    """Where a set of processes runs. Mutable only through the Attributor (names filled in when learnt)."""

    __slots__ = ("container", "container_id", "labels", "namespace", "pending", "pod", "pod_uid", "role", "runtime")

    def __init__(self, pod_uid: str = "", container_id: str = "", runtime: str = "", role: str = "host") -> None:
        self.pod_uid = pod_uid
        self.container_id = container_id
        self.runtime = runtime
        # "host" (not in a pod), "container", "sandbox", "conmon" (CRI-O's monitor), "pod" (in the pod's own
        # cgroup, no container below it).
        self.role = role
        self.namespace = self.pod = self.container = ""
        self.pending = False
        self.labels: tuple[str, str, str] = ("", "", "")

    def _set(self, namespace: str, pod: str, container: str) -> None:
        self.namespace, self.pod, self.container = namespace, pod, container
        self.labels = (namespace, pod, container)


HOST = Workload()


class Attributor:
    """Maps processes to Workloads; owns the PodLogIndex. Not thread-safe (the collector's lock serialises)."""

    def __init__(
        self,
        index: PodLogIndex,
        procfs: str = "/proc",
        retry_interval: float = 10.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.index = index
        self.procfs = procfs.rstrip("/") or "/"
        self.retry_interval = retry_interval
        self.clock = clock or index.clock
        self.workloads: dict[tuple[str, str], Workload] = {}
        self._recent: dict[tuple[int, int], Workload] = {}
        self._pending: list[Workload] = []
        self._retry_due = 0.0
        self._new_pending = False  # a Workload became pending since the last listing: list again when allowed
        self._prune_at = 256
        self.cgroup_reads = 0

    # -- per process ---------------------------------------------------------------------------------------------
    def lookup(self, pid: int, starttime: int, base: str, cgroups: list[str] | None = None) -> Workload:
        """The Workload of the process whose procfs directory is `base` (cgroup read unless `cgroups` given)."""
        key = (pid, starttime)
        w = self._recent.get(key)
        if w is not None:
            return w
        if cgroups is None:
            try:
                # Bounded: the kernel caps each line at PATH_MAX, so a v1 file of a dozen hierarchies stays far under
                # this; FileTooLarge (a ValueError) past it is treated like an unreadable file.
                cgroups = parse_cgroup(read_file(base + "/cgroup", 65536, limit=1 << 20))
                self.cgroup_reads += 1
            except (OSError, ValueError):
                cgroups = []  # gone, unreadable or absurd: treated as a host process
        pc = parse_pod_cgroup(cgroups)
        w = HOST if pc is None else self.workloads.get((pc.pod_uid, pc.container_id)) or self._new(pc, base)
        self._recent[key] = w
        return w

    def attach(self, procs: Iterable[Any]) -> None:
        """Give every tracked process (ProcState) without one its Workload; called once per collection."""
        root_of = self._root_of
        for ps in procs:
            if ps.kube is None:
                ps.kube = self.lookup(ps.pid, ps.starttime, root_of(ps.pid))

    def end_collection(self, procs: Iterable[Any]) -> None:
        """Forget this collection's lookups, retry pending names when due, drop Workloads no process uses."""
        self._recent.clear()
        if self._pending and (self._new_pending or self.clock() >= self._retry_due) and self.index.refresh():
            self._retry_due = self.clock() + self.retry_interval
            self._new_pending = False
            self._resolve_pending()
        if len(self.workloads) > self._prune_at:
            live = {id(ps.kube) for ps in procs if ps.kube is not None}
            self.workloads = {k: w for k, w in self.workloads.items() if id(w) in live}
            self._pending = [w for w in self._pending if id(w) in live]
            self._prune_at = 2 * len(self.workloads) + 256

    # -- internals -----------------------------------------------------------------------------------------------
    def _root_of(self, pid: int) -> str:
        return f"{self.procfs}/{pid}"

    def _new(self, pc: PodCgroup, base: str) -> Workload:
        role = "conmon" if pc.conmon else ("container" if pc.container_id else "pod")
        w = Workload(pc.pod_uid, pc.container_id, pc.runtime, role)
        self.workloads[(pc.pod_uid, pc.container_id)] = w
        if not self._resolve(w) and self.index.refresh():
            self._resolve_pending()
            self._resolve(w)
        unknown = w.pending and role == "container" and w.container_id not in self.index.containers
        if unknown and self._is_pause(base):
            w.role = "sandbox"
            w._set(w.namespace, w.pod, SANDBOX_CONTAINER)
            w.pending = not w.pod
        if w.pending:
            self._pending.append(w)
            self._new_pending = True
        return w

    def _resolve(self, w: Workload) -> bool:
        """Fill names from the index; True when complete (w.pending says the same)."""
        idx = self.index
        ns, pod = idx.pods.get(w.pod_uid, ("", ""))
        container = w.container
        if w.role == "container":
            c = idx.containers.get(w.container_id)
            if c is not None:
                ns, pod, container = c
        if not ns and w.namespace:
            ns, pod = w.namespace, w.pod  # keep what was learnt when the pod directory has gone since
        w._set(ns, pod, container)
        w.pending = not pod or (w.role == "container" and not container)
        return not w.pending

    def _resolve_pending(self) -> None:
        self._pending = [w for w in self._pending if not self._resolve(w)]

    @staticmethod
    def _is_pause(base: str) -> bool:
        try:
            return read_file(base + "/comm", 64).rstrip(b"\n") == SANDBOX_COMM
        except OSError:
            return False

    # -- the agent's own metrics -----------------------------------------------------------------------------------
    def write_metrics(self, out: list[str]) -> None:
        """Attribution's own families (collector.py, only while attribution is in use)."""
        idx = self.index
        own.KUBERNETES_LOG_DIR_SCANS_TOTAL.write(out, [((), idx.scans)])
        own.KUBERNETES_LOG_DIR_SKIPPED_ENTRIES.write(out, [((), idx.skipped)])
        roles: dict[str, int] = {}
        for w in self.workloads.values():
            state = "pending" if w.pending else w.role
            roles[state] = roles.get(state, 0) + 1
        own.KUBERNETES_WORKLOADS.write(out, [((k,), v) for k, v in sorted(roles.items())])
