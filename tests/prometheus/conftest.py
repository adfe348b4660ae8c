"""Fixtures for the Prometheus layer: Debian's promtool/prometheus binaries (installed by tools/setup.sh)."""

from __future__ import annotations

import shutil

import pytest


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not found: install Debian's `prometheus` package (tools/setup.sh does)")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _binary("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return _binary("prometheus")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Until tests/conftest.py registers the local control plane plugin, skip (rather than error on) cluster tests.
    if config.pluginmanager.hasplugin("localcluster.pytest_plugin"):
        return
    skip = pytest.mark.skip(reason="localcluster.pytest_plugin is not registered (no local control plane fixtures)")
    for item in items:
        if "kube_cluster" in getattr(item, "fixturenames", ()) and "tests/prometheus/" in item.nodeid:
            item.add_marker(skip)
