"""Config files written for process-exporter must mean the same to the agent (side by side on the real /proc):
unknown keys ignored (yaml.v2 non-strict), Go template spacing and trim markers, RE2 syntax (flags, Unicode
classes, named captures), an empty process_names list; and configs process-exporter refuses at start-up are
refused by the agent too (non-zero exit, nothing served).
"""

from __future__ import annotations

import pathlib
import subprocess
from collections.abc import Iterator

import pytest
import yaml
from harness import exporters, realprocs
from harness import exposition as ex

from agent_real.conftest import require, unique_prefix

pytestmark = [pytest.mark.realproc, pytest.mark.peer, pytest.mark.timeout(300)]

IMPLS = [exporters.DEBIAN, exporters.UPSTREAM, exporters.AGENT]


@pytest.fixture(scope="module")
def compat(procset: realprocs.ProcSet) -> Iterator[tuple[str, pathlib.Path]]:
    """The cast (prefix) and an empty config; the compat config is written next to it."""
    p = unique_prefix()
    procset.worker(f"{p}-a")
    procset.worker(f"{p}-b")
    procset.worker(f"{p}-c", tokens=[f"{p}-cfgtok", "--mode=fast"])
    doc = {
        "process_names": [
            {"name": "{{ .Comm }}", "comm": [f"{p}-a"], "unknown_key": "ignored"},
            {"name": "pre- {{- .Comm -}} -post", "comm": [f"{p}-b"]},
            {"name": "re-{{.Matches.mode}}", "cmdline": [f"(?i){p.upper()}-CFGTOK", r"--mode=(?P<mode>\pL+)"]},
        ],
        "top_level_unknown": {"x": 1},
    }
    cfg = procset.workdir / "compat.yaml"
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    empty = procset.workdir / "empty.yaml"
    empty.write_text("process_names: []\n")
    yield p, empty


def scrape_with(procset: realprocs.ProcSet, impl: str, config: pathlib.Path) -> list[ex.Sample]:
    with exporters.Exporter(require(impl), ["-config.path", str(config)], procset.workdir) as exp:
        return ex.parse(exp.scrape())


@pytest.mark.parametrize("impl", IMPLS)
def test_unknown_keys_template_spacing_and_re2_syntax(procset: realprocs.ProcSet, compat: tuple, impl: str) -> None:
    p = compat[0]
    num_procs = ex.by_group(scrape_with(procset, impl, procset.workdir / "compat.yaml"), "num_procs")
    assert num_procs == {f"{p}-a": 1, f"pre-{p}-b-post": 1, "re-fast": 1}


@pytest.mark.parametrize("impl", IMPLS)
def test_empty_process_names_serves_no_groups(procset: realprocs.ProcSet, compat: tuple, impl: str) -> None:
    samples = scrape_with(procset, impl, compat[1])
    assert not [s for s in samples if s.name.startswith(ex.GROUP_PREFIX)]
    assert ex.select(samples, "namedprocess_scrape_errors")


BAD_CONFIGS = {
    "bad-regex": {"process_names": [{"name": "x", "cmdline": ["("]}]},
    "no-matcher": {"process_names": [{"name": "x"}]},
    "comm-not-a-list": {"process_names": [{"name": "x", "comm": {"a": 1}}]},
}


@pytest.mark.parametrize("bad", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("impl", IMPLS)
def test_config_refused_at_start_up(tmp_path: pathlib.Path, impl: str, bad: str) -> None:
    runner = require(impl)
    cfg = tmp_path / f"{bad}.yaml"
    cfg.write_text(yaml.safe_dump(BAD_CONFIGS[bad]))
    port = exporters.free_port()
    proc = subprocess.run([*runner.argv, "-config.path", str(cfg), "-web.listen-address", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=60, env=exporters.env_of(runner))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("impl", IMPLS)
def test_yaml_1_1_scalars_stay_strings_as_in_yaml_v2(procset: realprocs.ProcSet, impl: str) -> None:
    """yaml.v2 decodes into Go string fields by the scalar's text: `0x10`, `on` and `off` are names and comms, not
    16 or True, and `1:20` is the regex `1:20`, not the YAML 1.1 sexagesimal 80 (PyYAML's reading)."""
    p = unique_prefix()
    procset.worker(f"{p}-h")
    procset.worker(f"{p}-s", tokens=[f"{p}-at-1:20"])
    procset.worker(f"{p}-e", tokens=[f"{p}-at-80"])
    cfg = procset.workdir / f"{p}-scalars.yaml"
    cfg.write_text(
        "process_names:\n"
        f"  - name: 0x10\n    comm: [off, {p}-h]\n"
        f"  - name: on\n    comm: [{p}-s, {p}-e]\n    cmdline: [1:20]\n"
        f"unknown_big_int: {'9' * 5000}\n"
    )
    num_procs = ex.by_group(scrape_with(procset, impl, cfg), "num_procs")
    assert num_procs.get("0x10") == 1 and num_procs.get("on") == 1, num_procs
