"""Unit tests of harness.exposition, the exposition reader tests, benches and the quick start rely on (pure)."""

from __future__ import annotations

import math

import pytest
from harness import exposition as ex

TEXT = r'''# HELP namedprocess_namegroup_num_procs number of processes in this group
# TYPE namedprocess_namegroup_num_procs gauge
namedprocess_namegroup_num_procs{groupname="a"} 3
namedprocess_namegroup_num_procs{groupname="b \"q\" \\ x\ny"} 1
namedprocess_namegroup_states{groupname="a",state="Sleeping"} 2
namedprocess_namegroup_states{groupname="a",state="Running"} 1
namedprocess_namegroup_oldest_start_time_seconds{groupname="a"} 1.7e+09
namedprocess_scrape_errors 0
process_start_time_seconds 1.23456789e+09 1700000000000
weird{le="+Inf"} +Inf
nan_metric NaN
'''


def test_parse_names_labels_values() -> None:
    samples = ex.parse(TEXT)
    assert len(samples) == 9
    assert samples[0] == ex.Sample("namedprocess_namegroup_num_procs", {"groupname": "a"}, 3.0)
    assert samples[1].labels == {"groupname": 'b "q" \\ x\ny'}
    assert samples[6].value == pytest.approx(1.23456789e9)
    assert samples[7].value == math.inf
    assert math.isnan(samples[8].value)


def test_by_group_sums_unpinned_labels_and_filters_pinned() -> None:
    samples = ex.parse(TEXT)
    assert ex.by_group(samples, "states") == {"a": 3.0}
    assert ex.by_group(samples, "states", state="Running") == {"a": 1.0}
    assert ex.groups(samples) == {"a", 'b "q" \\ x\ny'}


def test_types_and_group_labelsets() -> None:
    assert ex.types(TEXT)["namedprocess_namegroup_num_procs"] == "gauge"
    sets = ex.group_labelsets(ex.parse(TEXT), "a")
    assert sets["namedprocess_namegroup_states"] == {(("state", "Sleeping"),): 2.0, (("state", "Running"),): 1.0}


@pytest.mark.parametrize("line", ['m{a="x} 1', "m_without_value", 'm{a="x"} notanumber', 'm{a=x} 1'])
def test_malformed_lines_raise(line: str) -> None:
    with pytest.raises(ex.ExpositionError):
        ex.parse(line)


def test_counter_without_total_keeps_its_served_name() -> None:
    # prometheus_client renames such a counter's samples to <name>_total; process-exporter serves it without.
    text = "# TYPE namedprocess_scrape_errors counter\nnamedprocess_scrape_errors 2\n" \
           "# TYPE x_total counter\nx_total{a=\"1\"} 3\n"
    assert [(s.name, s.value) for s in ex.parse(text)] == [("namedprocess_scrape_errors", 2.0), ("x_total", 3.0)]


def test_flat_keys_spell_the_series_as_served() -> None:
    flat = ex.flat(TEXT)
    assert flat['namedprocess_namegroup_states{groupname="a",state="Running"}'] == 1.0
    assert flat['namedprocess_namegroup_num_procs{groupname="b \\"q\\" \\\\ x\\ny"}'] == 1.0
    assert flat["namedprocess_scrape_errors"] == 0.0
    assert ex.labelsets(ex.parse(TEXT), "namedprocess_namegroup_num_procs")[frozenset({("groupname", "a")})] == 3.0
