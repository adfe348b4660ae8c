"""Names of pods and containers from the kubelet's log directories. Called by attribution.py.

The kubelet writes, for every pod and container on the node (pkg/kubelet/kuberuntime/kuberuntime_manager.go and
kuberuntime_container.go, BuildPodLogsDirectory / BuildContainerLogsDirectory / legacy log symlinks):
- `<podLogsDir>/<namespace>_<pod>_<pod-uid>/` (default /var/log/pods), made before the pod's sandbox starts, and
  `<container>/` inside it before each container is created;
- `<containerLogsDir>/<pod>_<namespace>_<container>-<container-id>.log` (always /var/log/containers), a symlink
  made right after each container starts. The sandbox (pause) container has none.
Namespaces, pod names and container names are DNS labels or subdomains and can hold no `_`, so both names split
unambiguously. Only directory listings are read (never a log file, never a symlink's target), so the mounts can
be read-only and the agent needs no access to log contents.

`PodLogIndex.scan()` replaces both maps with what the directories hold now (a deleted pod's names go with its
directory); `refresh()` is the rate-limited form: hostile pod churn cannot make the agent list the directories
more than once per `min_interval`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

from ..log import log

# RFC 1123 label (namespace, container) and subdomain (pod); kubelet-made names always fit.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}")
_CID = re.compile(r"[0-9a-f]{64}")
# Far above any node's pod count (kubelet max-pods is at most a few hundred): a bound, not a limit in practice.
MAX_ENTRIES = 100_000


def parse_pod_dir(name: str) -> tuple[str, str, str] | None:
    """`<namespace>_<pod>_<uid>` -> (uid, namespace, pod), or None for anything else."""
    parts = name.split("_")
    if len(parts) != 3:
        return None
    ns, pod, uid = parts
    if not (_LABEL.fullmatch(ns) and _SUBDOMAIN.fullmatch(pod) and _UID.fullmatch(uid)):
        return None
    return uid, ns, pod


def parse_container_link(name: str) -> tuple[str, str, str, str] | None:
    """`<pod>_<namespace>_<container>-<id>.log` -> (id, namespace, pod, container), or None."""
    if not name.endswith(".log"):
        return None
    parts = name[:-4].split("_")
    if len(parts) != 3:
        return None
    pod, ns, rest = parts
    container, _, cid = rest.rpartition("-")
    if not (_CID.fullmatch(cid) and _LABEL.fullmatch(container) and _LABEL.fullmatch(ns)
            and _SUBDOMAIN.fullmatch(pod)):
        return None
    return cid, ns, pod, container


class PodLogIndex:
    """pod UID -> (namespace, pod) and container ID -> (namespace, pod, container), as of the last scan."""

    def __init__(
        self,
        pod_logs_dir: str = "/var/log/pods",
        container_logs_dir: str = "/var/log/containers",
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pod_logs_dir = pod_logs_dir
        self.container_logs_dir = container_logs_dir
        self.min_interval = min_interval
        self.clock = clock
        self.pods: dict[str, tuple[str, str]] = {}
        self.containers: dict[str, tuple[str, str, str]] = {}
        self.scans = 0
        self.skipped = 0  # entries that fit neither naming rule (counted, not logged one by one)
        self.last_scan = float("-inf")
        self._warned: set[str] = set()

    def refresh(self) -> bool:
        """Scan unless the last scan is younger than `min_interval`; True when it scanned."""
        if self.clock() - self.last_scan < self.min_interval:
            return False
        self.scan()
        return True

    def scan(self) -> None:
        self.last_scan = self.clock()
        self.scans += 1
        pods: dict[str, tuple[str, str]] = {}
        containers: dict[str, tuple[str, str, str]] = {}
        skipped = 0
        for name in self._list(self.pod_logs_dir):
            p = parse_pod_dir(name)
            if p is None:
                skipped += 1
            elif len(pods) < MAX_ENTRIES:
                pods[p[0]] = (p[1], p[2])
        for name in self._list(self.container_logs_dir):
            c = parse_container_link(name)
            if c is None:
                skipped += 1
            elif len(containers) < MAX_ENTRIES:
                containers[c[0]] = (c[1], c[2], c[3])
        self.pods, self.containers, self.skipped = pods, containers, skipped

    def _list(self, path: str) -> list[str]:
        try:
            return os.listdir(path)
        except OSError as e:
            # Once per directory and reason: a missing mount must be visible, but not flood the log.
            key = f"{path}:{e.errno}"
            if key not in self._warned:
                self._warned.add(key)
                log.warning("kubernetes attribution: cannot list %s (%s); pod and container names from it stay "
                            "empty", path, e.strerror or e)
            return []
