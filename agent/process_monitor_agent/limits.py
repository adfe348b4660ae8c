"""Output bounds: what any process can make the agent emit is capped (track/, grouper.py, collector.py).

A tenant controls its processes' argv, comm and cgroup names, so it controls group names (`{{.ExeBase}}` of a
128 KiB argv[0] is a 128 KiB label value, repeated on every series of the group) and how many groups exist
(one per distinct comm under `{{.Comm}}`). Unbounded, that makes a scrape of tens of MB, which Prometheus'
`label_value_length_limit` / `body_size_limit` would then refuse for the whole node. The bounds, all flags of
cli.py with defaults no normal config reaches, counted in `process_monitor_agent_limit_hits_total` when they bite:

- `-limit.name-length` (bytes): longer group and thread names are cut and given a hash suffix of the whole
  name (`bounded_name`), so two long names that share a prefix stay two groups, and the same name always maps
  to the same label.
- `-limit.groups`: processes whose (new) group would exceed the count are not tracked (statically named groups
  are always admitted: the config bounds them).
- `-remove-empty-groups.after`: a group named by a template that has had no process for that long is forgotten
  (a statically named one stays, as -report.missing-groups needs).
- `-limit.thread-names`: distinct thread names per group (any process can start thousands of threads and name
  each one); threads past it are left out of the per-thread series (counted per collection), names already
  reported are kept first.
- cmdline reads stop at CMDLINE_LIMIT bytes.
"""

from __future__ import annotations

DEFAULT_NAME_LENGTH = 1024
DEFAULT_MAX_GROUPS = 10_000
DEFAULT_EMPTY_GROUP_AGE = 3600.0
DEFAULT_MAX_THREAD_NAMES = 1000
# ARG_MAX under the default 8 MiB stack limit: every argv an ordinary exec can produce; longer only through
# `ulimit -s` or PR_SET_MM. Rules match the first CMDLINE_LIMIT bytes.
CMDLINE_LIMIT = 2 << 20
_HASH_HEX = 32  # 128 bits: no one can craft two names that merge


class Limits:
    """The configured bounds and how often each bit since start (the counters behind limit_hits_total)."""

    __slots__ = ("empty_group_age", "hits", "max_groups", "max_thread_names", "name_length")

    def __init__(
        self,
        name_length: int = DEFAULT_NAME_LENGTH,
        max_groups: int = DEFAULT_MAX_GROUPS,
        empty_group_age: float = DEFAULT_EMPTY_GROUP_AGE,
        max_thread_names: int = DEFAULT_MAX_THREAD_NAMES,
    ) -> None:
        self.name_length = max(name_length, 0)
        self.max_groups = max(max_groups, 0)
        self.empty_group_age = empty_group_age
        self.max_thread_names = max(max_thread_names, 0)
        self.hits = {"cmdline_size": 0, "empty_group_age": 0, "group_name_length": 0, "groups": 0,
                     "thread_name_length": 0, "thread_names": 0}

    def group_name(self, name: str) -> str:
        """`name` within the length bound (counted when cut)."""
        if self.name_length and len(name) * 4 > self.name_length and len(name.encode()) > self.name_length:
            self.hits["group_name_length"] += 1
            return bounded_name(name, self.name_length)
        return name

    def thread_name(self, name: str) -> str:
        if self.name_length and len(name) * 4 > self.name_length and len(name.encode()) > self.name_length:
            self.hits["thread_name_length"] += 1
            return bounded_name(name, self.name_length)
        return name


def bounded_name(name: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes: a prefix of `name`, `~`, and 32 hex digits of a hash of the whole name.

    Deterministic (the same long name always gives the same label, across scrapes, reloads and restarts) and
    collision-resistant (blake2b, 128 bits), so two long names never merge into one group."""
    raw = name.encode()
    if len(raw) <= limit:
        return name
    from hashlib import blake2b  # only when a name is cut: keeps the common agent's imports small

    suffix = "~" + blake2b(raw, digest_size=_HASH_HEX // 2).hexdigest()
    keep = max(limit - len(suffix), 0)
    # Cut on a character boundary ("ignore" drops a partial UTF-8 sequence at the end of the prefix).
    return raw[:keep].decode("utf-8", "ignore") + suffix if keep else suffix[:limit]
