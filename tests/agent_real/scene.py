"""The standard cast of processes for the side-by-side tests, the config that groups them, and expected answers.

Built once per test module (`build`); `Scene.run(impl, flags)` starts an exporter over it, scrapes once, stops it,
and memoizes the samples, so each (implementation, flags) pair costs one exporter start per module.
Every name starts with a random prefix, so other processes on the machine never fall into these groups.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

from harness import exporters, realprocs
from harness import exposition as ex
from pytest import approx


@dataclass
class Scene:
    prefix: str
    ps: realprocs.ProcSet
    workdir: pathlib.Path
    config: pathlib.Path
    members: dict[str, list[int]]  # expected group name -> pids in it (children included)
    multi_threaded: set[str]  # groups holding a process with more than one thread
    absent: set[str]  # group names that must not appear (first match wins, AND of selectors)
    _runs: dict[tuple[str, tuple[str, ...]], list[ex.Sample]] = field(default_factory=dict)

    def run(self, impl: exporters.Implementation, flags: tuple[str, ...] = ()) -> list[ex.Sample]:
        """Samples of one scrape of `impl` started with `-config.path <config>` plus `flags` (memoized)."""
        key = (impl.name, flags)
        if key not in self._runs:
            args = list(flags) if any(f.lstrip("-").startswith(("procnames", "namemapping")) for f in flags) else [
                "-config.path", str(self.config), *flags]
            with exporters.Exporter(impl, args, self.workdir) as exp:
                self._runs[key] = ex.parse(exp.scrape())
        return self._runs[key]

    def ours(self, samples: list[ex.Sample]) -> list[ex.Sample]:
        """Only the samples of groups this scene could produce (drops the exporter's own metrics)."""
        return [s for s in samples if s.name.startswith(ex.GROUP_PREFIX)]


def build(ps: realprocs.ProcSet, prefix: str) -> Scene:
    """Spawn the cast and write the config. Entry order matters (first match wins)."""
    p = prefix
    members: dict[str, list[int]] = {}

    def add(group: str, *pids: int) -> None:
        members.setdefault(group, []).extend(pids)

    # comm matcher, {{.Comm}} name: three renamed sleeps, plus a child of `own` that matches this entry itself.
    for _ in range(3):
        add(f"{p}-alpha", ps.sleeper(f"{p}-alpha").pid)
    own = ps.worker(f"{p}-own", children=[ps.child_argv(f"{p}-alpha")])
    add(f"{p}-alpha", *own.children)
    add("own", own.pid)
    # First match wins: this process matches "fm-first" (comm) and "fm-second" (cmdline); it lands in the first.
    add("fm-first", ps.worker(f"{p}-fm").pid)
    # exe matcher without '/': basename of argv[0] (not comm, not /proc/pid/exe).
    add(f"exe-{p}-daemon", ps.sleeper(f"{p}-dmn", argv0=f"/opt/{p}/bin/{p}-daemon").pid)
    # exe matcher with '/': argv[0] exactly; {{.ExeFull}} in the name.
    full = ps.sleeper(f"{p}-full")
    full_path = str(ps.link(f"{p}-full"))
    add(f"full:{full_path}", full.pid)
    # cmdline regexes are ANDed; a named capture feeds {{.Matches.role}}.
    for role in ("ingest", "egest"):
        add(f"cmd-{role}", ps.worker(f"{p}-cmd", tokens=[f"{p}-cmdtok", f"--role={role}"]).pid)
    # A multi-threaded process with renamed threads and extra open files.
    add(f"{p}-thr", ps.worker(f"{p}-thr", threads=4, thread_name=f"{p}-t", files=6).pid)
    # -children: the two unmatched children count in their parent's group.
    par = ps.worker(f"{p}-par", children=[ps.child_argv(f"{p}-kid"), ps.child_argv(f"{p}-kid")])
    add("par", par.pid, *par.children)
    # {{.Username}} and {{.PID}} in the name.
    usr = ps.sleeper(f"{p}-usr")
    add(f"user-root-{usr.pid}", usr.pid)
    # AND inside one entry: comm matches, cmdline does not -> no group at all.
    ps.sleeper(f"{p}-and")

    process_names: list[dict[str, object]] = [
        {"name": "{{.Comm}}", "comm": [f"{p}-alpha"]},
        {"name": "fm-first", "comm": [f"{p}-fm"]},
        {"name": "fm-second", "cmdline": [f"--comm {p}-fm"]},
        {"name": "exe-{{.ExeBase}}", "exe": [f"{p}-daemon"]},
        {"name": "full:{{.ExeFull}}", "exe": [full_path]},
        {"name": "cmd-{{.Matches.role}}", "cmdline": [f"{p}-cmdtok", "--role=(?P<role>[a-z]+)"]},
        {"name": "{{.Comm}}", "comm": [f"{p}-thr"]},
        {"name": "par", "comm": [f"{p}-par"]},
        {"name": "own", "comm": [f"{p}-own"]},
        {"name": "user-{{.Username}}-{{.PID}}", "comm": [f"{p}-usr"]},
        {"name": "and", "comm": [f"{p}-and"], "cmdline": ["no-such-argument-xyzzy"]},
    ]
    config = exporters.write_config(ps.workdir / "config.yaml", process_names)
    return Scene(
        prefix=p, ps=ps, workdir=ps.workdir, config=config, members=members,
        multi_threaded={f"{p}-thr"}, absent={"fm-second", "and"},
    )


def truth_by_group(scene: Scene, metric: str) -> dict[str, float]:
    """What /proc says each group's gauge should be, for the gauges a sleeping cast keeps still."""
    out: dict[str, float] = {}
    for group, pids in scene.members.items():
        ts = [realprocs.truth(pid) for pid in pids]
        out[group] = float({
            "num_procs": len(ts),
            "num_threads": sum(t.num_threads for t in ts),
            "open_filedesc": sum(t.open_fds for t in ts),
            "resident": sum(t.resident for t in ts),
            "virtual": sum(t.virtual for t in ts),
            "threads_once": sum(len(t.thread_states) for t in ts),
        }[metric])
    return out


# Metric families whose every sample must be equal; memory gets a tolerance (PSS moves with other sharers).
EXACT = ["num_procs", "num_threads", "open_filedesc", "worst_fd_ratio", "thread_count", "cpu_seconds_total",
         "read_bytes_total", "write_bytes_total", "major_page_faults_total", "minor_page_faults_total",
         "context_switches_total"]


def diff_group(agent: list[ex.Sample], peer: list[ex.Sample], group: str, skip_states: bool) -> list[str]:
    """Every difference between two exporters' samples of one group, as readable lines (empty: the same).

    `skip_states` leaves out `states`, which deliberately differs for multi-threaded processes (upstream #338).
    """
    a, p = ex.group_labelsets(agent, group), ex.group_labelsets(peer, group)
    problems = []
    for metric in [*EXACT, "states"]:
        name = ex.GROUP_PREFIX + metric
        if metric == "states" and skip_states:
            continue
        if a.get(name) != p.get(name):
            problems.append(f"{group} {metric}: agent {a.get(name)} != peer {p.get(name)}")
    mem_a, mem_p = a.get(ex.GROUP_PREFIX + "memory_bytes", {}), p.get(ex.GROUP_PREFIX + "memory_bytes", {})
    if set(mem_a) != set(mem_p):
        problems.append(f"{group} memory_bytes label sets: agent {sorted(mem_a)} != peer {sorted(mem_p)}")
    for key in set(mem_a) & set(mem_p):
        rel = 0.10 if "proportional" in str(key) else 0.01
        if mem_a[key] != approx(mem_p[key], rel=rel, abs=64 * 1024):
            problems.append(f"{group} memory_bytes{key}: agent {mem_a[key]} vs peer {mem_p[key]}")
    start = ex.GROUP_PREFIX + "oldest_start_time_seconds"
    if a.get(start, {}).get(()) != approx(p.get(start, {}).get(()), abs=0.02):
        problems.append(f"{group} oldest_start_time_seconds: agent {a.get(start)} vs peer {p.get(start)}")
    return problems
