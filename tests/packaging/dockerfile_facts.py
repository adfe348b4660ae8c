"""Small parsers for the packaging tests: Dockerfile instructions, .dockerignore rules, pyproject facts.

Used by tests/packaging/test_dockerfiles.py. Pure functions over text, so each is easy to check by hand.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword upper-cased, the rest with line continuations joined."""

    keyword: str
    args: str
    line: int


def instructions(text: str) -> list[Instruction]:
    """Parse a Dockerfile into instructions (comments dropped, `\\` continuations joined)."""
    out: list[Instruction] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction is ignored by BuildKit too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    return out


def copy_sources(inst: Instruction) -> list[str]:
    """Build-context sources of a COPY/ADD (none when it copies `--from` another stage)."""
    words = shlex.split(inst.args)
    if any(w.startswith("--from") for w in words):
        return []
    words = [w for w in words if not w.startswith("--")]
    if words and words[0].startswith("["):
        words = json.loads(inst.args[inst.args.index("[") :])
    return words[:-1]


def exec_form(args: str) -> list[str]:
    """ENTRYPOINT/CMD in JSON exec form -> argv; shell form is rejected (signals would go to /bin/sh)."""
    if not args.startswith("["):
        raise ValueError(f"not exec form: {args}")
    return list(json.loads(args))


def _pattern_matches(pattern: str, path: str) -> bool:
    """Docker's rule: a pattern excludes a path if it matches the path or any of its parent directories."""
    pattern = pattern.rstrip("/")
    if pattern.startswith("**/"):
        tail = pattern[3:]
        return any(fnmatch.fnmatchcase(part, tail) for part in path.split("/")) or fnmatch.fnmatchcase(path, tail)
    parts = path.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1))


def dockerignored(rules_text: str, path: str) -> bool:
    """True when .dockerignore `rules_text` leaves `path` (relative, `/`-separated) out of the build context.

    The last matching rule wins; `!rule` re-includes. Enough of Docker's semantics for an allow-list file.
    """
    excluded = False
    for raw in rules_text.splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        if _pattern_matches(rule.lstrip("!"), path.strip("/")):
            excluded = not negate
    return excluded


def pinned_version(image: str) -> str | None:
    """`python:3.11.13-slim-bookworm` -> `3.11.13`; None when the tag names no full x.y.z version."""
    match = re.search(r":(\d+\.\d+\.\d+)", image)
    return match.group(1) if match else None
