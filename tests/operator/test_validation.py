"""Validation table: RE2 regexes and name templates, each message naming its entry; CRD defaults vs spec.DEFAULTS."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml
from process_monitor_operator import spec
from process_monitor_operator.validation import check_regex, check_template, validate

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _src(entries: list[Any]) -> spec.Source:
    return spec.load({"metadata": {"name": "t"}, "spec": {"processNames": entries}})


@pytest.mark.parametrize(("pattern", "ok"), [
    (".+", True), (r"-jar\s+(?P<app>\S+)\.jar", True), ("^/usr/bin/(java|python)$", True),
    ("(a", False), ("a**", False), (r"(?<=x)y", False),  # lookbehind: valid in Python re, not in RE2/Go
    (r"(a)\1", False),  # backreference: not RE2
])
def test_regex(pattern: str, ok: bool) -> None:
    assert (check_regex(pattern) is None) is ok


@pytest.mark.parametrize(("template", "ok"), [
    ("{{.Comm}}", True), ("{{.ExeBase}}", True), ("java:{{.Matches.app}}", True), ("{{.Username}}-{{.PID}}", True),
    ("plain", True), ("{{.Nope}}", False), ("{{.Comm", False), ("{{}}", False), ("{{exec}}", False),
    ('{{printf "%s" .ExeFull}}', False),  # Go builtins: not in the agent's template subset, so refused here too
])
def test_template(template: str, ok: bool) -> None:
    assert (check_template(template) is None) is ok


def test_messages_name_the_entry() -> None:
    problems = validate(_src([
        {"name": "good", "comm": ["a"]},
        {"name": "java", "cmdline": ["(unclosed"]},
        {"name": "{{.Bad}}", "comm": ["x"]},
        {"name": "empty"},
    ]))
    assert len(problems) == 3
    assert problems[0].startswith("processNames[1] (name 'java'): cmdline[0] '(unclosed' is not a valid RE2 regex")
    assert problems[1].startswith("processNames[2] (name '{{.Bad}}'): unknown template field .Bad")
    assert problems[2].startswith("processNames[3] (name 'empty'): no matchers provided")


def test_valid_spec_has_no_problems() -> None:
    assert validate(_src([{"name": "{{.Comm}}", "cmdline": [".+"]}])) == []


def test_load_rejects_non_processmonitor() -> None:
    with pytest.raises(ValueError, match=r"metadata\.name"):
        spec.load({"spec": {}})
    with pytest.raises(ValueError, match="kind"):
        spec.load({"kind": "Pod", "metadata": {"name": "x"}})


def _schema_defaults(schema: dict[str, Any]) -> Any:
    """The value the API server would default an empty object of `schema` to (recursively)."""
    if "default" in schema and schema.get("type") != "object":
        return schema["default"]
    if schema.get("type") == "object" and "properties" in schema:
        if "default" not in schema:
            return None  # an absent object is defaulted only when it has a default itself (spec.alerts has none)
        out = {k: _schema_defaults(v) for k, v in schema["properties"].items()}
        out = {k: v for k, v in out.items() if v is not None}
        if schema.get("default"):
            return {**out, **schema["default"]}
        return out
    return schema.get("default")


def test_crd_defaults_equal_renderer_defaults() -> None:
    crd = yaml.safe_load((ROOT / "crds" / "processmonitor.yaml").read_text())
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    from_crd = {k: d for k, v in spec_schema["properties"].items()
                if k != "processNames" and (d := _schema_defaults(v)) is not None}
    assert from_crd == spec.DEFAULTS


def test_crd_fixed_names() -> None:
    crd = yaml.safe_load((ROOT / "crds" / "processmonitor.yaml").read_text())
    assert crd["metadata"]["name"] == "processmonitors.monitoring.process-monitor.dev"
    assert crd["spec"]["names"]["shortNames"] == ["pmon"] and crd["spec"]["scope"] == "Namespaced"
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    entry = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["processNames"]["items"]
    # process-exporter's entry shape, so its configs paste in unchanged, plus our one matcher `gpu` (a superset).
    assert set(entry["properties"]) == {"name", "comm", "exe", "cmdline", "gpu"}


def _descriptions_missing(schema: dict[str, Any], path: str) -> list[str]:
    missing = []
    for key, sub in (schema.get("properties") or {}).items():
        where = f"{path}.{key}"
        if key != "metadata" and "description" not in sub:
            missing.append(where)
        missing += _descriptions_missing(sub, where)
        if "items" in sub:
            missing += _descriptions_missing(sub["items"], where + "[]")
    return missing


def test_every_crd_field_has_a_description() -> None:
    crd = yaml.safe_load((ROOT / "crds" / "processmonitor.yaml").read_text())
    assert _descriptions_missing(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], "") == []


@pytest.mark.parametrize(("template", "kubernetes", "ok"), [
    ("{{.Namespace}}/{{.Pod}}/{{.Comm}}", {}, False),
    ("{{.Container}}", {"enabled": False}, False),
    ("{{.Namespace}}/{{.Pod}}/{{.Comm}}", {"enabled": True}, True),
    ("{{.Pod}}", {"labels": True}, True),  # labels imply the mounts
    ("{{.PodUID}}:{{.ContainerID}}", {}, True),  # from /proc alone
    ("{{.Pod.Name}}", {"enabled": True}, False),  # no sub-fields
])
def test_kubernetes_template_fields(template: str, kubernetes: dict[str, Any], ok: bool) -> None:
    src = spec.load({"metadata": {"name": "t"},
                     "spec": {"processNames": [{"name": template, "comm": ["a"]}], "kubernetes": kubernetes}})
    problems = validate(src)
    assert (problems == []) is ok, problems
    if not ok and "Pod.Name" not in template:
        assert "spec.kubernetes.enabled" in problems[0] and problems[0].startswith("processNames[0]")
