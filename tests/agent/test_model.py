"""model.Counts: the one counter set of processes, threads and groups (add into an accumulator, growth since the
last raw values, never negative)."""

from __future__ import annotations

from process_monitor_agent.model import ZERO, Counts

FIELDS = ("utime", "stime", "min", "maj", "rb", "wb", "vcs", "nvcs")


def values(c: Counts) -> tuple[int, ...]:
    return tuple(getattr(c, k) for k in FIELDS)


def test_since_is_growth_per_counter_and_never_negative() -> None:
    old = Counts(10, 20, 30, 40, 50, 60, 70, 80)
    new = Counts(15, 20, 29, 41, 150, 60, 69, 81)  # stime equal, min and vcs went down (a reused identity)
    assert values(new.since(old)) == (5, 0, 0, 1, 100, 0, 0, 1)
    assert values(old) == (10, 20, 30, 40, 50, 60, 70, 80)  # neither side is changed
    assert values(new.since(ZERO)) == values(new)  # a whole life


def test_add_accumulates_every_counter() -> None:
    acc = Counts()
    acc.add(Counts(1, 2, 3, 4, 5, 6, 7, 8))
    acc.add(Counts(10, 20, 30, 40, 50, 60, 70, 80))
    assert values(acc) == (11, 22, 33, 44, 55, 66, 77, 88)
    assert values(ZERO) == (0,) * 8
    assert set(Counts.__slots__) == set(FIELDS)  # the counter set is these eight, nothing else
