"""k8s/serialize.to_yaml quotes strings that kubectl (Go's YAML reader) would read as numbers.

Found in the wild: a digest annotation of hex digits that happened to be `<digits>e<digits>` reached kubectl
plain, was read as a float and the apply failed with "cannot unmarshal number into ... annotations".
"""

from __future__ import annotations

import pytest
import yaml
from process_monitor_operator.k8s.serialize import to_yaml


@pytest.mark.parametrize("value", ["123e4567", "1e3", "1E+3", "-2e-5", "0o17", "0x1F", ".5e1", "+.inf", ".NaN",
                                   "12", "1.5"])
def test_number_like_strings_are_quoted(value: str) -> None:
    text = to_yaml([{"metadata": {"annotations": {"d": value}}}])
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("d:"))
    assert line.strip() in (f"d: '{value}'", f'd: "{value}"'), text
    assert yaml.safe_load(text)["metadata"]["annotations"]["d"] == value


@pytest.mark.parametrize("value", ["abc123", "1e3x", "e5", "0o9", "v1.2.3", "a b"])
def test_other_strings_stay_plain(value: str) -> None:
    text = to_yaml([{"k": value}])
    assert f"k: {value}\n" in text, text
