"""The state directory of one local cluster: its layout, the lock that serialises `up`/`down`, state.json.

Called by localcluster.cluster (and nodes.ensure_nodes, which records node names). Layout:

    state.json   ports, server URL, node names, and each component's PID + kernel start time
    kubeconfig   admin kubeconfig (client cert in O=system:masters), certificates embedded
    pki/         CA, apiserver serving cert, admin client cert, ServiceAccount signing key
    logs/        one log per component (<name>.log)
    etcd/        etcd data (removed by `down`)
    bin/         symlinks to the pinned kubectl, helm, ... (for a user's PATH)
    helm/        helm's cache/config/data homes, so helm never touches ~/.config

state.json is replaced atomically (write a temporary file, rename), so a reader never sees half a file; an
unreadable one reads as "no cluster here".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import pathlib
import shutil
import time
from collections.abc import Iterator, Mapping
from typing import Any

from . import tools
from .errors import ClusterError


@contextlib.contextmanager
def locked(state_dir: pathlib.Path, timeout: float) -> Iterator[None]:
    """Exclusive lock on the state directory so two `up`s never start two clusters in it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / ".lock", "w") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ClusterError(f"another localcluster command holds {state_dir / '.lock'}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_state(state_dir: pathlib.Path) -> dict[str, Any] | None:
    """state.json of state_dir, or None when there is none (or it cannot be read)."""
    try:
        return json.loads((state_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None


def save_state(state_dir: pathlib.Path, state: Mapping[str, Any]) -> None:
    """Write state.json atomically."""
    tmp = state_dir / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(state_dir / "state.json")


def reset(state_dir: pathlib.Path) -> None:
    """Clear what a previous cluster left (etcd data, state.json, logs) before a fresh start; PKI is kept."""
    shutil.rmtree(state_dir / "etcd", ignore_errors=True)
    (state_dir / "state.json").unlink(missing_ok=True)
    shutil.rmtree(state_dir / "logs", ignore_errors=True)


def forget(state_dir: pathlib.Path) -> None:
    """After `down`: no state.json (nothing runs) and no etcd data."""
    (state_dir / "state.json").unlink(missing_ok=True)
    shutil.rmtree(state_dir / "etcd", ignore_errors=True)


def link_bins(bin_dir: pathlib.Path) -> None:
    """Symlink every built tool (kubectl, helm, ...) into bin_dir; tools not built are left out."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in tools.BINARY_NAMES:
        try:
            target = tools.binary(name)
        except tools.ToolNotBuiltError:
            continue
        link = bin_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
