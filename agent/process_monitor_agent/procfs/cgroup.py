"""Parser for /proc/<pid>/cgroup (track/identity.py, only when a name template uses .Cgroups)."""

from __future__ import annotations


def parse_cgroup(data: bytes) -> list[str]:
    """Paths of every `hierarchy-ID:controllers:path` line, in file order (as process-exporter's .Cgroups)."""
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            out.append(parts[2])
    return out
