"""Unit tests of the Dockerfile/.dockerignore parsers the packaging tests rely on."""

from __future__ import annotations

import pytest
from dockerfile_facts import copy_sources, dockerignored, exec_form, instructions, pinned_version


def test_instructions_join_continuations_and_skip_comments() -> None:
    text = "# c\nFROM a AS b\nRUN x \\\n  # inner\n  && y\nCOPY --from=b /o /o\nCOPY p q ./\n"
    insts = instructions(text)
    assert [i.keyword for i in insts] == ["FROM", "RUN", "COPY", "COPY"]
    assert insts[1].args == "x && y"
    assert copy_sources(insts[2]) == []
    assert copy_sources(insts[3]) == ["p", "q"]


def test_dockerignore_allow_list() -> None:
    rules = "*\n!agent/\n!docker/constraints.txt\n**/__pycache__\n"
    assert dockerignored(rules, "tests/x.py")
    assert not dockerignored(rules, "agent/")
    assert not dockerignored(rules, "agent/pkg/mod.py")
    assert dockerignored(rules, "agent/pkg/__pycache__/mod.pyc")
    assert not dockerignored(rules, "docker/constraints.txt")
    assert dockerignored(rules, "docker/other.txt")


def test_exec_form_and_pins() -> None:
    assert exec_form('["/opt/venv/bin/a", "-x"]') == ["/opt/venv/bin/a", "-x"]
    with pytest.raises(ValueError):
        exec_form("a -x")
    assert pinned_version("python:3.11.13-slim-bookworm") == "3.11.13"
    assert pinned_version("python:3.11-slim") is None
