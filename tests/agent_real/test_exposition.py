"""Unit tests of the exposition parser the side-by-side tests rely on (pure; no processes)."""

from __future__ import annotations

import math

import pytest

from agent_real import exposition as ex

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
