"""Unit tests of harness.wait and harness.supervise (real short-lived processes; no doubles)."""

from __future__ import annotations

import pathlib
import signal
import sys

import pytest
from harness.supervise import ProcessExited, Supervised
from harness.wait import WaitTimeout, wait_for


def test_wait_for_returns_the_first_truthy_value() -> None:
    values = iter([0, "", None, "ready"])
    assert wait_for("a value", lambda: next(values), 5.0, 0.001) == "ready"


def test_wait_for_names_what_and_the_last_value_on_timeout() -> None:
    with pytest.raises(WaitTimeout, match=r"waiting for ready pods \(last: \[\]\)\nlog end"):
        wait_for("ready pods", lambda: [], 0.05, 0.01, details=lambda: "log end")
    with pytest.raises(WaitTimeout, match=r"after 0.05s waiting for a count \(last: 0\)"):
        wait_for("a count", lambda: 0, 0.05, 0.01)


def test_wait_for_tolerates_only_the_errors_it_is_given() -> None:
    def refuse() -> bool:
        raise ConnectionRefusedError("refused")

    with pytest.raises(WaitTimeout, match="ConnectionRefusedError"):
        wait_for("a server", refuse, 0.05, 0.01, errors=(OSError,))
    with pytest.raises(ConnectionRefusedError):
        wait_for("a server", refuse, 5.0, 0.01)


def test_supervised_stop_kills_what_ignores_sigterm(tmp_path: pathlib.Path) -> None:
    code = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
            "time.sleep(60)")
    with Supervised("stubborn", [sys.executable, "-c", code], tmp_path / "stubborn.log", grace=0.5) as proc:
        proc.wait_ready("its first line", lambda: "up" in proc.log_tail(), 10.0, 0.01)
        assert proc.stop() == -signal.SIGKILL
    assert not proc.running()


def test_supervised_stop_ends_a_polite_process_with_sigterm(tmp_path: pathlib.Path) -> None:
    with Supervised("sleep", ["sleep", "60"], tmp_path / "sleep.log") as proc:
        assert proc.running()
    assert proc.popen.returncode == -signal.SIGTERM


def test_wait_ready_fails_at_once_with_the_log_when_the_process_exits(tmp_path: pathlib.Path) -> None:
    code = "import sys; print('bad flag -x'); sys.exit(3)"
    with Supervised("failing", [sys.executable, "-c", code], tmp_path / "failing.log") as proc, \
            pytest.raises(ProcessExited, match=r"failing exited with 3 .*\n.*bad flag -x"):
        proc.wait_ready("readiness", lambda: False, 30.0, 0.01)
