"""Pages read ahead in threads (sync/ahead.py): reading overlaps the caller's work, never runs more than a few
pages ahead, hands over every page read, surfaces a reader's error, and leaves no thread behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bridge.clients.http import RateLimited, calls_end_by, seconds_left
from bridge.sync.ahead import ReadAhead


def slow(n: int, seconds: float, log: list[tuple[str, int, float]] | None = None) -> Iterator[int]:
    for i in range(n):
        if log is not None:
            log.append(("start", i, time.monotonic()))
        time.sleep(seconds)
        yield i


def readers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("read-ahead")]


def test_pages_are_read_while_the_caller_works_on_the_last_one() -> None:
    with ReadAhead() as ahead:
        ahead.start("a", slow(6, 0.05), 2)
        started = time.monotonic()
        taken = []
        while (got := ahead.take(["a"])) is not None:
            taken.append(got[1])
            time.sleep(0.05)  # the caller's own work on the page
    assert taken == list(range(6))
    # one after the other it would take 0.6 s: reading and working overlap
    assert time.monotonic() - started < 0.48


def test_two_series_are_read_side_by_side() -> None:
    with ReadAhead() as ahead:
        ahead.start("a", slow(5, 0.05), 5)
        ahead.start("b", slow(5, 0.05), 5)
        started = time.monotonic()
        taken: dict[str, list[int]] = {"a": [], "b": []}
        while (got := ahead.take(["a", "b"])) is not None:
            taken[got[0]].append(got[1])
    assert taken == {"a": list(range(5)), "b": list(range(5))}
    assert time.monotonic() - started < 0.45  # 0.25 s each, side by side (0.5 s one after the other)


def test_a_reader_runs_no_more_than_its_pages_ahead() -> None:
    log: list[tuple[str, int, float]] = []
    with ReadAhead() as ahead:
        ahead.start("a", slow(10, 0.001, log), 3)
        time.sleep(0.2)
        assert len(log) == 3  # three waiting to be taken; the fourth not begun
        assert ahead.take(["a"]) == ("a", 0)
        time.sleep(0.1)
        assert len(log) == 4


def test_a_series_not_asked_for_is_left_waiting() -> None:
    with ReadAhead() as ahead:
        ahead.start("a", slow(3, 0.0), 3)
        ahead.start("b", slow(3, 0.0), 3)
        time.sleep(0.1)
        assert [ahead.take(["b"]) for _ in range(3)] == [("b", 0), ("b", 1), ("b", 2)]
        assert ahead.take(["b"]) is None  # b is over; a's pages are still there
        assert ahead.take(["a"]) == ("a", 0)


def test_take_without_waiting_says_when_nothing_is_ready() -> None:
    with ReadAhead() as ahead:
        ahead.start("a", slow(1, 0.2), 1)
        assert ahead.take(["a"], wait=False) is None
        assert ahead.take(["a"]) == ("a", 0)


def test_a_reader_s_error_surfaces_in_the_caller_after_the_pages_read_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise RateLimited(3.0)

    with ReadAhead() as ahead:
        ahead.start("a", failing(), 5)
        assert ahead.take(["a"]) == ("a", 1)
        assert ahead.take(["a"]) == ("a", 2)
        with pytest.raises(RateLimited) as caught:
            ahead.take(["a"])
    assert caught.value.seconds == 3.0
    assert readers_alive() == []


def test_stop_lets_the_page_being_read_finish_reads_no_more_and_hands_over_every_page_read() -> None:
    log: list[tuple[str, int, float]] = []
    with ReadAhead() as ahead:
        ahead.start("a", slow(100, 0.1, log), 2)
        time.sleep(0.15)  # page 0 read, page 1 being read
        ahead.stop()
        taken = []
        while (got := ahead.take(["a"])) is not None:
            taken.append(got[1])
    begun = [i for what, i, _ in log if what == "start"]
    assert taken == begun and 1 <= len(taken) <= 3  # every page begun is handed over, none after the stop
    assert readers_alive() == []


def test_leaving_on_an_error_joins_every_reader() -> None:
    with pytest.raises(ValueError), ReadAhead() as ahead:
        ahead.start("a", slow(1_000, 0.01), 2)
        ahead.start("b", slow(1_000, 0.01), 2)
        ahead.take(["a"])
        raise ValueError("the caller failed")
    assert readers_alive() == []


def test_a_reader_keeps_the_invocation_s_deadline() -> None:
    seen: list[float | None] = []

    def pages() -> Iterator[int]:
        seen.append(seconds_left())
        yield 0

    with calls_end_by(time.monotonic() + 100), ReadAhead() as ahead:
        ahead.start("a", pages(), 1)
        ahead.take(["a"])
    assert seen[0] is not None and 99 < seen[0] <= 100
