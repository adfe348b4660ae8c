"""Config validation table (every error names the entry and the problem) and matching semantics."""

from __future__ import annotations

import pytest
from process_monitor_agent.config import ConfigError, from_flags, parse_config
from process_monitor_agent.rules import ProcAttrs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("process_names: [", "invalid YAML at line 1"),
        (
            "process_names:\n  - name: x\n    cmdline: ['(']\n",
            "process_names[0] (name 'x'): cmdline[0] '(' is not a valid RE2 regex: missing )",
        ),
        ("process_names:\n  - name: x\n    cmdline: ['(?<=a)b']\n", "not a valid RE2 regex"),
        (
            "process_names:\n  - comm: [a]\n  - name: '{{.Foo}}'\n    comm: [b]\n",
            "process_names[1] (name '{{.Foo}}'): unknown template field .Foo",
        ),
        ("process_names:\n  - name: '{{printf \"%s\" .Comm}}'\n    comm: [a]\n", "unsupported template construct"),
        ("process_names:\n  - name: '{{.Comm'\n    comm: [a]\n", "unclosed action"),
        ("process_names:\n  - name: x\n", "process_names[0] (name 'x'): no matchers provided"),
        ("process_names:\n  - name: x\n    comm: []\n", "no matchers provided"),
        ("process_names:\n  - name: x\n    comm: bash\n", "comm must be a list of strings"),
        ("process_names:\n  - name: x\n    cmdline: [[a]]\n", "cmdline[0] must be a string"),
        ("process_names: {a: 1}\n", "process_names must be a list"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("process_names:\n  - just-a-string\n", "process_names[0] must be a mapping"),
        ("process_names:\n  - name: [5]\n    comm: [a]\n", "name must be a string, got a list of 1 items"),
    ],
)
def test_bad_configs_name_entry_and_problem(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "cfg.yaml")
    msg = str(ei.value)
    assert expected in msg, msg
    assert msg.startswith("cfg.yaml") and "\n" not in msg


def test_unknown_keys_accepted_with_warning() -> None:
    cfg = parse_config("process_names:\n  - name: x\n    comm: [a]\n    cmdlin: ['b']\nextra: 1\n", "c")
    assert len(cfg.rules.entries) == 1
    assert any("cmdlin" in w for w in cfg.warnings) and any("extra" in w for w in cfg.warnings)


def test_empty_config_is_valid_and_matches_nothing() -> None:
    assert parse_config("", "c").rules.entries == []


def attrs(comm: str, cmdline: list[str], **kw) -> ProcAttrs:
    return ProcAttrs(comm, cmdline, **kw)


def test_exe_rules_basename_and_full_path() -> None:
    rules = parse_config(
        "process_names:\n  - name: base\n    exe: [postgres]\n  - name: full\n    exe: [/opt/bin/redis-server]\n"
    ).rules
    assert rules.name_of(attrs("postgres", ["/usr/lib/postgresql/16/bin/postgres", "-D", "x"])) == "base"
    assert rules.name_of(attrs("redis-server", ["/opt/bin/redis-server"])) == "full"
    assert rules.name_of(attrs("redis-server", ["/usr/bin/redis-server"])) is None
    assert rules.name_of(attrs("postgres", [])) is None  # kernel thread / zombie: empty argv never matches exe


def test_and_inside_entry_or_inside_lists() -> None:
    rules = parse_config(
        "process_names:\n  - name: '{{.Comm}}'\n    comm: [a, b]\n    cmdline: ['--prod', 'port=(?P<port>\\d+)']\n"
    ).rules
    assert rules.name_of(attrs("a", ["a", "--prod", "port=80"])) == "a"
    assert rules.name_of(attrs("b", ["b", "--prod"])) is None
    assert rules.name_of(attrs("c", ["c", "--prod", "port=80"])) is None


def test_default_name_is_exebase_and_matches_capture() -> None:
    rules = parse_config(
        "process_names:\n  - cmdline: ['x']\n  - name: '{{.Matches.who}}-{{.Matches.nope}}'\n"
        "    cmdline: ['hello (?P<who>\\w+)']\n"
    ).rules
    assert rules.name_of(attrs("python3", ["/usr/bin/python3.11", "x"])) == "python3.11"
    assert rules.name_of(attrs("sh", ["sh", "-c", "hello world"])) == "world-<no value>"


def test_static_names() -> None:
    rules = parse_config(
        "process_names:\n  - name: a\n    comm: [a]\n  - name: '{{.Comm}}'\n    comm: [b]\n  - name: a\n    comm: [c]\n"
    ).rules
    assert rules.static_names == ("a",)


def test_namemapping_errors_and_semantics() -> None:
    with pytest.raises(ConfigError, match="odd number"):
        from_flags("", "a,b,c")
    with pytest.raises(ConfigError, match="not a valid RE2"):
        from_flags("", "a,(")
    rules = from_flags("bash", "java,-jar (\\S+)").rules
    assert rules.name_of(attrs("java", ["java", "-jar", "app.jar"])) == "java:app.jar"
    assert rules.name_of(attrs("java", ["java", "-version"])) is None
    assert rules.name_of(attrs("bash", ["bash"])) == "bash"
    assert rules.static_names == ("bash",)


def test_config_from_document_for_other_components() -> None:
    """The operator validates spec.processNames with the agent's own code: same rules, its own labels."""
    from process_monitor_agent.config import config_from_document

    ok = config_from_document({"process_names": [{"name": "{{.Comm}}", "cmdline": [".+"]}]}, "pm/x", "processNames")
    assert len(ok.rules.entries) == 1
    with pytest.raises(ConfigError, match=r"^pm/x: processNames\[1\] \(name 'b'\): cmdline\[0\]"):
        config_from_document({"process_names": [{"comm": ["a"]}, {"name": "b", "cmdline": ["("]}]}, "pm/x",
                             "processNames")
