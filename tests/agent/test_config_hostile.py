"""Config files a hostile or broken writer can produce: every one is refused (or read) with one bounded line, never a
traceback, never unbounded time or memory. Configs are real files loaded through load_config, and the start-up path
is checked end to end through the agent's command line (exit status 2, one line on stderr)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from process_monitor_agent import boundedyaml
from process_monitor_agent.config import MAX_WARNINGS, ConfigError, load_config
from process_monitor_agent.rules import ProcAttrs


def billion_laughs(levels: int = 9, fan: int = 9) -> str:
    """~1 KB of anchors whose last alias expands to fan**levels scalars."""
    lines = ["a0: &a0 [" + ",".join(["lol"] * fan) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * fan) + "]")
    lines.append(f"process_names:\n  - name: bomb\n    comm: *a{levels - 1}")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias-bomb": (billion_laughs(), "more than 50000 nodes after alias expansion"),
    "alias-bomb-unknown-key": (billion_laughs().replace("process_names:\n  - name: bomb\n    comm: *a8",
                                                         "process_names: []\nx: *a8"),
                               "more than 50000 nodes after alias expansion"),
    "deep-nesting": ("process_names: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper than 64 levels"),
    "deep-nesting-unknown-key": ("x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\nprocess_names: []\n",
                                 "nested deeper than 64 levels"),
    "deep-block-nesting": ("".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
                           "nested deeper than 64 levels"),
    "recursive-alias": ("process_names: &a [*a]\n", "recursive alias"),
    "flat-but-huge": ("process_names:\n" + "  - {name: x, comm: [a]}\n" * 20000, "more than 50000 nodes"),
    "python-tag": ("process_names: !!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
    "undefined-alias": ("process_names: *nowhere\n", "found undefined alias"),
    "not-utf8": (b"process_names:\n  - comm: [\xff\xfe]\n", "invalid YAML"),
    "nul-byte": ("process_names:\n  - comm: [a\0b]\n", "invalid YAML"),
    "huge-regex": ("process_names:\n  - cmdline: ['(" + "a" * 500_000 + "']\n", "is not a valid RE2 regex"),
    "regex-memory-bomb": ("process_names:\n" + "".join(f"  - cmdline: ['[^x]{{999}}y{i}']\n" for i in range(200)),
                          "compile to more than 1000000 RE2 instructions in all"),
    "huge-template": ("process_names:\n  - name: '{{" + ".x" * 200_000 + "}}'\n    comm: [a]\n",
                      "unknown template field .x"),
}


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / f"{name}.yaml"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_one_bounded_config_error(tmp_path: Path, case: str) -> None:
    text, expected = HOSTILE[case]
    path = write(tmp_path, case, text)
    with pytest.raises(ConfigError) as ei:
        load_config(str(path))
    msg = str(ei.value)
    assert expected in msg, msg
    assert msg.startswith(str(path)) and "\n" not in msg
    assert len(msg) < 600, f"{len(msg)}-character message quotes too much input"


def test_file_over_the_size_limit_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.write(b"process_names: []\n")
        f.truncate(64 * 1024 * 1024)  # sparse: 64 MiB that cost nothing to write
    with pytest.raises(ConfigError, match=rf"larger than the {boundedyaml.MAX_BYTES} bytes allowed"):
        load_config(str(path))


def test_scalars_read_as_process_exporter_reads_them(tmp_path: Path) -> None:
    """yaml.v2 into Go string fields keeps the scalar's text: no YAML 1.1 booleans, sexagesimals, hex or bigints."""
    digits = "9" * 5000
    path = write(tmp_path, "scalars", (
        "process_names:\n"
        "  - name: 0x10\n    comm: [yes, no, on, ~]\n"
        "  - name: true\n    cmdline: [1:20]\n"
        f"  - name: {digits}\n    exe: [{digits}, 1e3, .inf, 2001-12-14]\n"
        f"unknown_big_int: {digits}\n"
    ))
    cfg = load_config(str(path))
    first, second, third = cfg.rules.entries
    assert first.template.source == "0x10" and first.comms == frozenset({"yes", "no", "on", ""})
    assert second.template.source == "true" and [rx.pattern for rx in second.regexes] == ["1:20"]
    assert third.template.source == digits and set(third.exes) == {digits, "1e3", ".inf", "2001-12-14"}
    assert cfg.rules.name_of(ProcAttrs("yes", ["yes"])) == "0x10"
    assert cfg.rules.name_of(ProcAttrs("x", ["sleep", "1:20"])) == "true"
    assert cfg.rules.name_of(ProcAttrs("x", ["sleep", "80"])) is None  # 1:20 is not the sexagesimal 80


def test_merge_keys_and_reused_anchors_within_limits_load(tmp_path: Path) -> None:
    path = write(tmp_path, "merge", (
        "common: &common {comm: [nginx, httpd]}\n"
        "lists: &c [a, b]\n"
        "process_names:\n  - <<: *common\n    name: web\n  - {name: web2, comm: *c}\n"
    ))
    rules = load_config(str(path)).rules
    assert rules.name_of(ProcAttrs("httpd", ["httpd"])) == "web"
    assert rules.name_of(ProcAttrs("b", ["b"])) == "web2"


def test_thousands_of_unknown_keys_give_a_bounded_number_of_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "typos", "process_names:\n  - comm: [a]\n" + "".join(
        f"    typo{i}: x\n" for i in range(5000)))
    cfg = load_config(str(path))
    assert len(cfg.warnings) == MAX_WARNINGS + 1
    assert "and 4990 more warnings like these" in cfg.warnings[-1]


@pytest.mark.parametrize("case", ["alias-bomb", "deep-nesting", "flat-but-huge", "huge-regex"])
def test_agent_start_up_with_hostile_config_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    path = write(tmp_path, case, HOSTILE[case][0])
    proc = subprocess.run(
        [sys.executable, "-m", "process_monitor_agent", "-config.path", str(path), "-web.listen-address",
         "127.0.0.1:0"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("process-monitor-agent: config error: "), proc.stderr
    assert HOSTILE[case][1] in lines[0]


def test_only_the_first_document_is_read_as_yaml_v2_does(tmp_path: Path) -> None:
    path = write(tmp_path, "docs", "process_names:\n  - comm: [a]\n---\nprocess_names: [\n")
    assert len(load_config(str(path)).rules.entries) == 1
