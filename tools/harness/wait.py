"""Waiting for a condition with a deadline: the one poller used by tests, benches and the quick start.

`wait_for(what, check, timeout)` calls `check` until it returns something truthy and returns that; after
`timeout` seconds it raises WaitTimeout naming `what` and the last value (or the last tolerated error) `check`
gave. The polling loop itself is localcluster.procs.wait (the control plane's supervisor), so there is one loop
in the tree; this module adds the returned value, the last value in the message and tolerated errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from localcluster import procs

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """A wait ran past its deadline; the message says what was awaited and what was last seen."""


def wait_for(what: str, check: Callable[[], T], timeout: float, interval: float = 0.2, *,
             errors: tuple[type[BaseException], ...] = (), details: Callable[[], str] | None = None) -> T:
    """Poll `check` every `interval` s until it returns a truthy value (returned); raise WaitTimeout after
    `timeout` s.

    `errors`: exception types that mean "not yet" (e.g. OSError while a server is still starting); the last one
    is named in the timeout message. Any other exception propagates at once. `details`, if given, is called on
    timeout and its text appended (e.g. the end of a log).
    """
    last: list[Any] = [None]

    def probe() -> bool:
        try:
            last[0] = check()
        except errors as exc:
            last[0] = exc
            return False
        return bool(last[0])

    try:
        procs.wait(what, probe, timeout, interval=interval)
    except procs.SupervisionError:
        extra = details() if details is not None else ""
        raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what} (last: {last[0]!r})"
                          + (f"\n{extra}" if extra else "")) from None
    return last[0]  # type: ignore[no-any-return]
