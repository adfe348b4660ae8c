"""Tracker options (`Settings`, from the command line, built by cli.py) and one collection's error counts and sizes
(`CollectStats`, returned by Tracker.collect and read by collector.py for the agent's own metrics)."""

from __future__ import annotations

from ..limits import Limits


class Settings:
    """Tracker options, from the command line."""

    __slots__ = (
        "children",
        "container_logs_dir",
        "gather_smaps",
        "kube_labels",
        "limits",
        "limits_interval",
        "pod_logs_dir",
        "procfs",
        "read_timeout",
        "recheck",
        "recheck_time_limit",
        "smaps_interval",
        "threads",
    )

    def __init__(
        self,
        procfs: str = "/proc",
        children: bool = True,
        threads: bool = True,
        gather_smaps: bool = True,
        smaps_interval: float = 300.0,
        recheck: bool = False,
        recheck_time_limit: float = 0.0,
        limits_interval: float = 60.0,
        limits: Limits | None = None,
        read_timeout: float = 0.0,
        kube_labels: bool = False,
        pod_logs_dir: str = "/var/log/pods",
        container_logs_dir: str = "/var/log/containers",
    ) -> None:
        self.procfs = procfs.rstrip("/") or "/"
        self.children = children
        self.threads = threads
        self.gather_smaps = gather_smaps
        self.smaps_interval = smaps_interval
        self.recheck = recheck or recheck_time_limit > 0
        self.recheck_time_limit = recheck_time_limit
        self.limits_interval = limits_interval
        self.limits = limits or Limits()
        # Timeout of each cmdline/smaps_rollup read (procfs/guard.py); 0: read in the collecting thread.
        self.read_timeout = read_timeout
        # Kubernetes attribution (kube/): labels on every series, and where the kubelet's log directories are.
        self.kube_labels = kube_labels
        self.pod_logs_dir = pod_logs_dir
        self.container_logs_dir = container_logs_dir


class CollectStats:
    """Error counts and sizes of one collection."""

    __slots__ = ("blocked", "failed", "ignored", "new", "partial", "read_errors", "tracked")

    def __init__(self) -> None:
        self.failed = False
        self.partial = self.read_errors = self.new = self.tracked = self.ignored = self.blocked = 0
