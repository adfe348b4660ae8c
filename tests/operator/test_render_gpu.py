"""spec.gpu in the renderer: off changes nothing, on adds only what the issue asks for, the label becomes a
nodeSelector or an affinity merged into the user's, the input is never modified, and validation refuses the gpu
matcher without spec.gpu.enabled (the agent would accept it and never match)."""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import yaml
from process_monitor_operator.k8s.serialize import to_yaml
from process_monitor_operator.render import RenderOptions, render_all
from process_monitor_operator.spec import load
from process_monitor_operator.validation import validate

HERE = pathlib.Path(__file__).parent


def _pm(**gpu: Any) -> dict[str, Any]:
    pm = {"kind": "ProcessMonitor", "metadata": {"name": "g", "namespace": "ml"},
          "spec": {"processNames": [{"name": "{{.Comm}}", "cmdline": [".+"]}]}}
    if gpu:
        pm["spec"]["gpu"] = gpu
    return pm


def _pod(pm: dict[str, Any]) -> dict[str, Any]:
    ds = next(m for m in render_all(pm, RenderOptions()) if m["kind"] == "DaemonSet")
    return ds["spec"]["template"]["spec"]


def test_disabled_gpu_renders_exactly_what_no_gpu_renders() -> None:
    assert to_yaml(render_all(_pm(), RenderOptions())) == to_yaml(render_all(_pm(enabled=False, nodeLabel="x",
                                                                                runtimeClassName="nvidia"),
                                                                            RenderOptions()))


def test_enabled_adds_flag_env_and_never_a_gpu_request() -> None:
    pod = _pod(_pm(enabled=True))
    (c,) = pod["containers"]
    assert c["args"][-1] == "--gpu.enabled=true"
    assert c["env"] == [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
                        {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "utility"}]
    assert "nvidia.com/gpu" not in yaml.safe_dump(c["resources"])
    assert "runtimeClassName" not in pod and "affinity" not in pod
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_label_with_value_is_a_node_selector_without_value_an_affinity() -> None:
    pod = _pod(_pm(enabled=True, nodeLabel="cloud.google.com/gke-accelerator", nodeLabelValue="nvidia-l4"))
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "cloud.google.com/gke-accelerator": "nvidia-l4"}
    pod = _pod(_pm(enabled=True, nodeLabel="nvidia.com/gpu.present"))
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "Exists"}]}]


def test_affinity_terms_each_get_the_label_and_the_input_is_untouched() -> None:
    pm = yaml.safe_load((HERE / "cases" / "gpu.yaml").read_text())
    pm["spec"]["agent"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"].append({"matchLabels": {}, "matchExpressions": [{"key": "a", "operator": "Exists"}]})
    before = copy.deepcopy(pm)
    first = to_yaml(render_all(pm, RenderOptions()))
    assert pm == before and to_yaml(render_all(pm, RenderOptions())) == first
    terms = _pod(pm)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    assert len(terms) == 2
    assert all({"key": "nvidia.com/gpu.present", "operator": "Exists"} in t["matchExpressions"] for t in terms)


def test_gpu_matcher_needs_spec_gpu_enabled() -> None:
    pm = _pm()
    pm["spec"]["processNames"] = [{"name": "a", "gpu": True}, {"name": "b{{.GPUs}}", "comm": ["x"]},
                                  {"name": "c", "comm": ["y"]}]
    problems = validate(load(pm))
    assert problems == ["processNames[0]: uses gpu or .GPUs, which need spec.gpu.enabled: true",
                        "processNames[1]: uses gpu or .GPUs, which need spec.gpu.enabled: true"]
    pm["spec"]["gpu"] = {"enabled": True}
    assert validate(load(pm)) == []
    pm["spec"]["processNames"] = [{"name": "a", "gpu": "yes"}]
    assert validate(load(pm)) == ["processNames[0]: gpu must be true or false"]
