"""Unit tests of export/: the value formatter and escaping (textformat), the family declarations (families, own)
against what the collector really writes, and the selection for the flags. Expositions are read back with
prometheus_client's parser; the golden tree is tests/agent/make_golden_tree.py's."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from make_golden_tree import build
from process_monitor_agent.collector import Collector
from process_monitor_agent.config import load_config
from process_monitor_agent.export import families, own
from process_monitor_agent.export.families import BY_NAME, select
from process_monitor_agent.export.textformat import Family, escape_help, fmt_value
from process_monitor_agent.track import Settings
from prometheus_client.parser import text_string_to_metric_families

FIX = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize("value, want", [
    (0, "0"), (7, "7"), (999_999, "999999"), (1_000_000, "1e+06"), (123_456_789, "1.23456789e+08"),
    (5.0, "5"), (0.5, "0.5"), (-0.25, "-0.25"), (0.0001, "0.0001"), (0.00001, "1e-05"), (123.45, "123.45"),
    (999_999.5, "999999.5"), (1_234_567.5, "1.2345675e+06"), (1.5e-7, "1.5e-07"), (1 / 3, "0.3333333333333333"),
    (1.7976931348623157e308, "1.7976931348623157e+308"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"),
    (math.nan, "NaN"), (-62135596800, "-6.21355968e+10"),
])
def test_fmt_value_as_go_formats_floats(value: float, want: str) -> None:
    assert fmt_value(value) == want


def test_family_write_escapes_values_and_leaves_out_absent_labels() -> None:
    fam = Family("x_info", 'a "help"\\ with\nnewline', "gauge", ("a", "b", "c"))
    out: list[str] = []
    fam.write(out, [(('q"uo\\te\n', None, "3"), 1)])
    assert "".join(out) == (
        '# HELP x_info a "help"\\\\ with\\nnewline\n# TYPE x_info gauge\n'
        'x_info{a="q\\"uo\\\\te\\n",c="3"} 1\n'
    )
    assert escape_help("a\\b") == "a\\\\b"


def test_own_family_without_samples_is_written_as_a_header() -> None:
    out: list[str] = []
    own.READ_ERRORS_TOTAL.write(out, [])
    assert "".join(out) == own.READ_ERRORS_TOTAL.header


def test_select_is_sorted_by_name_and_follows_the_flags() -> None:
    with_threads, without = select(threads=True), select(threads=False)
    assert [f.name for f in with_threads] == sorted(f.name for f in with_threads)
    assert set(without) == set(families.GROUP_FAMILIES)
    assert set(with_threads) - set(without) == set(families.THREAD_FAMILIES)
    assert set(select(threads=False, gpu=True)) - set(without) == {f for f in BY_NAME.values() if "_gpu_" in f.name
                                                                  and f.samples is not None}


def test_names_are_declared_once() -> None:
    declared = [*families.GROUP_FAMILIES, *families.THREAD_FAMILIES, *own.ALL,
                *(f for f in BY_NAME.values() if f.name.startswith("namedprocess_namegroup_gpu_"))]
    assert len({f.name for f in declared}) == len(declared) == len(BY_NAME)
    assert all(f.kind in ("counter", "gauge") for f in BY_NAME.values())
    assert families.CPU_SECONDS_TOTAL is BY_NAME["namedprocess_namegroup_cpu_seconds_total"]


def check_against_declarations(text: str, skip_prefixes: tuple[str, ...] = ()) -> set[str]:
    """Every family in `text` is declared with the same help and type, and every sample carries exactly the
    declared labels (plus groupname for per-group families). Returns the names seen."""
    seen = set()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.startswith(skip_prefixes):
                continue
            # prometheus_client's parser adds _total to samples of a counter named without it (upstream's
            # namedprocess_scrape_errors): the declared name is the one written.
            decl = BY_NAME.get(s.name) or BY_NAME[s.name.removesuffix("_total")]
            seen.add(decl.name)
            assert (fam.documentation, fam.type) == (decl.help, decl.kind), decl.name
            want = {*decl.labels, "groupname"} if decl.samples is not None else set(decl.labels)
            assert set(s.labels) == want, (decl.name, s.labels)
    return seen


def test_golden_exposition_matches_the_declarations() -> None:
    seen = check_against_declarations((FIX / "golden" / "exposition.txt").read_text())
    assert {f.name for f in select(threads=True)} <= seen


def test_everything_the_collector_writes_is_declared_or_standard(tmp_path: Path) -> None:
    fp = build(tmp_path / "proc")
    c = Collector(Settings(procfs=str(fp.root)), load_config(str(FIX / "golden-config.yaml")),
                  report_missing_groups=True, self_metrics=True)
    c.collect()
    text = c.collect().decode()
    seen = check_against_declarations(text, skip_prefixes=("process_cpu", "process_open", "process_max",
                                                           "process_virtual", "process_resident", "process_start",
                                                           "python_"))
    assert {own.SCRAPE_ERRORS.name, own.COLLECTIONS_TOTAL.name, own.CONFIG_RELOADS_TOTAL.name} <= seen
    names = {f.name for f in text_string_to_metric_families(text)}
    # the standard metrics, through prometheus_client's collectors, under their usual names
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "process_max_fds", "python_info",
            "python_gc_collections"} <= names
