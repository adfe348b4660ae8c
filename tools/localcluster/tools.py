"""Where the Go-built tools live: versions from tools/versions.env, binaries in the tools cache.

Used by the local cluster, the pytest fixtures and every test or bench that runs a Go-built tool, e.g.
`binary("kubectl")`, `binary("process-exporter")`, `binary("prometheus-operator")`. The binaries are built by
tools/build-go-tools.sh (`make setup` / `make tools`) into
`${PM_TOOLS_CACHE:-$HOME/.cache/process-monitor/tools}/<tool>-<version>/`; a directory counts only once the build
script has written its `.built` marker.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping

TOOLS_DIR = pathlib.Path(__file__).resolve().parent.parent
VERSIONS_FILE = TOOLS_DIR / "versions.env"

# binary name -> (tool directory name, versions.env key). Several binaries come from one build (kubernetes).
_BINARIES: dict[str, tuple[str, str]] = {
    "kube-apiserver": ("kubernetes", "KUBERNETES_VERSION"),
    "kube-controller-manager": ("kubernetes", "KUBERNETES_VERSION"),
    "kube-scheduler": ("kubernetes", "KUBERNETES_VERSION"),
    "kubectl": ("kubernetes", "KUBERNETES_VERSION"),
    "kubelet": ("kubelet", "KUBERNETES_VERSION"),
    "etcd": ("etcd", "ETCD_VERSION"),
    "kwok": ("kwok", "KWOK_VERSION"),
    "helm": ("helm", "HELM_VERSION"),
    "prometheus-operator": ("prometheus-operator", "PROMETHEUS_OPERATOR_VERSION"),
    "process-exporter": ("process-exporter", "PROCESS_EXPORTER_VERSION"),
    "promtool": ("promtool", "PROMETHEUS_VERSION"),
    # Not Go: checkov from PyPI in a venv of its own (tools/install-checkov.sh), cached in the same layout.
    "checkov": ("checkov", "CHECKOV_VERSION"),
}
BINARY_NAMES: tuple[str, ...] = tuple(_BINARIES)


class ToolNotBuiltError(FileNotFoundError):
    """A Go-built tool is missing from the cache; the message says how to build it."""


def parse_versions(text: str) -> dict[str, str]:
    """KEY=VALUE lines (comments and blanks ignored, optional quotes stripped) -> dict."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip().strip("'\"")
    return out


def versions(path: pathlib.Path = VERSIONS_FILE) -> dict[str, str]:
    """The pinned versions, e.g. {"KUBERNETES_VERSION": "v1.36.3", ...}."""
    return parse_versions(path.read_text())


def cache_dir(env: Mapping[str, str] | None = None) -> pathlib.Path:
    """The tools cache root (PM_TOOLS_CACHE, else ~/.cache/process-monitor/tools)."""
    env = os.environ if env is None else env
    explicit = env.get("PM_TOOLS_CACHE")
    if explicit:
        return pathlib.Path(explicit).expanduser()
    return pathlib.Path.home() / ".cache" / "process-monitor" / "tools"


def version_of(name: str) -> str:
    """Pinned version of the tool that provides binary `name` (e.g. "kubectl" -> "v1.36.3")."""
    if name not in _BINARIES:
        raise KeyError(f"unknown Go-built tool {name!r}; known: {', '.join(BINARY_NAMES)}")
    return versions()[_BINARIES[name][1]]


def tool_dir(name: str, env: Mapping[str, str] | None = None) -> pathlib.Path:
    """Cache directory holding binary `name` at its pinned version (whether built or not)."""
    try:
        tool, key = _BINARIES[name]
    except KeyError:
        raise KeyError(f"unknown Go-built tool {name!r}; known: {', '.join(BINARY_NAMES)}") from None
    return cache_dir(env) / f"{tool}-{versions()[key]}"


def binary(name: str, env: Mapping[str, str] | None = None) -> pathlib.Path:
    """Absolute path of a Go-built binary at the pinned version; ToolNotBuiltError (clear message) if missing."""
    directory = tool_dir(name, env)
    path = directory / name
    if not (directory / ".built").is_file() or not os.access(path, os.X_OK):
        raise ToolNotBuiltError(
            f"{name} {version_of(name)} is not built (expected {path}). "
            "Run `make setup` (or `make tools` / tools/build-go-tools.sh) to build the Go tools; "
            "set PM_TOOLS_CACHE if you keep them elsewhere."
        )
    return path


def missing(names: tuple[str, ...] = BINARY_NAMES, env: Mapping[str, str] | None = None) -> list[str]:
    """Which of `names` are not built yet."""
    out = []
    for name in names:
        try:
            binary(name, env)
        except ToolNotBuiltError:
            out.append(name)
    return out


def kwok_stages_dir(env: Mapping[str, str] | None = None) -> pathlib.Path:
    """kwok's upstream Stage YAMLs (copied next to the kwok binary by the build script)."""
    return binary("kwok", env).parent / "stages"


def bin_dir(env: Mapping[str, str] | None = None) -> pathlib.Path:
    """Directory with symlinks to every pinned binary (for a user's PATH)."""
    return cache_dir(env) / "bin"
