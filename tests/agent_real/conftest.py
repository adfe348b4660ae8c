"""Fixtures for the real-/proc tests: which exporters can run here, a per-test-module process owner.

Modules running real processes are marked `realproc`; those comparing with process-exporter add `peer`.
An implementation that cannot run here (agent not landed, upstream not built) makes its tests skip with the reason,
never silently pass.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterator

import pytest
from harness import exporters, realprocs


@functools.cache
def _available() -> dict[str, exporters.Implementation | exporters.Unavailable]:
    return exporters.available()


def require(name: str) -> exporters.Implementation:
    """The implementation called `name`, or skip the test saying why it cannot run."""
    impl = _available()[name]
    if isinstance(impl, exporters.Unavailable):
        pytest.skip(str(impl))
    return impl


def unique_prefix() -> str:
    """A short token for comm names (kept under 15 bytes with a role suffix) so parallel runs never collide."""
    return "pm" + secrets.token_hex(2)


@pytest.fixture(scope="module")
def procset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[realprocs.ProcSet]:
    with realprocs.ProcSet(tmp_path_factory.mktemp("procs"), ttl=600) as ps:
        yield ps
