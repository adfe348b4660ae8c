"""Command line: Go-flag compatible parsing (both dash styles, -flag=false, durations), process-exporter's flag
set, config errors as one line with exit status 2, and -once-to-stdout-delay end to end on a fixed fake tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from process_monitor_agent.cli import FLAGS
from process_monitor_agent.flags import FlagError, FlagSet, HelpRequested, parse_duration

FIX = Path(__file__).resolve().parent.parent / "fixtures"
UPSTREAM_FLAGS = (
    "config.path",
    "web.listen-address",
    "web.telemetry-path",
    "web.config.file",
    "procfs",
    "children",
    "threads",
    "gather-smaps",
    "recheck",
    "recheck-with-time-limit",
    "remove-empty-groups",
    "procnames",
    "namemapping",
    "once-to-stdout-delay",
    "debug",
    "version",
)


def parse(*argv: str):
    return FlagSet("t", FLAGS).parse(argv)[0]


def test_every_upstream_flag_exists_with_upstream_defaults() -> None:
    names = {f.name for f in FLAGS}
    assert set(UPSTREAM_FLAGS) <= names
    d = parse()
    assert d["web.listen-address"] == ":9256" and d["web.telemetry-path"] == "/metrics" and d["procfs"] == "/proc"
    assert d["children"] is True and d["threads"] is True and d["gather-smaps"] is True
    assert d["recheck"] is False and d["remove-empty-groups"] is False and d["report.missing-groups"] is False
    assert d["gather-smaps.interval"] == 300.0


def test_dash_styles_and_booleans() -> None:
    d = parse("-procfs", "/host/proc", "--config.path=/etc/x.yaml", "-threads=false", "--children=0",
              "-recheck", "--gather-smaps=false", "-web.listen-address", "127.0.0.1:1")
    assert d["procfs"] == "/host/proc" and d["config.path"] == "/etc/x.yaml"
    assert d["threads"] is False and d["children"] is False and d["recheck"] is True and d["gather-smaps"] is False
    assert d["web.listen-address"] == "127.0.0.1:1"
    fs = FlagSet("t", FLAGS)
    vals, rest = fs.parse(["-debug", "--", "-version"])
    assert vals["debug"] is True and vals["version"] is False and rest == ["-version"]


def test_durations() -> None:
    assert parse_duration("5m") == 300 and parse_duration("1h30m") == 5400 and parse_duration("250ms") == 0.25
    assert parse_duration("0") == 0 and parse_duration("1.5s") == 1.5
    assert parse("-once-to-stdout-delay", "2s")["once-to-stdout-delay"] == 2.0
    assert parse("--recheck-with-time-limit=1m")["recheck-with-time-limit"] == 60.0
    for bad in ("5", "abc", "5x", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_flag_errors() -> None:
    with pytest.raises(FlagError, match="flag provided but not defined: -nope"):
        parse("-nope")
    with pytest.raises(FlagError, match="flag needs an argument: -procfs"):
        parse("-procfs")
    with pytest.raises(FlagError, match="invalid boolean value"):
        parse("-threads=maybe")
    with pytest.raises(FlagError, match="invalid value"):
        parse("-gather-smaps.interval=5")
    with pytest.raises(HelpRequested):
        parse("--help")


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "process_monitor_agent", *args], capture_output=True, text=True, timeout=timeout
    )


def test_bad_config_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("process_names:\n  - name: web\n    cmdline: ['(unclosed']\n")
    r = run("-config.path", str(bad), "-once-to-stdout-delay", "1ms")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "process_names[0] (name 'web')" in lines[0] and "cmdline[0]" in lines[0]
    r = run("-config.path", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "cannot read config" in r.stderr and "Traceback" not in r.stderr
    r = run("-config.path", str(bad), "-procnames", "x")
    assert r.returncode == 2 and "cannot be used with" in r.stderr
    r = run("--no-such-flag")
    assert r.returncode == 2 and "flag provided but not defined: -no-such-flag" in r.stderr


def test_version_and_help() -> None:
    r = run("--version")
    assert r.returncode == 0 and "process-monitor-agent" in r.stdout
    r = run("-h")
    assert r.returncode == 0 and "-gather-smaps.interval duration" in r.stderr


def test_once_to_stdout_on_fixture_tree() -> None:
    r = run(
        "-procfs", str(FIX / "procfs-golden"), "-config.path", str(FIX / "golden-config.yaml"),
        "-once-to-stdout-delay", "10ms", "-report.missing-groups",
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert 'namedprocess_namegroup_num_procs{groupname="nginx"} 2' in out
    assert 'namedprocess_namegroup_num_procs{groupname="app:orders"} 1' in out
    assert 'namedprocess_namegroup_num_procs{groupname="postgres"} 0' in out
    assert 'namedprocess_namegroup_num_threads{groupname="app:orders"} 3' in out
    assert 'namedprocess_namegroup_open_filedesc{groupname="nginx"} 28' in out
    assert "# TYPE namedprocess_scrape_procread_errors counter" in out
    for own in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info",
                "process_monitor_agent_collection_duration_seconds", "process_max_fds"):
        assert f"\n{own}" in out


@pytest.mark.parametrize("case", sorted((FIX.parent / "operator" / "cases").glob("*.yaml")), ids=lambda p: p.stem)
def test_operator_rendered_args_parse_and_leave_the_lifecycle_api_off(case: Path) -> None:
    """The operator relies on the file watch for reloads, never on POST /-/reload: its DaemonSet's args must parse
    with the agent's own flag set and must not turn -web.enable-lifecycle on."""
    import yaml
    from process_monitor_operator.render import RenderOptions, render_all

    ds = next(m for m in render_all(yaml.safe_load(case.read_text()), RenderOptions()) if m["kind"] == "DaemonSet")
    args = ds["spec"]["template"]["spec"]["containers"][0]["args"]
    opts, rest = FlagSet("t", FLAGS).parse(args)
    assert rest == [] and opts["web.enable-lifecycle"] is False and opts["config.path"]


def test_int_flags_parse_as_go_does() -> None:
    assert parse("-web.max-connections", "128")["web.max-connections"] == 128
    assert parse("--web.max-connections=0x10")["web.max-connections"] == 16
    with pytest.raises(FlagError, match=r'invalid value "many" for flag -web\.max-connections'):
        parse("-web.max-connections=many")
